"""SQLite implementation of :class:`retrieval.store.base.Store`.

WAL mode (readers never block the writer), an explicit versioned schema (the ``mail`` component's
:data:`~retrieval.store.migrations.MIGRATIONS`, applied by
:func:`~retrieval.store.migrations.apply_migrations` like every other component's), FTS5 over
subject + new text, rows read by column name. Each ingest batch is one transaction, which is
what makes ``kill -9`` safe: a batch is either fully stored or absent, and a re-run skips what is
there by (user, stable id) and (user, source, locator).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import StoreError
from core.types import Address, Attachment, Message, Thread
from retrieval.sources.mail.threading import ThreadInput, thread, thread_id_for
from retrieval.store.base import (
    INBOX,
    BatchResult,
    FolderCount,
    ListedMessage,
    QuarantineItem,
    StoredItem,
    TextHit,
    UserStats,
    check_user,
)
from retrieval.store.migrations import MAIL, MIGRATIONS, apply_migrations, schema_version

_MESSAGE_COLUMNS = (
    "user_id, id, message_id, message_id_synthetic, thread_id, source_id, locator, folder, "
    "subject, normalized_subject, subject_is_reply, from_name, from_email, to_json, cc_json, "
    "bcc_json, reply_to_json, date_ts, date_flag, in_reply_to, references_json, body_text, "
    "body_from_html, new_text, headers_json, size, content_hash, defects_json, has_attachments, "
    "ingested_at"
)
_SELECT_MESSAGE = (
    "SELECT m.rowid, m.id, m.message_id, m.message_id_synthetic, m.thread_id, m.folder, m.subject, "
    "m.normalized_subject, m.subject_is_reply, m.from_name, m.from_email, m.to_json, m.cc_json, "
    "m.bcc_json, m.reply_to_json, m.date_ts, m.date_flag, m.in_reply_to, m.references_json, "
    "m.body_text, m.body_from_html, m.new_text, m.headers_json, m.size, m.content_hash, "
    "m.defects_json FROM messages m"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _addrs_json(addrs: list[Address]) -> str:
    return json.dumps([[a.name, a.email] for a in addrs], ensure_ascii=False)


def _addrs(raw: str | None) -> list[Address]:
    return [Address(name=n, email=e) for n, e in json.loads(raw or "[]")]


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


#: Inserts of a message's address and attachment rows (``message_rowid`` ties them to it).
INSERT_ADDRESS = (
    "INSERT INTO message_addresses(user_id, message_rowid, kind, email, name) VALUES (?,?,?,?,?)"
)
INSERT_ATTACHMENT = (
    "INSERT INTO attachments(user_id, message_rowid, filename, content_type, size, content_id, "
    "disposition) VALUES (?,?,?,?,?,?,?)"
)


def _message_values(user: str, source_id: int, it: StoredItem, now: str) -> tuple[Any, ...]:
    """The ``messages`` row of a new message, in :data:`_MESSAGE_COLUMNS` order."""
    m = it.message
    # Provisional thread: the root the References point at; rethread() settles it.
    root = m.references[0] if m.references else (m.in_reply_to or m.message_id)
    return (
        user, m.id, m.message_id, int(m.message_id_synthetic),
        m.thread_id or thread_id_for(root), source_id, it.locator, m.folder,
        m.subject, m.normalized_subject, int(m.subject_is_reply),
        m.sender.name if m.sender else None, m.sender.email if m.sender else None,
        _addrs_json(m.to), _addrs_json(m.cc), _addrs_json(m.bcc), _addrs_json(m.reply_to),
        _ts(m.date), m.date_flag, m.in_reply_to, json.dumps(m.references),
        m.body_text, int(m.body_from_html), m.new_text,
        json.dumps(m.headers, ensure_ascii=False), m.size, m.content_hash,
        json.dumps(m.defects), int(bool(m.attachments)), now,
    )  # fmt: skip


def _child_rows(
    user: str, rowid: int, m: Message
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The ``message_addresses`` and ``attachments`` rows of the message stored as ``rowid``."""
    addr_rows: list[tuple[Any, ...]] = []
    if m.sender:
        addr_rows.append((user, rowid, "from", m.sender.email, m.sender.name))
    for kind, addrs in (("to", m.to), ("cc", m.cc), ("bcc", m.bcc)):
        addr_rows.extend((user, rowid, kind, a.email, a.name) for a in addrs)
    attachment_rows = [
        (user, rowid, a.filename, a.content_type, a.size, a.content_id, a.disposition)
        for a in m.attachments
    ]
    return addr_rows, attachment_rows


