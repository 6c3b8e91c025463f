"""PostgreSQL implementation of :class:`retrieval.store.base.Store` (``MAILMIND_STORE__BACKEND=
postgres``).

It is the SQLite store's code on a pooled psycopg 3 connection: the queries are the same text,
run through the dialect layer (:mod:`retrieval.store.dialect`), so the two backends cannot drift
apart query by query. What differs is written here:

* full-text search: a stored ``tsvector`` column (subject weight A, new text weight B, English
  stemming) with a GIN index instead of FTS5 (:data:`~retrieval.store.pg_migrations.
  PG_MIGRATIONS`), ranked with ``ts_rank`` and highlighted with ``ts_headline``;
* transactions: each public method with a ``user`` runs in one transaction that sets
  ``app.user`` (:func:`~retrieval.store.pg_conn.user_scoped`), which row-level-security policies
  on every user-owned table check, a second line behind the queries' own ``user_id = ?``;
  ``add_batch`` is still the all-or-nothing unit a ``kill -9`` cannot split;
* ``rowid``: the mail tables get the identity column SQLite gives every table implicitly.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from core.errors import StoreError
from retrieval.store.base import StoredItem, TextHit, check_user
from retrieval.store.migrations import MAIL, MIGRATIONS
from retrieval.store.pg_conn import PgConnection, user_scoped
from retrieval.store.sqlite import (
    _MESSAGE_COLUMNS,
    INSERT_ADDRESS,
    INSERT_ATTACHMENT,
    SQLiteStore,
    _child_rows,
    _message_values,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from psycopg_pool import ConnectionPool

    from core.settings import Settings
    from retrieval.store.actions import ActionStore
    from retrieval.store.base import Store
    from retrieval.store.feedback import FeedbackStore
    from retrieval.store.keys import KeyStore
    from retrieval.store.pim import PimStores

log = logging.getLogger(__name__)

#: Text-search configuration of the ``fts`` column (must match the migration).
TS_CONFIG = "english"


def _tsquery(query: str) -> str:
    """Free text to a safe ``to_tsquery`` input: alphanumeric terms OR-ed, like the FTS5 query
    (ts_rank ranks messages matching more of them higher)."""
    terms = [t for t in "".join(c if c.isalnum() else " " for c in query).split() if t]
    return " | ".join(terms[:32])


class _PostgresStore(SQLiteStore):
    """The mail store on Postgres (wrapped by :func:`user_scoped` below).

    ``delete_user`` is inherited: its check that no other user's row names a raw quarantine
    copy sees only the user's own rows here (row-level security), which is right because no
    Postgres store predates per-user quarantine folders, so no copy is shared.
    """

    def __init__(self, conn: PgConnection) -> None:
        self.pg = conn
        self._attachments = {}

    @property
    def conn(self) -> sqlite3.Connection:
        """The pooled connection, standing in for the SQLite one the inherited queries use
        (:class:`PgConnection` implements the part of :class:`sqlite3.Connection` they call)."""
        return cast("sqlite3.Connection", self.pg)

    def close(self) -> None:
        """Close the connection pool."""
        self.pg.close()

    def _tx(self) -> PgConnection:  # type: ignore[override]
        # A savepoint inside the method's transaction (user_scoped opened it).
        return self.pg

    def migrate(self) -> int:
        """Apply pending mail migrations (see :mod:`retrieval.store.pg_migrations`)."""
        version = self.pg.execute("SELECT 1").fetchone()  # connect early: a clear error
        assert version is not None
        _warn_if_rls_is_bypassed(self.pg)
        from retrieval.store.migrations import apply_migrations

        return apply_migrations(self.conn, MAIL, MIGRATIONS)

    def schema_version(self) -> int:
        """Mail schema version currently in the database (0 when empty)."""
        from retrieval.store.pg_migrations import pg_schema_versions

        return pg_schema_versions(self.pg).get(MAIL, 0)

    def _insert_messages(
        self,
        c: sqlite3.Connection,
        user: str,
        source_id: int,
        items: Sequence[StoredItem],
        now: str,
    ) -> None:
        """The batch in four round trips instead of three per message: the ``rowid``s are
        drawn from the identity's sequence up front, so the address and attachment rows can
        name them without waiting for each insert (psycopg pipelines ``executemany``)."""
        if not items:
            return
        rowids = [
            int(r[0])
            for r in self.pg.execute(
                "SELECT nextval(pg_get_serial_sequence('messages', 'rowid')) "
                "FROM generate_series(1, ?)",
                (len(items),),
            )
        ]
        rows = [
            (rowid, *_message_values(user, source_id, it, now))
            for rowid, it in zip(rowids, items, strict=True)
        ]
        marks = ",".join("?" * len(rows[0]))
        self.pg.executemany(
            f"INSERT INTO messages(rowid, {_MESSAGE_COLUMNS}) VALUES ({marks})", rows
        )
        addresses: list[tuple[Any, ...]] = []
        attachments: list[tuple[Any, ...]] = []
        for rowid, it in zip(rowids, items, strict=True):
            addr_rows, attachment_rows = _child_rows(user, rowid, it.message)
            addresses += addr_rows
            attachments += attachment_rows
        self.pg.executemany(INSERT_ADDRESS, addresses)
        self.pg.executemany(INSERT_ATTACHMENT, attachments)

    def search_text(self, user: str, query: str, *, limit: int = 20) -> list[TextHit]:
        """Full-text search (``tsvector``, ``ts_rank``-ranked, subject above body) over subject
        and new text; the snippet marks matched words with ``[`` ``]`` like the SQLite store's.

        Under row-level security the planner cannot use the GIN index for ``@@`` (the operator
        is not leakproof), so the query reads the user's rows through the ``user_id`` index and
        ranks those: its cost grows with the user's mailbox, never with other users'.
        ``ts_rank`` rather than ``ts_rank_cd``: half the cost on the Enron maildir. Keyword
        search is the tools' fallback when no vector index is configured (and the REPL's
        sample finder); hybrid search goes to the index."""
        check_user(user)
        terms = _tsquery(query)
        if not terms:
            return []
        # Rank in the inner query, highlight only the rows returned (ts_headline re-parses).
        rows = self.pg.execute(
            f"SELECT h.id, h.thread_id, h.score, ts_headline('{TS_CONFIG}', h.new_text, h.q, "
            "'StartSel=[, StopSel=], MaxWords=12, MinWords=4, MaxFragments=1, "
            "FragmentDelimiter=…') AS snippet FROM ("
            "  SELECT m.id, m.thread_id, m.new_text, q, ts_rank(m.fts, q) AS score"
            f"  FROM messages m, to_tsquery('{TS_CONFIG}', ?) q"
            "  WHERE m.user_id=? AND m.fts @@ q ORDER BY score DESC, m.id LIMIT ?"
            ") h ORDER BY h.score DESC, h.id",
            (terms, user, max(1, min(limit, 200))),
        ).fetchall()
        return [
            TextHit(message_id=r["id"], thread_id=r["thread_id"], score=float(r["score"]),
                    snippet=r["snippet"])
            for r in rows
        ]  # fmt: skip


#: The Postgres mail store: every public method with a ``user`` runs in that user's
#: transaction; ``users`` lists the registry (no per-user rows to hide).
PostgresStore = user_scoped(_PostgresStore, admin=("users",))


def _warn_if_rls_is_bypassed(conn: PgConnection) -> None:
    """Row-level security does not bind superusers or ``BYPASSRLS`` roles: say so once."""
    row = conn.execute(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if row is not None and row[0]:
        log.warning(
            "the store's Postgres role bypasses row-level security (superuser or BYPASSRLS): "
            "per-user isolation rests on the queries alone; connect as an ordinary role"
        )


def pg_connection(settings: Settings) -> PgConnection:
    """A pooled connection to ``MAILMIND_STORE__URL`` (nothing is opened until first use)."""
    url = settings.store.url
    if url is None:
        raise StoreError("MAILMIND_STORE__BACKEND=postgres needs MAILMIND_STORE__URL")
    return PgConnection(url.get_secret_value(), max_size=settings.store.pool_size)


# -- opening every store of the backend ---------------------------------------------------------
# Each opener makes its own pool, as each SQLite opener makes its own connection; the calendar,
# contact and sync-state stores share one, as they share one SQLite connection.


def open_postgres_store(settings: Settings) -> Store:
    """The mail store on ``MAILMIND_STORE__URL`` (not yet migrated)."""
    store: Store = PostgresStore(pg_connection(settings))
    return store


def open_postgres_pim(settings: Settings) -> PimStores:
    """Calendar, contacts (user-scoped) and IMAP/DAV sync state (keyed by account) on one pool."""
    from retrieval.sources.sync.dav import DavState
    from retrieval.sources.sync.imap import ImapState
    from retrieval.store.calendar import CalendarStore
    from retrieval.store.contacts import ContactStore
    from retrieval.store.pim import PimStores

    conn = cast("sqlite3.Connection", pg_connection(settings))
    return PimStores(
        user_scoped(CalendarStore)(conn),
        user_scoped(ContactStore)(conn),
        ImapState(conn),
        DavState(conn),
    )


def open_postgres_keys(settings: Settings) -> KeyStore:
    """API keys; a key is looked up by its id before its user is known, so the lookups run
    with admin visibility and everything naming a user in that user's scope."""
    from retrieval.store.keys import KeyStore

    scoped = user_scoped(KeyStore, admin=("verify", "touch", "get", "list", "revoke"))
    return scoped(cast("sqlite3.Connection", pg_connection(settings)))


