"""``mailmind bench events``: end-to-end latency of event-driven ingest.

Mail appended to an IMAP folder (the first configured IMAP account, e.g. a Dovecot) → the
watcher (``mailmind sync --watch``, IMAP IDLE) stores it and publishes ``message.stored`` → a
worker (``mailmind worker`` with Redis, the watcher's own consumer in-process) indexes it and
precomputes its chips → the chips row is in the store. The watcher and workers are real
processes over a data dir of their own (temporary unless given); the bench appends one message
at a time with IMAP ``APPEND`` and polls the store for the message row (``stored``) and its chip
row (``chips``), so each latency is one message's, not a queue's throughput.

Every wait is bounded; only the configured IMAP server and 127.0.0.1 are contacted.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ConfigError, MailmindError
from core.settings import REPO_ROOT, MailAccount, Settings
from evals.smart_reply.bench import summarize


def _message(run: str, n: int) -> bytes:
    return (
        "From: Kim Park <kim@example.org>\r\nTo: you@example.org\r\n"
        f"Subject: bench {run} {n}: review on Thursday?\r\n"
        f"Message-ID: <bench-{run}-{n}@example.org>\r\n"
        "Date: Mon, 30 Nov 2026 09:00:00 +0000\r\n\r\n"
        f"Hi, could we move review {n} to Thursday at 3pm? Let me know if that works.\r\n"
    ).encode()


def _rows(store: Path, sql: str, args: tuple[Any, ...]) -> int:
    try:
        with sqlite3.connect(store, timeout=30) as conn:
            return int(conn.execute(sql, args).fetchone()[0])
    except sqlite3.OperationalError:  # the store or the table is not there yet
        return 0


def _chips(store: Path, user: str) -> int:
    return _rows(
        store, "SELECT COUNT(*) FROM precomputed WHERE user_id = ? AND kind = 'chips'", (user,)
    )


_STORED = "SELECT COUNT(*) FROM messages WHERE id = ?"
_CHIPS = "SELECT COUNT(*) FROM precomputed WHERE kind = 'chips' AND key = ?"


def _present(store: Path, sql: str, key: str) -> Callable[[], bool]:
    return lambda: _rows(store, sql, (key,)) > 0


def _wait(check: Callable[[], bool], seconds: float, procs: list[subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        for p in procs:
            if p.poll() is not None:
                raise MailmindError(f"{p.args!r} exited with {p.returncode}")
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def run_events_bench(
    settings: Settings,
    *,
    messages: int = 20,
    workers: int = 1,
    timeout_s: float = 60.0,
    data_dir: Path | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Append ``messages`` messages one at a time and time each to ``stored`` and ``chips``."""
    from imapclient import IMAPClient

    from retrieval.sources.mail.parse import parse_message
    from retrieval.sources.sync.imap import connect_imap

    if not settings.sync.imap:
        raise ConfigError("bench events needs an IMAP account: set MAILMIND_SYNC__IMAP")
    account: MailAccount = settings.sync.imap[0]
    folder = account.folders[0] if account.folders != ["*"] else "INBOX"
    tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="mailmind-bench-events-")
    data = data_dir or Path(tmp.name)  # type: ignore[union-attr]
    store = data / "mailmind.sqlite3"
    env = dict(os.environ, MAILMIND_DATA_DIR=str(data))
    if settings.events.backend == "redis":
        env |= {"MAILMIND_EVENTS__BACKEND": "redis", "MAILMIND_EVENTS__URL": settings.events.url}

    def start(*args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args], env=env, cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    imap: IMAPClient = connect_imap(account)
    procs: list[subprocess.Popen[bytes]] = []
    run = uuid.uuid4().hex[:8]
    stored_ms: list[float] = []
    chips_ms: list[float] = []
    missed = 0
    try:
        existing = int(imap.select_folder(folder)[b"EXISTS"])
        if settings.events.backend == "redis":
            procs += [start("worker", "--consumer", f"bench-{i}") for i in range(workers)]
        procs.append(start("sync", "--watch"))
        log(f"waiting for the initial sync of {existing} messages")
        if not _wait(lambda: _chips(store, account.user) >= existing, 600, procs):
            raise MailmindError("the initial sync did not finish within 600 s")
        for n in range(messages):
            raw = _message(run, n)
            mid = parse_message(raw).id
            t0 = time.perf_counter()
            imap.append(folder, raw)
            ok = _wait(_present(store, _STORED, mid), timeout_s, procs)
            t_stored = time.perf_counter()
            ok = ok and _wait(_present(store, _CHIPS, mid), timeout_s, procs)
            if not ok:
                missed += 1
                log(f"message {n}: not ready within {timeout_s} s")
                continue
            stored_ms.append((t_stored - t0) * 1000)
            chips_ms.append((time.perf_counter() - t0) * 1000)
            log(f"message {n}: stored {stored_ms[-1]:.0f} ms, chips {chips_ms[-1]:.0f} ms")
    finally:
        with contextlib.suppress(Exception):  # the report matters more than a clean logout
            imap.logout()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        if tmp is not None:
            tmp.cleanup()
    return {
        "bench": "events",
        "backend": settings.events.backend,
        "workers": workers if settings.events.backend == "redis" else 0,
        "messages": messages,
        "missed": missed,
        "summaries": settings.events.summaries,
        "append_to_stored": summarize(stored_ms),
        "append_to_chips": summarize(chips_ms),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def format_report(report: dict[str, Any]) -> str:
    """A few lines for humans."""
    lines = [
        f"mailmind bench events — backend {report['backend']}, {report['messages']} messages "
        f"appended one at a time ({report['missed']} missed)",
    ]
    for key, label in (
        ("append_to_stored", "append → stored"),
        ("append_to_chips", "append → chips"),
    ):
        s = report[key]
        lines.append(
            f"  {label:18} median {s['p50_ms']:8.1f} ms   p95 {s['p95_ms']:8.1f} ms   "
            f"max {s['max_ms']:8.1f} ms"
        )
    return "\n".join(lines)
