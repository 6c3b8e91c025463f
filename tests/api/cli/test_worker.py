"""``mailmind worker`` as real processes on a real redis-server: a worker SIGKILLed in the middle
of its batch loses nothing and doubles nothing (another worker reclaims its pending events and
the handlers are idempotent); a poison event is dead-lettered with its error while the rest
flow; and the command refuses the in-process bus."""

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

from agents.precompute import CHIPS, SUMMARY
from api.services import Services
from core.settings import REPO_ROOT, Settings
from retrieval.events.base import MESSAGE_STORED, Event
from retrieval.index.chunking import chunk_message
from tests.redis_server import Redis


def _env(settings: Settings, redis: Redis | None) -> dict[str, str]:
    env = dict(os.environ, MAILMIND_DATA_DIR=str(settings.data_dir))
    if redis is not None:
        env |= {
            "MAILMIND_EVENTS__BACKEND": "redis",
            "MAILMIND_EVENTS__URL": redis.url,
            "MAILMIND_EVENTS__STREAM": settings.events.stream,
            "MAILMIND_EVENTS__CLAIM_IDLE_S": str(settings.events.claim_idle_s),
            "MAILMIND_EVENTS__BATCH_SIZE": str(settings.events.batch_size),
        }
    return env


def _worker(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT,
    )  # fmt: skip


def _chips_done(settings: Settings, user: str) -> int:
    """Chip rows written so far, read straight from SQLite (the worker owns the shard)."""
    with sqlite3.connect(settings.store_path, timeout=30) as conn:
        try:
            row = conn.execute(
                "SELECT COUNT(*) FROM precomputed WHERE user_id = ? AND kind = ?", (user, CHIPS)
            ).fetchone()
        except sqlite3.OperationalError:  # the worker has not created the table yet
            return 0
    return int(row[0])


@pytest.mark.integration
@pytest.mark.server
@pytest.mark.slow
def test_killed_worker_loses_and_doubles_nothing(tmp_path: Path, redis_server: Redis) -> None:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    settings.events.backend = "redis"
    settings.events.url = redis_server.url
    settings.events.claim_idle_s = 1.0
    services = Services(settings)
    services.ingest_path("alice", REPO_ROOT / "demo" / "mail", index=False)
    messages = sorted(services.store.iter_messages("alice"), key=lambda m: m.id)
    ids = [m.id for m in messages]
    n = len(ids)
    assert n >= 20
    # One batch holds every event: killing the worker between its first and last chip row is
    # killing it mid-batch, with unacked events left pending for certain.
    settings.events.batch_size = n + 1
    poison = Event(MESSAGE_STORED, "Not A User", ids[0], origin="test")
    services.event_bus.publish([*[Event(MESSAGE_STORED, "alice", i) for i in ids[:5]], poison])
    services.publish_stored("alice", ids[5:], origin="test")
    services.close()

    env = _env(settings, redis_server)
    first = _worker(["--consumer", "first"], env)
    try:
        deadline = time.monotonic() + 240
        while _chips_done(settings, "alice") < 3:
            assert first.poll() is None, first.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the first worker handled nothing"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    done_by_first = _chips_done(settings, "alice")
    assert 3 <= done_by_first < n

    services = Services(settings)
    stats = services.event_bus.stats()
    orphaned = stats.pending
    assert orphaned >= n - done_by_first  # the killed worker's unacked events
    services.close()

    second = _worker(["--consumer", "second", "--idle-exit", "3", "--json"], env)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-3000:]
    report = json.loads(out)
    assert report["consumer"] == "second"
    assert report["reclaimed"] == orphaned

    services = Services(settings)
    try:
        # Every message indexed once: exactly its chunks, no duplicate points, none missing.
        cfg = settings.index
        chunks = sum(len(chunk_message(m, cfg.chunk_words, cfg.chunk_overlap)) for m in messages)
        assert services.index.count("alice") == chunks
        assert sorted(services.index.message_hashes("alice")) == ids
        # One chip set per message and one summary per thread, each written once.
        chips = services.precomputed.keys("alice", CHIPS)
        assert [k for k, _ in chips] == ids
        summaries = services.precomputed.keys("alice", SUMMARY)
        assert sorted(k for k, _ in summaries) == sorted({m.thread_id for m in messages})
        # The poison event, and only it, is in the dead-letter stream, with its error.
        (dead,) = services.event_bus.dead_letters()
        assert dead.event.user == "Not A User"
        assert dead.error.startswith("InputError:") and "Not A User" in dead.error
        stats = services.event_bus.stats()
        assert (stats.lag, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 1)
    finally:
        services.close()


def test_worker_refuses_the_inprocess_bus(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    env = _env(settings, None) | {"MAILMIND_EVENTS__BACKEND": "inprocess"}
    proc = _worker(["--json", "--idle-exit", "0"], env)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1
    body = json.loads(out)
    assert body["error"] == "config_error" and "MAILMIND_EVENTS__BACKEND=redis" in body["message"]


@pytest.mark.integration
@pytest.mark.server
def test_events_command_shows_and_replays_dead_letters(tmp_path: Path, redis_server: Redis) -> None:
    from typer.testing import CliRunner

    from api.cli import build_app

    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    settings.events.backend = "redis"
    settings.events.url = redis_server.url
    services = Services(settings)
    bus = services.event_bus
    bus.publish(
        [
            Event(MESSAGE_STORED, "alice", "m" + "1" * 20),
            Event(MESSAGE_STORED, "bob", "m" + "2" * 20),
        ]
    )
    first, _in_progress = bus.read("w", count=2, block_s=0.5)
    bus.dead_letter(first, error="ModelError: weights missing", consumer="w")
    services.close()

    app, runner = build_app(settings), CliRunner()

    def run(*args: str) -> dict[str, object]:
        result = runner.invoke(app, ["events", *args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    assert run("stats") == {
        "lag": 0,
        "pending": 1,
        "delayed": 0,
        "dead": 1,
        "oldest_pending_s": pytest.approx(0, abs=30),
    }
    (dead,) = run("dead")["dead"]  # type: ignore[misc]
    assert (dead["user"], dead["key"], dead["error"]) == (
        "alice",
        "m" + "1" * 20,
        "ModelError: weights missing",
    )
    assert run("replay") == {"replayed": 1}
    stats = run("stats")
    assert (stats["lag"], stats["dead"]) == (1, 0)

    settings.events.backend = "inprocess"
    result = runner.invoke(build_app(settings), ["events", "stats", "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["error"] == "config_error"
