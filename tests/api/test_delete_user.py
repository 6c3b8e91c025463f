"""`Services.delete_user` on a real data dir: nothing of the user is left in any SQLite table
(or, on the Postgres backend, any table of its database) or on disk, and the other user's data
is untouched."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.services import Services
from core.settings import REPO_ROOT, DavAccount, MailAccount, Settings
from retrieval.index.edge import USERS_DIR, user_dir_name
from retrieval.store.feedback import FeedbackRecord, open_feedback_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OTHER_MAIL = (
    "From: kim@example.org\nTo: other@example.org\nSubject: budget {n}\n"
    "Message-ID: <other-{n}@example.org>\nDate: Tue, 10 Nov 2026 10:00:00 +0000\n\n"
    "The budget line {n} needs a second look before Friday.\n"
)


def _account(cls: type[Any], name: str, user: str) -> Any:
    extra = {"host": "127.0.0.1"} if cls is MailAccount else {"url": "http://127.0.0.1:1/"}
    return cls(name=name, user=user, username="u", password="p", **extra)


def _checkpoint(services: Services, thread_id: str) -> None:
    from langgraph.checkpoint.base import empty_checkpoint

    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    saved = services.checkpointer.put(config, empty_checkpoint(), {}, {})  # type: ignore[arg-type]
    services.checkpointer.put_writes(saved, [("messages", "hello")], task_id="t1")


def _rows_of(data_dir: Path, user: str, accounts: set[str]) -> dict[str, int]:
    """Every row, in every table of every SQLite file under ``data_dir``, holding ``user``
    (exactly, or as the ``<user>/…`` thread-id prefix) or one of ``accounts`` in any column."""
    found: dict[str, int] = {}
    for db in sorted(data_dir.rglob("*.sqlite3")):
        conn = sqlite3.connect(db)
        try:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    if any(
                        isinstance(v, str)
                        and (v == user or v.startswith(f"{user}/") or v in accounts)
                        for v in row
                    ):
                        key = f"{db.name}:{table}"
                        found[key] = found.get(key, 0) + 1
        finally:
            conn.close()
    return found


def _pg_rows_of(url: str, user: str, accounts: set[str]) -> dict[str, int]:
    """:func:`_rows_of` over every table of a Postgres database, keyed like the SQLite files'
    (``mailmind.sqlite3:`` for the store's tables, ``checkpoints.sqlite3:`` for LangGraph's)."""
    import psycopg

    found: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET app.admin = 'on'")  # row-level security would hide other users
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY 1"
            )
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'.encode()):
                if any(
                    isinstance(v, str) and (v == user or v.startswith(f"{user}/") or v in accounts)
                    for v in row
                ):
                    home = "checkpoints" if table.startswith("checkpoint") else "mailmind"
                    key = f"{home}.sqlite3:{table}"
                    found[key] = found.get(key, 0) + 1
    return found


def _files(data_dir: Path) -> set[Path]:
    return {p.relative_to(data_dir) for p in data_dir.rglob("*") if p.is_file()}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=[pytest.mark.server])]
)
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Services, Path]]:
    data = Path(tmp_path_factory.mktemp("delete-user"))
    store: dict[str, str] = {"backend": request.param}
    if request.param == "postgres":
        from tests.pg_server import PostgresServer

        server: PostgresServer = request.getfixturevalue("postgres_server")
        template: str = request.getfixturevalue("postgres_migrated")
        server.drop_database("delete_user")
        store["url"] = server.create_database("delete_user", template=template)
        request.addfinalizer(lambda: server.drop_database("delete_user"))
    settings = Settings(data_dir=data / "data", store=store, _env_file=None)  # type: ignore[call-arg,arg-type]
    settings.sync.imap = [
        _account(MailAccount, "demo-imap", "demo"),
        _account(MailAccount, "other-imap", "other"),
    ]
    settings.sync.dav = [_account(DavAccount, "demo-dav", "demo")]
    services = Services(settings)
    for part in ("mail", "calendar", "contacts"):
        services.ingest_path("demo", REPO_ROOT / "demo" / part)
    other = data / "other-mail"
    other.mkdir()
    for n in range(3):
        (other / f"{n}.eml").write_text(OTHER_MAIL.format(n=n))
    (other / "junk.eml").write_bytes(b"\x00\x01 other junk")
    services.ingest_path("other", other)
    junk = data / "demo-junk"
    junk.mkdir()
    (junk / "junk.eml").write_bytes(b"\x00\x02 demo junk " * 100)
    services.ingest_path("demo", junk)
    for user in ("demo", "other"):
        services.keys.create(user, name="test")
        _checkpoint(services, f"{user}/conversation-1")
        account = f"{user}-imap"
        services.pim.imap_state.set_folder(account, "INBOX", 7, 10, None)
        services.pim.imap_state.put_messages(account, "INBOX", [(1, ("\\Seen",))])
    services.pim.dav_state.put_item("demo-dav", "http://127.0.0.1:1/cal/", "/cal/1.ics", "e1")
    feedback = open_feedback_store(settings)
    feedback.add("demo", FeedbackRecord(kind="answer", rating="up"))
    feedback.add("other", FeedbackRecord(kind="answer", rating="down", reason="wrong"))
    feedback.close()
    yield services, settings.data_dir
    services.close()


def test_delete_user_leaves_nothing_of_the_user_and_keeps_the_other(
    populated: tuple[Services, Path],
) -> None:
    services, data_dir = populated

    def rows_of(user: str, accounts: set[str]) -> dict[str, int]:
        url = services.settings.store.url
        if url is None:
            return _rows_of(data_dir, user, accounts)
        return _pg_rows_of(url.get_secret_value(), user, accounts)

    demo_accounts = {"demo-imap", "demo-dav"}
    # The set-up really put demo's data everywhere the deletion must reach.
    before = rows_of("demo", demo_accounts)
    for table in (
        "messages", "message_addresses", "attachments", "threads", "quarantine", "sources",
        "ingest_runs", "message_locations", "users", "cal_components", "cal_people",
        "contact_cards", "contact_emails", "mail_people", "mail_people_seen", "imap_folders",
        "imap_messages", "dav_items", "api_keys", "feedback",
    ):  # fmt: skip
        assert before.get(f"mailmind.sqlite3:{table}", 0) > 0, table
    writes = "writes" if services.settings.store.backend == "sqlite" else "checkpoint_writes"
    assert before["checkpoints.sqlite3:checkpoints"] and before[f"checkpoints.sqlite3:{writes}"]
    shard = services.settings.index_dir / services.settings.index.collection / USERS_DIR
    assert (shard / user_dir_name("demo")).is_dir() and services.index.count("demo") > 40
    assert any((data_dir / "quarantine" / "demo").rglob("*.eml"))

    other_rows = rows_of("other", {"other-imap"})
    other_stats = services.store.stats("other")
    other_points = services.index.count("other")
    other_files = {p for p in _files(data_dir) if "quarantine" in p.parts and "other" in p.parts}
    assert other_files and other_points > 0

    removed = services.delete_user("demo")

    assert removed["mail.messages"] == before["mailmind.sqlite3:messages"]
    assert removed["keys.api_keys"] == 1 and removed["feedback.feedback"] == 1
    assert removed["checkpoints.checkpoints"] == 1 and removed[f"checkpoints.{writes}"] == 1
    assert removed["pim.imap_folders"] == 1 and removed["pim.dav_items"] == 1
    assert removed["quarantine.files"] == 1 and removed["mail.quarantine_files"] == 0
    assert removed["index.points"] > 40
    # Nothing of demo in any column of any table of any SQLite file.
    assert rows_of("demo", demo_accounts) == {}
    # Nothing of demo on disk: no quarantine folder, no index shard.
    assert not (data_dir / "quarantine" / "demo").exists()
    assert not (shard / user_dir_name("demo")).exists()
    assert not [p for p in _files(data_dir) if "demo" in p.parts]
    assert services.index.count("demo") == 0
    assert services.store.search_text("demo", "meeting") == []
    # The other user is untouched.
    assert rows_of("other", {"other-imap"}) == other_rows
    assert services.store.stats("other") == other_stats
    assert services.index.count("other") == other_points
    assert other_files <= _files(data_dir)
    assert [k.user for k in services.keys.list()] == ["other"]
    assert services.store.users() == ["other"]
    # Deleting again is a no-op.
    again = services.delete_user("demo")
    assert not any(again.values())
