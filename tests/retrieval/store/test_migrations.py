"""One SQLite home, one migration mechanism: fresh databases, adopted legacy ones, newer ones."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import MigrationError
from core.settings import Settings
from retrieval.sources.calendar.parse import parse_ics
from retrieval.store import calendar as calendar_mod
from retrieval.store import contacts as contacts_mod
from retrieval.store import keys as keys_mod
from retrieval.store.calendar import CalendarStore
from retrieval.store.contacts import ContactStore
from retrieval.store.keys import KeyStore
from retrieval.store.migrations import (
    MIGRATIONS,
    apply_migrations,
    schema_versions,
    split_statements,
)
from retrieval.store.pim import open_pim
from retrieval.store.pim_sqlite import connect
from retrieval.store.sqlite import SQLiteStore

ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:standup-1@example.com
DTSTAMP:20261101T090000Z
DTSTART:20261110T170000Z
DTEND:20261110T173000Z
SUMMARY:Standup
END:VEVENT
END:VCALENDAR
"""
WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_fresh_database_gets_every_component_at_its_latest_version(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    store = SQLiteStore(settings.store_path)
    assert store.migrate() == len(MIGRATIONS) == 2
    pim = open_pim(settings)
    keys = KeyStore(connect(settings.store_path))
    try:
        # All components share the one store file and the one version table.
        assert pim.calendars.conn.execute("PRAGMA database_list").fetchone()[2] == str(
            settings.store_path
        )
        assert schema_versions(store.conn) == {
            "mail": len(MIGRATIONS),
            "calendar": len(calendar_mod.MIGRATIONS),
            "contacts": len(contacts_mod.MIGRATIONS),
            "imap_sync": 1,
            "dav_sync": 1,
            "api_keys": len(keys_mod.MIGRATIONS),
        }
        tables = _tables(store.conn)
        assert {"messages", "quarantine", "cal_components", "contact_cards", "imap_folders"} <= (
            tables
        )
        assert {"dav_items", "api_keys"} <= tables
        assert "schema_version" not in tables and "pim_schema" not in tables
        assert not (tmp_path / "pim.sqlite3").exists()
        columns = {r["name"] for r in store.conn.execute("PRAGMA table_info(quarantine)")}
        assert "truncated" in columns
        # Re-opening applies nothing and changes nothing.
        assert store.migrate() == len(MIGRATIONS)
        CalendarStore(pim.calendars.conn)
        assert schema_versions(store.conn)["calendar"] == len(calendar_mod.MIGRATIONS)
    finally:
        pim.close()
        keys.close()
        store.close()


def _legacy_database(path: Path) -> None:
    """A database as the previous code wrote it: ``schema_version`` for mail at v1, and
    ``pim_schema`` rows for the calendar and contacts written by ``ensure_schema``."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version(version) VALUES (1)")
    conn.execute("INSERT INTO users(id, created_at) VALUES ('alice', '2026-11-01T00:00:00')")
    conn.execute(
        "INSERT INTO quarantine(user_id, locator, reason, size, created_at) "
        "VALUES ('alice', 'junk.eml', 'no RFC 5322 header', 9, '2026-11-01T00:00:00')"
    )
    conn.execute("CREATE TABLE pim_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    conn.executescript(calendar_mod._V1 + contacts_mod._V1)
    conn.execute("INSERT INTO pim_schema VALUES ('calendar', 1), ('contacts', 1)")
    conn.commit()
    conn.close()


def test_legacy_version_tables_are_adopted_without_data_loss(tmp_path: Path) -> None:
    db = tmp_path / "mailmind.sqlite3"
    _legacy_database(db)
    legacy_cal = CalendarStore(sqlite3.connect(":memory:"))
    legacy_cal.replace_source("alice", "file:x.ics", parse_ics(ICS, "x").components, calendar="c")
    row = legacy_cal.conn.execute("SELECT * FROM cal_components").fetchone()
    conn = sqlite3.connect(db)
    conn.execute(
        f"INSERT INTO cal_components VALUES ({','.join('?' * len(row.keys()))})", tuple(row)
    )
    conn.commit()
    conn.close()

    store = SQLiteStore(db)
    assert store.migrate() == 2  # v1 adopted, only v2 applied
    items = store.list_quarantine("alice")
    assert [(q.locator, q.reason, q.truncated) for q in items] == [
        ("junk.eml", "no RFC 5322 header", False)
    ]
    assert store.users() == ["alice"]
    tables = _tables(store.conn)
    assert "schema_version" not in tables
    assert "pim_schema" in tables  # contacts is not adopted yet
    cal = CalendarStore(db)
    events = cal.events_between("alice", *WINDOW)
    assert [e.uid for e in events] == ["standup-1@example.com"]
    ContactStore(cal.conn)
    assert "pim_schema" not in _tables(store.conn)  # every row adopted: the table goes
    assert schema_versions(store.conn) == {"mail": 2, "calendar": 1, "contacts": 1}
    cal.close()
    store.close()


def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "mailmind.sqlite3"
    store = SQLiteStore(db)
    store.migrate()
    CalendarStore(store.conn)
    store.conn.execute("UPDATE schema_versions SET version = version + 1")
    with pytest.raises(MigrationError, match="upgrade mailmind"):
        store.migrate()
    with pytest.raises(MigrationError, match=r"calendar tables .* schema v2"):
        CalendarStore(db)
    store.close()


def test_legacy_newer_version_is_refused_too(tmp_path: Path) -> None:
    db = tmp_path / "mailmind.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version(version) VALUES (7)")
    conn.commit()
    conn.close()
    store = SQLiteStore(db)
    with pytest.raises(MigrationError, match="v7"):
        store.migrate()
    store.close()
    # Refused means untouched: the legacy record is still there for the newer code.
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(7,)]
    conn.close()


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db.sqlite3")
    good = ["CREATE TABLE t1 (x INTEGER)"]
    assert apply_migrations(conn, "demo", [good]) == 1
    with pytest.raises(MigrationError, match="demo to v3"):
        apply_migrations(
            conn, "demo", [good, ["CREATE TABLE t2 (x INTEGER)"], ["CREATE TABLE t1 (y)"]]
        )
    assert schema_versions(conn)["demo"] == 1
    assert "t2" not in _tables(conn)  # v2 rolled back with v3
    conn.close()


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    script = """
    CREATE TABLE a (x);
    CREATE TRIGGER a_ai AFTER INSERT ON a BEGIN
        INSERT INTO a VALUES (1);
        INSERT INTO a VALUES (2);
    END;
    CREATE INDEX ix ON a (x);
    """
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END")


def test_legacy_pim_file_is_imported_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    legacy = CalendarStore(tmp_path / "pim.sqlite3")
    legacy.replace_source("alice", "file:x.ics", parse_ics(ICS, "x").components, calendar="c")
    ContactStore(legacy.conn)
    legacy.conn.execute(
        "INSERT INTO mail_people VALUES ('alice', 'bo@example.com', '{}', 1, 0, NULL)"
    )
    legacy.conn.commit()
    legacy.close()
    pim = open_pim(settings)
    try:
        assert [e.uid for e in pim.calendars.events_between("alice", *WINDOW)] == [
            "standup-1@example.com"
        ]
        assert [c.emails for c in pim.contacts.contacts("alice")] == [["bo@example.com"]]
    finally:
        pim.close()
    assert not (tmp_path / "pim.sqlite3").exists()
    assert (tmp_path / "pim.sqlite3.imported").exists()
    pim = open_pim(settings)  # a second open imports nothing twice
    try:
        assert pim.calendars.count("alice") == 1
    finally:
        pim.close()
