"""Proposed side-effecting actions and their approval state, per user, in the main store.

One row is one action the assistant proposed (send an email, save a draft, reply to an
invitation, create or update an event). Its life::

    pending ──approve──► approved ──execute──► executed | failed
       │   └──reject───► rejected
       └──(past expires_at)──► expired

Every transition is one conditional ``UPDATE ... WHERE status = <expected>``, so an approval is
single-use: two concurrent approvals of one action see one winner and one
:class:`ActionConflictError`. Every query carries the user, so another user's action id is simply
not found. The table lives in the main SQLite file (component ``actions`` of
:mod:`retrieval.store.migrations`).
"""

from __future__ import annotations

import builtins
import json
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

from core.errors import InputError, NotFoundError
from retrieval.store.base import check_user
from retrieval.store.migrations import apply_migrations, split_statements
from retrieval.store.pim_sqlite import connect, from_ts, ts

if TYPE_CHECKING:
    from core.settings import Settings

ActionStatus = Literal["pending", "approved", "rejected", "expired", "executed", "failed"]
STATUSES: tuple[str, ...] = get_args(ActionStatus)
#: Migration component name (``schema_versions``).
COMPONENT = "actions"
_V1 = """
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    conversation TEXT,
    tool TEXT NOT NULL,
    args_json TEXT NOT NULL,
    provenance_json TEXT NOT NULL DEFAULT '{}',
    flags_json TEXT NOT NULL DEFAULT '[]',
    summary TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN
        ('pending', 'approved', 'rejected', 'expired', 'executed', 'failed')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_at TEXT,
    result_json TEXT
);
CREATE INDEX IF NOT EXISTS ix_actions_user ON actions (user_id, status, created_at);
CREATE INDEX IF NOT EXISTS ix_actions_conversation ON actions (user_id, conversation);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    action_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('draft', 'mail')),
    message_id TEXT NOT NULL,
    recipients_json TEXT NOT NULL,
    subject TEXT NOT NULL,
    raw TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'queued', 'sent', 'failed')),
    error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_outbox_user ON outbox (user_id, kind, id);
"""
#: Append-only migrations of the action tables.
MIGRATIONS: list[list[str]] = [split_statements(_V1)]
#: Tables holding action rows, each with a ``user_id`` column.
USER_TABLES = ("actions", "outbox")


class ActionConflictError(InputError):
    """The action is no longer in the state the request needs (already decided): HTTP 409."""

    code = "action_conflict"


class ActionExpiredError(InputError):
    """The action's approval window has passed; propose it again: HTTP 410."""

    code = "action_expired"