def _is_unread(locators: Sequence[str], headers: dict[str, str]) -> bool:
    """Whether the mail client that wrote the source left the message unread.

    Maildir says it in the file's place and name (``new/``, or ``cur/...:2,FLAGS`` without
    ``S``), mbox in the ``Status`` header (``R`` once read). A message seen anywhere is read,
    and one without any such mark (a lone ``.eml``) counts as read: nothing says otherwise.
    """
    unread = False
    for locator in locators:
        parts = locator.replace("\\", "/").split("/")
        name = parts[-1]
        if ":2," in name:
            if "S" in name.rsplit(":2,", 1)[1]:
                return False
            unread = True
        elif len(parts) > 1 and parts[-2] == "new":
            unread = True
    status = next((v for k, v in headers.items() if k.lower() == "status"), None)
    if status is not None:
        if "R" in status:
            return False
        unread = True
    return unread


def _folder_clause(folder: str) -> tuple[str, list[Any]]:
    # Messages without a folder are listed under INBOX (and so found by it).
    if folder == INBOX:
        return "(m.folder IS NULL OR m.folder=?)", [INBOX]
    return "m.folder=?", [folder]


def _fts_query(query: str) -> str:
    """Free text to a safe FTS5 query: quoted terms OR-ed (bm25 ranks fuller matches higher)."""
    terms = [t for t in "".join(c if c.isalnum() else " " for c in query).split() if t]
    return " OR ".join(f'"{t}"' for t in terms[:32])


