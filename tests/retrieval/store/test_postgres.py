"""What only the Postgres backend has, on a real server: row-level security as a second line of
isolation, its migrations, the conversation checkpointer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.errors import MigrationError
from core.settings import Settings
from retrieval.ingest.mail import Ingestor
from retrieval.store import open_store
from retrieval.store.migrations import MIGRATIONS
from retrieval.store.pg_conn import PgConnection
from retrieval.store.postgres import PostgresStore

pytestmark = [pytest.mark.server]

MAIL = (
    "From: ann@example.com\nTo: {user}@example.com\nSubject: budget {n}\n"
    "Message-ID: <{user}-{n}@example.com>\nDate: Tue, 10 Nov 2026 09:00:00 +0000\n\n"
    "the budget review {n}\n"
)


def _settings(tmp_path: Path, url: str) -> Settings:
    store = {"backend": "postgres", "url": url}
    return Settings(data_dir=tmp_path / "data", store=store)  # type: ignore[call-arg,arg-type]


@pytest.fixture
def pg_store(tmp_path: Path, postgres_url: str) -> Iterator[Any]:
    """A migrated Postgres mail store holding three messages each for alice and bob."""
    store = open_store(_settings(tmp_path, postgres_url))
    ingestor = Ingestor(store, quarantine_dir=tmp_path / "q", workers=0)
    for user in ("alice", "bob"):
        folder = tmp_path / user
        folder.mkdir()
        for n in range(3):
            (folder / f"{n}.eml").write_text(MAIL.format(user=user, n=n))
        ingestor.ingest(user, folder)
    yield store
    store.close()


# -- row-level security: the second line ------------------------------------------------------


def test_rls_hides_other_users_rows_from_a_query_without_a_user_filter(pg_store: Any) -> None:
    conn: PgConnection = pg_store.pg
    forgot_filter = "SELECT id, user_id FROM messages"  # the bug RLS is there to catch
    with conn.scope("alice"):
        rows = conn.execute(forgot_filter).fetchall()
    assert len(rows) == 3 and {r["user_id"] for r in rows} == {"alice"}
    assert {r["id"] for r in rows} == pg_store.message_ids("alice")
    # Outside any user's transaction nothing is visible at all.
    assert conn.execute(forgot_filter).fetchall() == []
    assert conn.execute("SELECT COUNT(*) FROM message_addresses").fetchone()[0] == 0
    # Maintenance code that asks for it sees everyone.
    with conn.scope(admin=True):
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 6


def test_rls_refuses_writes_of_another_users_rows(pg_store: Any) -> None:
    conn: PgConnection = pg_store.pg
    bob_id = next(iter(pg_store.message_ids("bob")))
    with conn.scope("alice"):
        # A delete without its user filter removes nothing of bob's ...
        assert conn.execute("DELETE FROM messages WHERE id = ?", (bob_id,)).rowcount == 0
    assert pg_store.get_message("bob", bob_id) is not None
    # ... and a row written for bob in alice's transaction is refused.
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.scope("alice"):
        conn.execute(
            "INSERT INTO deletions(user_id, message_id, deleted_at) VALUES (?, ?, ?)",
            ("bob", bob_id, "2026-11-30"),
        )


def test_every_user_owned_table_has_forced_row_level_security(pg_store: Any) -> None:
    rows = pg_store.pg.execute(
        "SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity AS rls "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND EXISTS ("
        "  SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
        "  AND a.attname IN ('user_id', 'user'))"
    ).fetchall()
    tables = {r["relname"]: r["rls"] for r in rows}
    expected = {
        "messages", "message_addresses", "attachments", "message_locations", "threads",
        "quarantine", "ingest_runs", "deletions", "sources", "cal_components", "cal_people",
        "contact_cards", "contact_emails", "mail_people", "mail_people_seen", "api_keys",
        "feedback", "actions", "outbox", "precomputed",
    }  # fmt: skip
    assert set(tables) == expected
    assert all(tables.values()), [t for t, on in tables.items() if not on]


def test_store_role_is_not_exempt_from_rls(pg_store: Any) -> None:
    row = pg_store.pg.execute(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row is not None and row[0] is False


# -- migrations ---------------------------------------------------------------------------------


def test_fresh_database_is_migrated_once_and_newer_schemas_are_refused(
    tmp_path: Path, postgres_empty_url: str
) -> None:
    store = open_store(_settings(tmp_path, postgres_empty_url))
    try:
        assert isinstance(store, PostgresStore)
        assert store.schema_version() == len(MIGRATIONS)
        assert store.migrate() == len(MIGRATIONS)  # idempotent
        with store.pg.scope(admin=True):
            store.pg.execute("UPDATE schema_versions SET version = 99 WHERE component = 'mail'")
        with pytest.raises(MigrationError, match="upgrade mailmind"):
            store.migrate()
    finally:
        store.close()


def test_every_component_migrates_to_its_latest_version_in_one_database(
    tmp_path: Path, postgres_empty_url: str
) -> None:
    from api.services import Services
    from retrieval.store import actions, calendar, contacts, feedback, keys
    from retrieval.store.pg_migrations import pg_schema_versions

    services = Services(_settings(tmp_path, postgres_empty_url))
    try:
        _ = services.store, services.pim, services.keys, services.feedback, services.actions
        assert pg_schema_versions(services.keys.conn) == {  # type: ignore[arg-type]
            "mail": len(MIGRATIONS),
            "calendar": len(calendar.MIGRATIONS),
            "contacts": len(contacts.MIGRATIONS),
            "imap_sync": 1,
            "dav_sync": 1,
            "api_keys": len(keys.MIGRATIONS),
            "feedback": len(feedback.MIGRATIONS),
            "actions": len(actions.MIGRATIONS),
        }
    finally:
        services.close()


def test_a_failing_migration_leaves_nothing_behind(postgres_empty_url: str) -> None:
    from retrieval.store.pg_migrations import apply_pg_migrations, pg_schema_versions

    conn = PgConnection(postgres_empty_url)
    try:
        broken = [["CREATE TABLE good (x TEXT)", "CREATE TABLE bad (x NOSUCHTYPE)"]]
        with pytest.raises(MigrationError, match="to v1 failed"):
            apply_pg_migrations(conn, "demo", broken)
        assert conn.execute("SELECT to_regclass('good') IS NULL").fetchone()[0] is True
        assert "demo" not in pg_schema_versions(conn)
    finally:
        conn.close()


# -- conversations --------------------------------------------------------------------------------


def test_conversations_are_checkpointed_in_postgres_and_deleted_per_user(
    tmp_path: Path, postgres_url: str
) -> None:
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    from api.services import Services
    from retrieval.store.users import delete_pg_checkpoints

    class State(TypedDict):
        turns: int

    graph_def = StateGraph(State)
    graph_def.add_node("turn", lambda s: {"turns": s["turns"] + 1})
    graph_def.add_edge(START, "turn")
    graph_def.add_edge("turn", END)
    services = Services(_settings(tmp_path, postgres_url))
    try:
        saver = services.checkpointer
        assert type(saver).__name__ == "PostgresSaver"
        graph = graph_def.compile(checkpointer=saver)
        for thread in ("alice/c1", "alice/c2", "al_ce/c1", "bob/c1"):
            graph.invoke({"turns": 0}, {"configurable": {"thread_id": thread}})
        again = graph.invoke({"turns": 5}, {"configurable": {"thread_id": "alice/c1"}})
        assert again["turns"] == 6
        counts = delete_pg_checkpoints(saver.conn, "alice")  # type: ignore[attr-defined]
        assert counts["checkpoints"] > 0 and set(counts) >= {"checkpoints", "checkpoint_writes"}

        def turns(thread: str) -> Any:
            return graph.get_state({"configurable": {"thread_id": thread}}).values.get("turns")

        assert turns("alice/c1") is None and turns("alice/c2") is None
        assert turns("al_ce/c1") == 1 and turns("bob/c1") == 1  # "_" is no wildcard
    finally:
        services.close()


def test_threads_sharing_the_store_each_see_their_own_user(pg_store: Any) -> None:
    # The HTTP service calls the store from a thread pool: each call pins a pooled connection
    # to its thread for one transaction, so concurrent users never share a scope.
    from concurrent.futures import ThreadPoolExecutor

    def read(user: str) -> tuple[str, int, set[str]]:
        ids = {m.id for m in pg_store.list_messages(user)}
        hits = {h.message_id for h in pg_store.search_text(user, "budget review")}
        assert hits == ids
        return user, pg_store.stats(user).messages, ids

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(read, ["alice", "bob"] * 12))
    expected = {u: pg_store.message_ids(u) for u in ("alice", "bob")}
    assert not expected["alice"] & expected["bob"]
    assert all(n == 3 and ids == expected[user] for user, n, ids in results)
