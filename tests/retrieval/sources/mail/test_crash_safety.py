"""A SIGKILLed ingest resumes to exactly the store a clean run produces."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

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


def _snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    try:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}
    finally:
        conn.close()


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MAILMIND_DATA_DIR"] = str(data_dir)
    env["MAILMIND_STORE__BATCH_SIZE"] = "100"  # many commits, so the kill lands between some
    return env


def _ingest_cmd(path: Path) -> list[str]:
    # Indexing is covered by the retrieval tests; here only the store's convergence matters.
    return [sys.executable, "-m", "api.cli", "ingest", str(path), "--user", "alice", "--json",
            "--no-index"]  # fmt: skip


def _count(db: Path) -> int:
    try:
        conn = sqlite3.connect(db, timeout=1)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_sigkill_mid_ingest_then_rerun_converges(tmp_path: Path) -> None:
    source = shared_path("mail", "enron_maildir")
    clean_dir, killed_dir = tmp_path / "clean", tmp_path / "killed"
    subprocess.run(_ingest_cmd(source), env=_env(clean_dir), check=True, capture_output=True)
    expected = _snapshot(clean_dir / "mailmind.sqlite3")
    total = len(expected["messages"])

    db = killed_dir / "mailmind.sqlite3"
    proc = subprocess.Popen(
        [*_ingest_cmd(source), "--workers", "0"], env=_env(killed_dir),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if _count(db) >= 300:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _count(db)
    assert 0 < partial < total

    rerun = subprocess.run(_ingest_cmd(source), env=_env(killed_dir), check=True,
                           capture_output=True, text=True)  # fmt: skip
    import json

    report = json.loads(rerun.stdout)
    assert report["added"] == total - partial, (report, partial, total)
    assert _snapshot(db) == expected
