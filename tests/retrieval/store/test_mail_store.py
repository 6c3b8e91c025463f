"""Mail store on both backends: schema versioning, per-user isolation on every read, full-text
search, deletions, quarantine."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import InputError, MigrationError
from retrieval.ingest.mail import Ingestor
from retrieval.store.migrations import MIGRATIONS
from retrieval.store.sqlite import SQLiteStore
from tests.retrieval.store.conftest import all_rows

MAIL = """From: {sender}
To: {to}
Subject: {subject}
Message-ID: <{mid}>
Date: {date}
{extra}
{body}
"""


def write_mail(folder: Path, n: int, **kw: str) -> None:
    fields = {
        "sender": f"sender{n}@example.com", "to": "dana@northwind.example",
        "subject": f"subject {n}", "mid": f"m{n}@example.com",
        "date": f"Tue, {n + 1:02d} Nov 2026 10:00:00 +0000", "extra": "", "body": f"body {n}",
    } | kw  # fmt: skip
    (folder / f"{n}.eml").write_text(MAIL.format(**fields))


def _ingest(store: SQLiteStore, tmp_path: Path, user: str, folder: Path) -> None:
    Ingestor(store, quarantine_dir=tmp_path / "q", workers=0).ingest(user, folder)


def test_schema_is_versioned_and_wal(store: SQLiteStore, store_backend: str) -> None:
    assert store.schema_version() == len(MIGRATIONS)
    assert store.migrate() == len(MIGRATIONS)  # idempotent
    if store_backend == "sqlite":
        mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    store.conn.execute("UPDATE schema_versions SET version = 999 WHERE component = 'mail'")
    with pytest.raises(MigrationError, match="upgrade mailmind"):
        store.migrate()


def test_every_read_is_scoped_to_the_user(store: SQLiteStore, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_mail(a, 1, subject="alpha quarterly invoice", body="invoice for alice")
    write_mail(b, 2, subject="beta quarterly invoice", body="invoice for bob")
    _ingest(store, tmp_path, "alice", a)
    _ingest(store, tmp_path, "bob", b)
    alice_ids = store.message_ids("alice")
    bob_ids = store.message_ids("bob")
    assert len(alice_ids) == len(bob_ids) == 1 and not alice_ids & bob_ids
    bob_id = next(iter(bob_ids))
    bob_thread = store.get_message("bob", bob_id).thread_id  # type: ignore[union-attr]
    assert store.get_message("alice", bob_id) is None
    assert store.get_messages("alice", [bob_id]) == []
    assert store.get_thread("alice", bob_thread) is None  # type: ignore[arg-type]
    assert {h.message_id for h in store.search_text("alice", "quarterly invoice")} == alice_ids
    assert {m.id for m in store.list_messages("alice")} == alice_ids
    assert store.list_messages("alice", sender="sender2@example.com") == []
    assert store.delete_messages("alice", [bob_id]) == 0
    assert store.message_ids("bob") == bob_ids
    assert store.stats("alice").messages == 1


def test_same_message_for_two_users_is_stored_twice(store: SQLiteStore, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    write_mail(folder, 1)
    _ingest(store, tmp_path, "alice", folder)
    _ingest(store, tmp_path, "bob", folder)
    assert store.message_ids("alice") == store.message_ids("bob")
    assert store.stats("alice").messages == store.stats("bob").messages == 1


@pytest.mark.parametrize("bad", ["", "*", "a b", "../etc", "x" * 200, "a;DROP TABLE"])
def test_invalid_user_ids_are_refused(store: SQLiteStore, bad: str) -> None:
    with pytest.raises(InputError):
        store.stats(bad)


def test_filters_fts_and_deletion(store: SQLiteStore, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    write_mail(folder, 1, sender="Ann <ann@acme.example>", subject="Housing quote",
               body="The housings cost 4.20 USD each.")  # fmt: skip
    write_mail(folder, 5, sender="bob@example.com", to="ops@northwind.example",
               subject="Meetings next week", body="Let's schedule the meetings.")  # fmt: skip
    write_mail(folder, 9, sender="ann@acme.example", subject="Re: Housing quote",
               extra="In-Reply-To: <m1@example.com>\nReferences: <m1@example.com>\n",
               body="Delivery on 12 December.")  # fmt: skip
    _ingest(store, tmp_path, "u", folder)
    by_ann = store.list_messages("u", sender="ann@acme.example")
    assert [m.message_id for m in by_ann] == ["m9@example.com", "m1@example.com"]
    assert by_ann[0].thread_id == by_ann[1].thread_id
    assert [m.message_id for m in store.list_messages("u", recipient="ops@northwind.example")] == [
        "m5@example.com"
    ]
    after = store.list_messages("u", after=datetime(2026, 11, 5, tzinfo=UTC))
    assert {m.message_id for m in after} == {"m5@example.com", "m9@example.com"}
    hits = store.search_text("u", "meeting")  # porter stemming: "meetings" matches
    assert [h.message_id for h in hits] == [store.list_messages("u", sender="bob")[0].id]
    assert "[" in hits[0].snippet
    thread, msgs = store.get_thread("u", by_ann[0].thread_id)  # type: ignore[arg-type,misc]
    assert [m.message_id for m in msgs] == ["m1@example.com", "m9@example.com"]
    assert thread.message_ids == [m.id for m in msgs]
    assert store.delete_messages("u", [by_ann[0].id]) == 1
    assert store.search_text("u", "delivery") == []
    assert store.stats("u").messages == 2


def test_quarantine_keeps_reason_and_raw_copy(store: SQLiteStore, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    write_mail(folder, 1)
    (folder / "junk.eml").write_bytes(b"\x00\x01\x02 not mail at all")
    (folder / "empty.eml").write_bytes(b"")
    _ingest(store, tmp_path, "u", folder)
    q = {item.locator: item for item in store.list_quarantine("u")}
    assert set(q) == {"junk.eml", "empty.eml"}
    assert q["junk.eml"].reason.startswith("no RFC 5322 header")
    assert Path(q["junk.eml"].raw_path or "").read_bytes() == b"\x00\x01\x02 not mail at all"
    assert q["empty.eml"].reason == "empty input"
    # Re-running does not quarantine twice.
    _ingest(store, tmp_path, "u", folder)
    assert len(store.list_quarantine("u")) == 2
    rows = all_rows(store, "SELECT status FROM ingest_runs ORDER BY id")
    assert [r["status"] for r in rows] == ["completed", "completed"]
    # Raw copies are kept per user.
    assert Path(q["junk.eml"].raw_path or "").is_relative_to(tmp_path / "q" / "u")


def test_store_constructs_without_io(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "sub" / "db.sqlite3")
    assert not (tmp_path / "sub").exists()
    with pytest.raises(sqlite3.Error):
        sqlite3.connect(f"file:{tmp_path / 'sub' / 'db.sqlite3'}?mode=ro", uri=True).execute(
            "SELECT 1"
        )


def test_already_quarantined_counts_only_this_source(store: SQLiteStore, tmp_path: Path) -> None:
    # The same locator ("junk.eml") quarantined in two sources must not be counted twice.
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "junk.eml").write_bytes(b"\x00 not mail")
        _ingest(store, tmp_path, "u", folder)
    ingestor = Ingestor(store, quarantine_dir=tmp_path / "q", workers=0)
    again = ingestor.ingest("u", tmp_path / "a")
    assert (again.already_quarantined, again.duplicates, again.quarantined) == (1, 0, 0)