class SQLiteStore:
    """SQLite-backed mail store. One connection per thread; writes are serialised by SQLite."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._attachments: dict[int, list[Attachment]] = {}

    # -- connection management -------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened lazily: constructing a store does no I/O)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against process crashes (kill -9) in WAL mode; only an OS crash
            # can lose the last transactions, never corrupt the database.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _tx(self) -> _Transaction:
        return _Transaction(self.conn)

    # -- schema -----------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply pending mail migrations (see :mod:`retrieval.store.migrations`)."""
        return apply_migrations(self.conn, MAIL, MIGRATIONS)

    def schema_version(self) -> int:
        """Mail schema version currently in the database (0 when empty)."""
        return schema_version(self.conn, MAIL)

    # -- users, sources, runs -----------------------------------------------------------------

    def ensure_user(self, user: str) -> None:
        """Create the user row if missing."""
        check_user(user)
        self.conn.execute(
            "INSERT OR IGNORE INTO users(id, created_at) VALUES (?, ?)", (user, _now())
        )

    def users(self) -> list[str]:
        """All user ids."""
        return [r["id"] for r in self.conn.execute("SELECT id FROM users ORDER BY id")]

    def ensure_source(self, user: str, uri: str, fmt: str) -> int:
        """Register (or find) a source."""
        check_user(user)
        self.ensure_user(user)
        conn = self.conn
        conn.execute(
            "INSERT OR IGNORE INTO sources(user_id, uri, format, created_at) VALUES (?,?,?,?)",
            (user, uri, fmt, _now()),
        )
        row = conn.execute(
            "SELECT id FROM sources WHERE user_id=? AND uri=?", (user, uri)
        ).fetchone()
        return int(row["id"])

    def known_locators(self, user: str, source_id: int) -> set[str]:
        """Locators already stored or quarantined for this source."""
        check_user(user)
        conn = self.conn
        known = {
            r["locator"]
            for r in conn.execute(
                "SELECT locator FROM message_locations WHERE user_id=? AND source_id=?",
                (user, source_id),
            )
        }
        known.update(
            r["locator"]
            for r in conn.execute(
                "SELECT locator FROM quarantine WHERE user_id=? AND source_id=?",
                (user, source_id),
            )
        )
        return known

    def start_run(self, user: str, source_id: int) -> int:
        """Record a run start; runs left 'running' by a killed process become 'interrupted'."""
        check_user(user)
        with self._tx() as c:
            c.execute(
                "UPDATE ingest_runs SET status='interrupted' WHERE user_id=? AND source_id=? "
                "AND status='running'",
                (user, source_id),
            )
            cur = c.execute(
                "INSERT INTO ingest_runs(user_id, source_id, started_at, status) "
                "VALUES (?,?,?, 'running')",
                (user, source_id, _now()),
            )
        return int(cur.lastrowid or 0)

    def finish_run(self, user: str, run_id: int, status: str, counts: dict[str, int]) -> None:
        """Record a run's end and counts."""
        check_user(user)
        self.conn.execute(
            "UPDATE ingest_runs SET finished_at=?, status=?, counts_json=? "
            "WHERE id=? AND user_id=?",
            (_now(), status, json.dumps(counts), run_id, user),
        )

    # -- writes -------------------------------------------------------------------------------

    def add_batch(
        self,
        user: str,
        source_id: int,
        items: Sequence[StoredItem],
        quarantine: Sequence[QuarantineItem],
    ) -> BatchResult:
        """Store messages with locations, addresses, attachments and quarantine rows, atomically."""
        check_user(user)
        result = BatchResult()
        now = _now()
        with self._tx() as c:
            ids = [it.message.id for it in items]
            existing: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                existing.update(
                    r["id"]
                    for r in c.execute(
                        f"SELECT id FROM messages WHERE user_id=? AND id IN ({marks})",
                        (user, *chunk),
                    )
                )
            new: list[StoredItem] = []
            for it in items:
                m = it.message
                if m.id in existing:
                    result.duplicates += 1
                else:
                    existing.add(m.id)
                    new.append(it)
                    result.added += 1
                    result.added_ids.append(m.id)
            self._insert_messages(c, user, source_id, new, now)
            c.executemany(
                "INSERT OR IGNORE INTO message_locations(user_id, message_id, source_id, "
                "locator, folder) VALUES (?,?,?,?,?)",
                [(user, it.message.id, source_id, it.locator, it.message.folder) for it in items],
            )
            for q in quarantine:
                cur = c.execute(
                    "INSERT OR IGNORE INTO quarantine(user_id, source_id, locator, reason, "
                    "raw_path, content_hash, size, truncated, created_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        user, source_id, q.locator, q.reason, q.raw_path, q.content_hash,
                        q.size, int(q.truncated), now,
                    ),
                )  # fmt: skip
                result.quarantined += cur.rowcount
        return result

    def _insert_messages(
        self,
        c: sqlite3.Connection,
        user: str,
        source_id: int,
        items: Sequence[StoredItem],
        now: str,
    ) -> None:
        """Insert new messages with their address and attachment rows (inside the batch's
        transaction); the Postgres store inserts the whole batch in a few round trips."""
        for it in items:
            values = _message_values(user, source_id, it, now)
            cur = c.execute(
                f"INSERT INTO messages({_MESSAGE_COLUMNS}) VALUES ({','.join('?' * len(values))})",
                values,
            )
            assert cur.lastrowid is not None
            addr_rows, attachment_rows = _child_rows(user, cur.lastrowid, it.message)
            if addr_rows:
                c.executemany(INSERT_ADDRESS, addr_rows)
            if attachment_rows:
                c.executemany(INSERT_ATTACHMENT, attachment_rows)

    def rethread(self, user: str) -> int:
        """Re-run JWZ threading over all of ``user``'s messages and rewrite the thread table."""
        check_user(user)
        conn = self.conn
        rows = conn.execute(
            "SELECT id, message_id, references_json, in_reply_to, normalized_subject, "
            "subject_is_reply, date_ts, thread_id FROM messages WHERE user_id=?",
            (user,),
        ).fetchall()
        inputs = [
            ThreadInput(
                message_id=r["message_id"],
                references=tuple(json.loads(r["references_json"] or "[]")),
                in_reply_to=r["in_reply_to"],
                normalized_subject=r["normalized_subject"] or "",
                subject_is_reply=bool(r["subject_is_reply"]),
                date=_dt(r["date_ts"]),
            )
            for r in rows
        ]
        mapping = thread(inputs)
        changes = [
            (mapping[r["message_id"]], user, r["id"])
            for r in rows
            if mapping[r["message_id"]] != r["thread_id"]
        ]
        with self._tx() as c:
            c.executemany("UPDATE messages SET thread_id=? WHERE user_id=? AND id=?", changes)
            c.execute("DELETE FROM threads WHERE user_id=?", (user,))
            c.execute(
                """
                INSERT INTO threads(user_id, id, subject, message_count, first_ts, last_ts)
                SELECT m.user_id, m.thread_id,
                       (SELECT m2.subject FROM messages m2
                         WHERE m2.user_id = m.user_id AND m2.thread_id = m.thread_id
                         ORDER BY m2.date_ts IS NULL, m2.date_ts, m2.id LIMIT 1),
                       COUNT(*), MIN(m.date_ts), MAX(m.date_ts)
                FROM messages m WHERE m.user_id=? GROUP BY m.user_id, m.thread_id
                """,
                (user,),
            )
            row = c.execute("SELECT COUNT(*) AS n FROM threads WHERE user_id=?", (user,)).fetchone()
        return int(row["n"])

    def remove_locations(self, user: str, source_uri: str, locators: Sequence[str]) -> list[str]:
        """Forget where messages were (e.g. expunged on an IMAP server).

        A message is deleted once no location of it remains in any source; returns the ids of
        the deleted messages.
        """
        check_user(user)
        row = self.conn.execute(
            "SELECT id FROM sources WHERE user_id=? AND uri=?", (user, source_uri)
        ).fetchone()
        if row is None or not locators:
            return []
        source_id = row["id"]
        orphans: list[str] = []
        with self._tx() as c:
            for loc in locators:
                hit = c.execute(
                    "SELECT message_id FROM message_locations WHERE user_id=? AND source_id=? "
                    "AND locator=?",
                    (user, source_id, loc),
                ).fetchone()
                if hit is None:
                    continue
                c.execute(
                    "DELETE FROM message_locations WHERE user_id=? AND source_id=? AND locator=?",
                    (user, source_id, loc),
                )
                left = c.execute(
                    "SELECT 1 FROM message_locations WHERE user_id=? AND message_id=? LIMIT 1",
                    (user, hit["message_id"]),
                ).fetchone()
                if left is None:
                    orphans.append(hit["message_id"])
            # Same transaction: a crash cannot leave a message without any location.
            self._delete(c, user, orphans)
        return orphans

    def delete_messages(self, user: str, message_ids: Sequence[str]) -> int:
        """Delete messages and everything hanging off them."""
        check_user(user)
        with self._tx() as c:
            return self._delete(c, user, message_ids)

    def _delete(self, c: sqlite3.Connection, user: str, message_ids: Sequence[str]) -> int:
        removed = 0
        for mid in message_ids:
            row = c.execute(
                "SELECT rowid FROM messages WHERE user_id=? AND id=?", (user, mid)
            ).fetchone()
            if row is None:
                continue
            for sql in (
                "DELETE FROM message_addresses WHERE user_id=? AND message_rowid=?",
                "DELETE FROM attachments WHERE user_id=? AND message_rowid=?",
            ):
                c.execute(sql, (user, row["rowid"]))
            c.execute("DELETE FROM message_locations WHERE user_id=? AND message_id=?", (user, mid))
            c.execute("DELETE FROM messages WHERE user_id=? AND id=?", (user, mid))
            # Deletions are logged so the vector index can propagate them incrementally.
            c.execute(
                "INSERT INTO deletions(user_id, message_id, deleted_at) VALUES (?,?,?)",
                (user, mid, _now()),
            )
            removed += 1
        return removed

    #: Every mail table with a ``user_id`` column, children before parents (foreign keys).
    USER_TABLES = (
        "message_addresses", "attachments", "message_locations", "threads", "quarantine",
        "ingest_runs", "deletions", "messages", "sources", "users",
    )  # fmt: skip

    def delete_user(self, user: str) -> dict[str, int]:
        """Delete every mail row of ``user`` (FTS entries go with their messages through the
        delete trigger) and the user's raw quarantine copies that no other user refers to.

        Returns the rows removed per table plus ``quarantine_files``.
        """
        check_user(user)
        counts: dict[str, int] = {}
        with self._tx() as c:
            paths = {
                r["raw_path"]
                for r in c.execute(
                    "SELECT raw_path FROM quarantine WHERE user_id=? AND raw_path IS NOT NULL "
                    "AND raw_path NOT IN (SELECT raw_path FROM quarantine WHERE user_id<>? "
                    "AND raw_path IS NOT NULL)",
                    (user, user),
                )
            }
            for table in self.USER_TABLES:
                column = "id" if table == "users" else "user_id"
                cur = c.execute(f"DELETE FROM {table} WHERE {column}=?", (user,))
                counts[table] = cur.rowcount
        # Files after the commit: a crash in between leaves an orphan file, never a row
        # pointing at nothing. Copies made before per-user folders were shared by content
        # hash, hence the check above that no other user's row names the same file.
        removed = 0
        for raw in sorted(paths):
            try:
                Path(raw).unlink()
                removed += 1
            except FileNotFoundError:
                pass
        counts["quarantine_files"] = removed
        return counts

    # -- reads ----------------------------------------------------------------------------------

    def _row_to_message(self, r: sqlite3.Row, user: str) -> Message:
        rowid = r["rowid"]
        attachments = [
            Attachment(filename=a["filename"], content_type=a["content_type"], size=a["size"],
                       content_id=a["content_id"], disposition=a["disposition"])
            for a in self.conn.execute(
                "SELECT filename, content_type, size, content_id, disposition FROM attachments "
                "WHERE user_id=? AND message_rowid=? ORDER BY id", (user, rowid),
            )
        ]  # fmt: skip
        sender = (
            Address(name=r["from_name"] or "", email=r["from_email"]) if r["from_email"] else None
        )
        return Message(
            id=r["id"], message_id=r["message_id"],
            message_id_synthetic=bool(r["message_id_synthetic"]), thread_id=r["thread_id"],
            folder=r["folder"], subject=r["subject"] or "",
            normalized_subject=r["normalized_subject"] or "",
            subject_is_reply=bool(r["subject_is_reply"]), sender=sender,
            to=_addrs(r["to_json"]), cc=_addrs(r["cc_json"]), bcc=_addrs(r["bcc_json"]),
            reply_to=_addrs(r["reply_to_json"]), date=_dt(r["date_ts"]), date_flag=r["date_flag"],
            in_reply_to=r["in_reply_to"], references=json.loads(r["references_json"] or "[]"),
            body_text=r["body_text"] or "", body_from_html=bool(r["body_from_html"]),
            new_text=r["new_text"] or "", headers=json.loads(r["headers_json"] or "{}"),
            size=r["size"], content_hash=r["content_hash"],
            defects=json.loads(r["defects_json"] or "[]"), attachments=attachments,
        )  # fmt: skip

    def get_message(self, user: str, message_id: str) -> Message | None:
        """One message of ``user`` by stable id."""
        check_user(user)
        r = self.conn.execute(
            f"{_SELECT_MESSAGE} WHERE m.user_id=? AND m.id=?", (user, message_id)
        ).fetchone()
        return self._row_to_message(r, user) if r else None

    def get_messages(self, user: str, message_ids: Sequence[str]) -> list[Message]:
        """Messages by id, in the order given."""
        found = [self.get_message(user, mid) for mid in message_ids]
        return [m for m in found if m is not None]

    def get_thread(self, user: str, thread_id: str) -> tuple[Thread, list[Message]] | None:
        """A thread with its messages, oldest first."""
        check_user(user)
        t = self.conn.execute(
            "SELECT id, subject, first_ts, last_ts FROM threads WHERE user_id=? AND id=?",
            (user, thread_id),
        ).fetchone()
        if t is None:
            return None
        rows = self.conn.execute(
            f"{_SELECT_MESSAGE} WHERE m.user_id=? AND m.thread_id=? "
            "ORDER BY m.date_ts IS NULL, m.date_ts, m.id",
            (user, thread_id),
        ).fetchall()
        messages = [self._row_to_message(r, user) for r in rows]
        thread_obj = Thread(
            id=t["id"], subject=t["subject"] or "", message_ids=[m.id for m in messages],
            first_date=_dt(t["first_ts"]), last_date=_dt(t["last_ts"]),
        )  # fmt: skip
        return thread_obj, messages

    def list_messages(
        self,
        user: str,
        *,
        sender: str | None = None,
        recipient: str | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        folder: str | None = None,
        thread_id: str | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """Messages matching all filters, newest first."""
        check_user(user)
        where = ["m.user_id=?"]
        args: list[Any] = [user]
        if sender:
            # Exact address, or a part of the address or display name ("ann", "acme.example").
            where.append("(m.from_email=? OR m.from_email LIKE ? OR m.from_name LIKE ?)")
            args += [sender.lower(), f"%{sender.lower()}%", f"%{sender}%"]
        if recipient:
            where.append(
                "m.rowid IN (SELECT message_rowid FROM message_addresses WHERE user_id=? "
                "AND kind IN ('to','cc','bcc') AND (email=? OR email LIKE ? OR name LIKE ?))"
            )
            args += [user, recipient.lower(), f"%{recipient.lower()}%", f"%{recipient}%"]
        if after:
            where.append("m.date_ts >= ?")
            args.append(after.timestamp())
        if before:
            where.append("m.date_ts < ?")
            args.append(before.timestamp())
        if folder:
            where.append("m.folder=?")
            args.append(folder)
        if thread_id:
            where.append("m.thread_id=?")
            args.append(thread_id)
        sql = (
            f"{_SELECT_MESSAGE} WHERE {' AND '.join(where)} "
            "ORDER BY m.date_ts IS NULL, m.date_ts DESC LIMIT ?"
        )
        rows = self.conn.execute(sql, (*args, max(1, min(limit, 1000)))).fetchall()
        return [self._row_to_message(r, user) for r in rows]

    def _locators(self, user: str, message_id: str, own: str | None) -> list[str]:
        rows = self.conn.execute(
            "SELECT locator FROM message_locations WHERE user_id=? AND message_id=?",
            (user, message_id),
        )
        return [r["locator"] for r in rows] + ([own] if own else [])

    def folders(self, user: str) -> list[FolderCount]:
        """``user``'s folders (messages without one under :data:`INBOX`), by name, with their
        message and unread counts."""
        check_user(user)
        counts: dict[str, list[Any]] = {}
        rows = self.conn.execute(
            "SELECT id, COALESCE(folder, ?) AS folder, locator, headers_json, date_ts "
            "FROM messages WHERE user_id=?",
            (INBOX, user),
        )
        for r in rows:
            entry = counts.setdefault(r["folder"], [0, 0, None])
            entry[0] += 1
            locators = self._locators(user, r["id"], r["locator"])
            if _is_unread(locators, json.loads(r["headers_json"] or "{}")):
                entry[1] += 1
            if r["date_ts"] is not None and (entry[2] is None or r["date_ts"] > entry[2]):
                entry[2] = r["date_ts"]
        return [
            FolderCount(name=name, messages=n, unread=unread, last_date=_dt(last))
            for name, (n, unread, last) in sorted(counts.items())
        ]

    def page_messages(
        self, user: str, *, folder: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[ListedMessage]]:
        """One page of ``user``'s messages (of ``folder`` when given), newest first, with the
        total count; ties on the date are broken by id so pages never overlap."""
        check_user(user)
        where, args = "m.user_id=?", [user]
        if folder is not None:
            clause, extra = _folder_clause(folder)
            where, args = f"{where} AND {clause}", [*args, *extra]
        total = int(
            self.conn.execute(f"SELECT COUNT(*) FROM messages m WHERE {where}", args).fetchone()[0]
        )
        rows = self.conn.execute(
            f"{_SELECT_MESSAGE} WHERE {where} "
            "ORDER BY m.date_ts IS NULL, m.date_ts DESC, m.id LIMIT ? OFFSET ?",
            (*args, max(1, min(limit, 1000)), max(0, offset)),
        ).fetchall()
        out: list[ListedMessage] = []
        for r in rows:
            message = self._row_to_message(r, user)
            own = self.conn.execute(
                "SELECT locator, (SELECT COUNT(*) FROM messages t WHERE t.user_id=m.user_id "
                "AND t.thread_id=m.thread_id) AS n FROM messages m WHERE m.rowid=?",
                (r["rowid"],),
            ).fetchone()
            locators = self._locators(user, message.id, own["locator"])
            out.append(
                ListedMessage(
                    message=message,
                    unread=_is_unread(locators, message.headers),
                    thread_size=int(own["n"]),
                )
            )
        return total, out

    def search_text(self, user: str, query: str, *, limit: int = 20) -> list[TextHit]:
        """FTS5 keyword search (bm25-ranked) over subject and new text."""
        check_user(user)
        fts = _fts_query(query)
        if not fts:
            return []
        rows = self.conn.execute(
            "SELECT m.id, m.thread_id, bm25(messages_fts) AS score, "
            "snippet(messages_fts, 1, '[', ']', '…', 12) AS snippet "
            "FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid "
            "WHERE messages_fts MATCH ? AND m.user_id=? ORDER BY score LIMIT ?",
            (fts, user, max(1, min(limit, 200))),
        ).fetchall()
        # FTS5's bm25() is lower-is-better; flip the sign so callers sort descending.
        return [
            TextHit(
                message_id=r["id"], thread_id=r["thread_id"], score=-r["score"],
                snippet=r["snippet"],
            )
            for r in rows
        ]  # fmt: skip

    def iter_messages(self, user: str, *, batch_size: int = 500) -> Iterator[Message]:
        """All of ``user``'s messages in storage order, fetched in batches."""
        check_user(user)
        last = 0
        while True:
            rows = self.conn.execute(
                f"{_SELECT_MESSAGE} WHERE m.user_id=? AND m.rowid > ? ORDER BY m.rowid LIMIT ?",
                (user, last, batch_size),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield self._row_to_message(r, user)
            last = rows[-1]["rowid"]

    def message_ids(self, user: str) -> set[str]:
        """All stable ids of ``user``."""
        check_user(user)
        rows = self.conn.execute("SELECT id FROM messages WHERE user_id=?", (user,))
        return {r["id"] for r in rows}

    def list_quarantine(self, user: str, *, source_id: int | None = None) -> list[QuarantineItem]:
        """Quarantined items, in insertion order (of one source when ``source_id`` is given)."""
        check_user(user)
        sql = (
            "SELECT locator, reason, raw_path, content_hash, size, truncated FROM quarantine "
            "WHERE user_id=?"
            + (" AND source_id=?" if source_id is not None else "")
            + " ORDER BY id"
        )
        args = (user,) if source_id is None else (user, source_id)
        return [
            QuarantineItem(
                locator=r["locator"], reason=r["reason"], raw_path=r["raw_path"],
                content_hash=r["content_hash"], size=r["size"], truncated=bool(r["truncated"]),
            )
            for r in self.conn.execute(sql, args)
        ]  # fmt: skip

    def stats(self, user: str) -> UserStats:
        """Counts and date range."""
        check_user(user)
        c = self.conn

        def count(table: str) -> int:
            # ``table`` is one of the literal names below, never input.
            row = c.execute(f"SELECT COUNT(*) AS n FROM {table} WHERE user_id=?", (user,))
            return int(row.fetchone()["n"])

        span = c.execute(
            "SELECT MIN(date_ts) AS first, MAX(date_ts) AS last FROM messages WHERE user_id=? "
            "AND date_flag IN ('ok','naive')",
            (user,),
        ).fetchone()
        folders = {
            r["folder"]: r["n"]
            for r in c.execute(
                "SELECT COALESCE(folder, '') AS folder, COUNT(*) AS n FROM messages "
                "WHERE user_id=? GROUP BY folder ORDER BY COUNT(*) DESC LIMIT 50",
                (user,),
            )
        }
        return UserStats(
            user=user, messages=count("messages"), threads=count("threads"),
            quarantined=count("quarantine"), sources=count("sources"),
            first_date=_dt(span["first"]), last_date=_dt(span["last"]),
            attachments=count("attachments"), folders=folders,
        )  # fmt: skip


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"could not start a write transaction: {exc}") from exc
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