def open_postgres_feedback(settings: Settings) -> FeedbackStore:
    """Feedback rows, every method in its user's scope (``users`` lists across users)."""
    from retrieval.store.feedback import FeedbackStore

    scoped = user_scoped(FeedbackStore, admin=("users",))
    return scoped(cast("sqlite3.Connection", pg_connection(settings)))


def open_postgres_actions(settings: Settings) -> ActionStore:
    """Proposed actions and the outbox, every method in its user's scope."""
    from retrieval.store.actions import ActionStore

    return user_scoped(ActionStore)(cast("sqlite3.Connection", pg_connection(settings)))


def checkpoint_pool(settings: Settings) -> ConnectionPool[Any]:
    """A pool for LangGraph's Postgres checkpointer, on the store's database (the settings it
    requires: autocommit, dict rows, no server-side prepared statements)."""
    from retrieval.store.pg_conn import require_postgres_extra

    require_postgres_extra()
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    url = settings.store.url
    if url is None:
        raise StoreError("MAILMIND_STORE__BACKEND=postgres needs MAILMIND_STORE__URL")
    return ConnectionPool(
        url.get_secret_value(),
        min_size=1,
        max_size=settings.store.pool_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=True,
        name="mailmind-checkpoints",
    )


def open_postgres_checkpointer(settings: Settings) -> BaseCheckpointSaver[Any]:
    """LangGraph's Postgres checkpointer (tables created on first use). Conversations are
    keyed ``"<user>/<conversation>"`` as with SQLite; its tables are LangGraph's own, outside
    row-level security."""
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError as exc:
        raise StoreError(
            "conversations on the postgres backend need langgraph-checkpoint-postgres: "
            "pip install -c constraints.txt -e '.[postgres]'"
        ) from exc

    saver = PostgresSaver(checkpoint_pool(settings))
    saver.setup()
    return saver
