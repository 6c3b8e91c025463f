"""A SIGKILLed ingest resumes to exactly the store a clean run produces (SQLite and Postgres)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TABLES = {
    "messages": "SELECT user_id, id, message_id, thread_id, folder, locator, subject, from_email, "
    "date_ts, content_hash, new_text, has_attachments FROM messages ORDER BY id",
    "threads": "SELECT user_id, id, subject, message_count, first_ts, last_ts FROM threads "
    "ORDER BY id",
    "locations": "SELECT user_id, message_id, locator, folder FROM message_locations "
    "ORDER BY locator",
    "addresses": "SELECT a.kind, a.email, a.name, m.id FROM message_addresses a "
    "JOIN messages m ON m.rowid = a.message_rowid ORDER BY m.id, a.kind, a.email",
    "attachments": "SELECT a.filename, a.content_type, a.size, m.id FROM attachments a "
    "JOIN messages m ON m.rowid = a.message_rowid ORDER BY m.id, a.id",
    "quarantine": "SELECT user_id, locator, reason, content_hash FROM quarantine ORDER BY locator",
    "fts": "SELECT COUNT(*) FROM messages_fts",
}
#: The Postgres form of the full-text check: every message has its search vector.
PG_FTS = "SELECT COUNT(*) FROM messages WHERE fts IS NOT NULL AND fts <> ''::tsvector"

#: A snapshot of one store: the rows of each query in :data:`TABLES`.
Snapshot = dict[str, list[tuple[object, ...]]]


class _Backend:
    """Where one run's store lives and how the test reads it behind the ingest's back."""

    def __init__(self, data_dir: Path, url: str | None) -> None:
        self.data_dir, self.url = data_dir, url

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MAILMIND_DATA_DIR"] = str(self.data_dir)
        env["MAILMIND_STORE__BATCH_SIZE"] = "100"  # many commits, so the kill lands between some
        if self.url is not None:
            env["MAILMIND_STORE__BACKEND"] = "postgres"
            env["MAILMIND_STORE__URL"] = self.url
        return env

    def _query(self, run: Callable[[Callable[[str], list[Any]]], Any]) -> Any:
        if self.url is None:
            conn = sqlite3.connect(self.data_dir / "mailmind.sqlite3", timeout=1)
            try:
                return run(lambda sql: conn.execute(sql).fetchall())
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            # Maintenance visibility: row-level security hides rows from a session naming
            # no user.
            pg.execute("SET app.admin = 'on'")
            return run(lambda sql: [tuple(r) for r in pg.execute(sql.encode()).fetchall()])

    def snapshot(self) -> Snapshot:
        tables = dict(TABLES, fts=PG_FTS) if self.url is not None else TABLES
        return self._query(lambda q: {name: q(sql) for name, sql in tables.items()})  # type: ignore[no-any-return]

    def count(self) -> int:
        try:
            return int(self._query(lambda q: q("SELECT COUNT(*) FROM messages")[0][0]))
        except Exception:  # noqa: BLE001 - not created yet: nothing stored
            return 0


def _ingest_cmd(path: Path) -> list[str]:
    # Indexing is covered by the retrieval tests; here only the store's convergence matters.
    return [sys.executable, "-m", "api.cli", "ingest", str(path), "--user", "alice", "--json",
            "--no-index"]  # fmt: skip


def _backends(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[_Backend, _Backend]:
    """The clean run's store and the killed run's store, on the parametrised backend."""
    dirs = (tmp_path / "clean", tmp_path / "killed")
    if request.node.callspec.params["store_backend"] == "sqlite":
        return _Backend(dirs[0], None), _Backend(dirs[1], None)
    from tests.pg_server import PostgresServer

    server: PostgresServer = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_migrated")
    urls = []
    for d in dirs:
        name = f"crash_{d.name}_{os.getpid()}"
        server.drop_database(name)
        urls.append(server.create_database(name, template=template))
        request.addfinalizer(lambda name=name: server.drop_database(name))
    return _Backend(dirs[0], urls[0]), _Backend(dirs[1], urls[1])


def test_sigkill_mid_ingest_then_rerun_converges(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source = shared_path("mail", "enron_maildir")
    clean, killed = _backends(request, tmp_path)
    subprocess.run(_ingest_cmd(source), env=clean.env(), check=True, capture_output=True)
    expected = clean.snapshot()
    total = len(expected["messages"])

    proc = subprocess.Popen(
        [*_ingest_cmd(source), "--workers", "0"], env=killed.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if killed.count() >= 300:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = killed.count()
    assert 0 < partial < total

    rerun = subprocess.run(_ingest_cmd(source), env=killed.env(), check=True,
                           capture_output=True, text=True)  # fmt: skip
    import json

    report = json.loads(rerun.stdout)
    assert report["added"] == total - partial, (report, partial, total)
    assert killed.snapshot() == expected