@dataclass(slots=True)
class StoredAction:
    """One proposed action as stored."""

    id: str
    user: str
    conversation: str | None
    tool: str
    args: dict[str, Any]
    #: ``{argument: provenance dict}`` (see :mod:`agents.actions.provenance`).
    provenance: dict[str, Any]
    #: Warnings shown with the approval prompt (an argument from untrusted content, ...).
    flags: list[str]
    summary: str
    status: ActionStatus
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None
    result: dict[str, Any] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (CLI ``--json``, API)."""
        return {
            "id": self.id,
            "conversation": self.conversation,
            "tool": self.tool,
            "args": self.args,
            "provenance": self.provenance,
            "flags": self.flags,
            "summary": self.summary,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "result": self.result,
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class ActionStore:
    """Action and outbox rows in the main SQLite file; every method takes the user first."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        self.conn = conn
        apply_migrations(conn, COMPONENT, MIGRATIONS)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    # -- actions -----------------------------------------------------------------------------

    def create(
        self,
        user: str,
        *,
        tool: str,
        args: dict[str, Any],
        provenance: dict[str, Any],
        flags: list[str],
        summary: str,
        ttl_s: int,
        conversation: str | None = None,
        now: datetime | None = None,
    ) -> StoredAction:
        """Store a new pending action that expires ``ttl_s`` seconds from ``now``."""
        check_user(user)
        created = (now or _now()).astimezone(UTC)
        action_id = "act_" + secrets.token_hex(8)
        expires = created + timedelta(seconds=ttl_s)
        with self.conn:
            self.conn.execute(
                "INSERT INTO actions (id, user_id, conversation, tool, args_json, provenance_json,"
                " flags_json, summary, status, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    action_id, user, conversation, tool, json.dumps(args, ensure_ascii=False),
                    json.dumps(provenance, ensure_ascii=False),
                    json.dumps(flags, ensure_ascii=False), summary, ts(created), ts(expires),
                ),
            )  # fmt: skip
        return self.get(user, action_id)

    def get(self, user: str, action_id: str) -> StoredAction:
        """``user``'s action ``action_id``; :class:`NotFoundError` for any other user's."""
        check_user(user)
        row = self.conn.execute(
            "SELECT * FROM actions WHERE user_id = ? AND id = ?", (user, action_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no action {action_id!r}: see `mailmind actions list`")
        return _row(row)

    def list(
        self,
        user: str,
        *,
        status: ActionStatus | None = None,
        conversation: str | None = None,
        now: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredAction]:
        """``user``'s actions, newest first; pending ones past their expiry are marked expired
        first, so a list never offers an action that can no longer be approved."""
        check_user(user)
        if status is not None and status not in STATUSES:
            raise InputError(f"status must be one of {list(STATUSES)}: {status!r}")
        self.expire(user, now=now)
        sql = "SELECT * FROM actions WHERE user_id = ?"
        params: list[Any] = [user]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        if conversation is not None:
            sql += " AND conversation = ?"
            params.append(conversation)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        params.append(limit)
        return [_row(r) for r in self.conn.execute(sql, params)]

    def expire(self, user: str, *, now: datetime | None = None) -> int:
        """Mark ``user``'s pending actions past their expiry as expired; returns how many."""
        with self.conn:
            cur = self.conn.execute(
                "UPDATE actions SET status = 'expired', decided_at = ? WHERE user_id = ?"
                " AND status = 'pending' AND expires_at <= ?",
                (ts(now or _now()), check_user(user), ts(now or _now())),
            )
        return cur.rowcount

    def decide(
        self, user: str, action_id: str, decision: Literal["approved", "rejected"],
        *, now: datetime | None = None,
    ) -> StoredAction:  # fmt: skip
        """Approve or reject a pending action, once.

        Raises :class:`NotFoundError` (not ``user``'s), :class:`ActionExpiredError` (past its
        expiry; it is marked expired) or :class:`ActionConflictError` (already decided).
        """
        when = now or _now()
        action = self.get(user, action_id)
        if action.status == "pending" and action.expires_at <= when:
            self._transition(user, action_id, "pending", "expired", when)
            action = self.get(user, action_id)
        if action.status == "expired":
            raise ActionExpiredError(
                f"action {action_id} expired at {action.expires_at.isoformat()}: ask again to "
                "get a new proposal"
            )
        if not self._transition(user, action_id, "pending", decision, when):
            current = self.get(user, action_id).status
            raise ActionConflictError(f"action {action_id} is already {current}")
        return self.get(user, action_id)

    def finish(
        self, user: str, action_id: str, *, ok: bool, result: dict[str, Any]
    ) -> StoredAction:
        """Record the outcome of an approved action (``executed`` or ``failed``), once."""
        status = "executed" if ok else "failed"
        with self.conn:
            cur = self.conn.execute(
                "UPDATE actions SET status = ?, result_json = ? WHERE user_id = ? AND id = ?"
                " AND status = 'approved'",
                (status, json.dumps(result, ensure_ascii=False, default=str), user, action_id),
            )
        if cur.rowcount != 1:
            raise ActionConflictError(f"action {action_id} was not approved, or already ran")
        return self.get(user, action_id)

    def _transition(self, user: str, action_id: str, old: str, new: str, when: datetime) -> bool:
        with self.conn:
            cur = self.conn.execute(
                "UPDATE actions SET status = ?, decided_at = ? WHERE user_id = ? AND id = ?"
                " AND status = ?",
                (new, ts(when), user, action_id, old),
            )
        return cur.rowcount == 1

    # -- outbox ------------------------------------------------------------------------------

    def add_outgoing(
        self,
        user: str,
        *,
        kind: Literal["draft", "mail"],
        message_id: str,
        recipients: builtins.list[str],
        subject: str,
        raw: str,
        action_id: str | None,
    ) -> int:
        """Store a draft or a mail queued for delivery; returns its outbox id."""
        check_user(user)
        status = "draft" if kind == "draft" else "queued"
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO outbox (user_id, action_id, kind, message_id, recipients_json,"
                " subject, raw, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user, action_id, kind, message_id, json.dumps(recipients), subject, raw, status,
                 ts(_now())),
            )  # fmt: skip
        assert cur.lastrowid is not None
        return cur.lastrowid

    def mark_outgoing(self, user: str, outbox_id: int, *, error: str | None) -> None:
        """Record a delivery attempt: ``sent`` when ``error`` is None, else ``failed``."""
        with self.conn:
            self.conn.execute(
                "UPDATE outbox SET status = ?, error = ?, sent_at = ? WHERE user_id = ? AND id = ?",
                ("sent" if error is None else "failed", error, ts(_now()), user, outbox_id),
            )

    def outbox(self, user: str, *, kind: str | None = None) -> builtins.list[dict[str, Any]]:
        """``user``'s drafts and outgoing mail, newest first."""
        check_user(user)
        sql = "SELECT * FROM outbox WHERE user_id = ?"
        params: list[Any] = [user]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        rows = self.conn.execute(sql + " ORDER BY id DESC", params).fetchall()
        return [
            {
                "id": r["id"], "action_id": r["action_id"], "kind": r["kind"],
                "message_id": r["message_id"], "recipients": json.loads(r["recipients_json"]),
                "subject": r["subject"], "raw": r["raw"], "status": r["status"],
                "error": r["error"],
            }
            for r in rows
        ]  # fmt: skip

    def delete_user(self, user: str) -> dict[str, int]:
        """Remove every action and outbox row of ``user``; rows removed per table."""
        check_user(user)
        counts: dict[str, int] = {}
        with self.conn:
            for table in USER_TABLES:
                cur = self.conn.execute(f"DELETE FROM {table} WHERE user_id = ?", (user,))
                counts[table] = cur.rowcount
        return counts


def _row(row: sqlite3.Row) -> StoredAction:
    created, expires = from_ts(row["created_at"]), from_ts(row["expires_at"])
    assert created is not None and expires is not None
    return StoredAction(
        id=row["id"], user=row["user_id"], conversation=row["conversation"], tool=row["tool"],
        args=json.loads(row["args_json"]), provenance=json.loads(row["provenance_json"]),
        flags=json.loads(row["flags_json"]), summary=row["summary"], status=row["status"],
        created_at=created, expires_at=expires, decided_at=from_ts(row["decided_at"]),
        result=json.loads(row["result_json"]) if row["result_json"] else None,
    )  # fmt: skip


def open_action_store(settings: Settings) -> ActionStore:
    """The action store in the main SQLite file of ``settings`` (or on its Postgres backend)."""
    if settings.store.backend == "postgres":
        from retrieval.store.postgres import open_postgres_actions

        return open_postgres_actions(settings)
    return ActionStore(connect(settings.store_path, settings.store.busy_timeout_s))
