"""``mailmind sync --watch`` + ``mailmind worker`` as real processes against a real Dovecot and
a real redis-server: mail appended over IMAP while they run is stored, indexed and gets its
chips without any manual ingest; an expunged message leaves the index; both processes stop
cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient

from agents.precompute import CHIPS
from api.services import Services
from core.settings import REPO_ROOT, Settings
from tests.redis_server import Redis
from tests.retrieval.sources.sync.servers import Dovecot

pytestmark = [pytest.mark.server, pytest.mark.integration, pytest.mark.slow]


def _message(n: int) -> bytes:
    return (
        f"From: Kim Park <kim@example.org>\r\nTo: tester@example.org\r\n"
        f"Subject: watch test {n}\r\nMessage-ID: <watch-{n}@example.org>\r\n"
        f"Date: Mon, 04 Mar 2024 10:0{n}:00 +0000\r\n\r\n"
        f"Could we move the review {n} to Thursday afternoon?\r\n"
    ).encode()


def _chip_keys(store: Path) -> set[str]:
    try:
        with sqlite3.connect(store, timeout=30) as conn:
            rows = conn.execute(
                "SELECT key FROM precomputed WHERE user_id = 'alice' AND kind = ?", (CHIPS,)
            ).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return set()
    return {r[0] for r in rows}


def _wait(
    check: object, what: str, procs: list[subprocess.Popen[str]], seconds: float = 240
) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        for p in procs:
            assert p.poll() is None, f"{p.args} exited: {p.communicate()[1][-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_watch_and_worker_handle_new_mail(
    dovecot: Dovecot, redis_server: Redis, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    account = {
        "name": "test", "user": "alice", "host": "127.0.0.1", "port": dovecot.port,
        "tls": False, "username": dovecot.username, "password": dovecot.password,
        "folders": ["INBOX"],
    }  # fmt: skip
    env = dict(
        os.environ,
        MAILMIND_DATA_DIR=str(data),
        MAILMIND_SYNC__IMAP=json.dumps([account]),
        MAILMIND_EVENTS__BACKEND="redis",
        MAILMIND_EVENTS__URL=redis_server.url,
        MAILMIND_EVENTS__CLAIM_IDLE_S="5",
    )

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args], env=env, text=True, cwd=REPO_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    store = data / "mailmind.sqlite3"
    worker = start("worker", "--consumer", "w1", "--json")
    watcher = start("sync", "--watch", "--json")
    procs = [worker, watcher]
    try:
        # The seeded INBOX first ...
        _wait(lambda: len(_chip_keys(store)) == 12, "chips for the 12 seeded messages", procs)
        seeded = _chip_keys(store)
        # ... then mail appended while both run, with no ingest or sync command.
        with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as imap:
            imap.login(dovecot.username, dovecot.password)
            for n in range(3):
                imap.append("INBOX", _message(n))
            _wait(lambda: len(_chip_keys(store)) == 15, "chips for appended mail", procs)
            # Expunge one seeded message on the server.
            imap.select_folder("INBOX")
            first_uid = min(imap.search("ALL"))
            imap.delete_messages([first_uid])
            imap.expunge()

        def expunged() -> bool:
            with sqlite3.connect(store, timeout=30) as conn:
                return conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 14

        _wait(expunged, "the expunge to reach the store", procs)
        # Let the worker take the removal event off the stream before stopping it.
        import redis

        r = redis.Redis.from_url(redis_server.url)
        _wait(lambda: r.xlen("mailmind:events") == 0, "an empty stream", procs)
        r.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    worker_report, watch_report = (json.loads(o[0]) for o in outs)
    assert watch_report["added"] == 15 and watch_report["removed"] == 1
    assert watch_report["passes"] >= 3 and watch_report["errors"] == 0
    assert worker_report["handled"] == 16 and worker_report["dead"] == 0  # 15 stored, 1 removed

    settings = Settings(data_dir=data, _env_file=None)  # type: ignore[call-arg]
    services = Services(settings)
    try:
        ids = services.store.message_ids("alice")
        assert len(ids) == 14
        # The index follows the server: the appended mail in, the expunged message out.
        assert set(services.index.message_hashes("alice")) == ids
        new = {m.id for m in services.store.iter_messages("alice") if "watch test" in m.subject}
        assert len(new) == 3 and new <= _chip_keys(store) and seeded < _chip_keys(store)
    finally:
        services.close()
