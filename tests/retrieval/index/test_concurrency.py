"""One writer, many readers: real processes sharing users' Qdrant Edge shards.

A Qdrant Edge shard can be open in one process at a time. These tests run the real CLI in
subprocesses (``python -m api.cli``) over one data dir and prove that: searches keep answering
while the same user's mail is ingested and indexed; two indexing ingests of one user both
succeed and index every message exactly once; with a service running, CLI ingest/index hand the
indexing to it and a CLI search still gets its turn on the shard the service uses.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import qdrant_edge as qe

from api.services import Services
from core.errors import VectorIndexError
from core.settings import REPO_ROOT, IndexSettings, Settings
from retrieval.index.edge import USERS_DIR, user_dir_name
from retrieval.index.handoff import ServiceInfo, discover, publish, service_file, withdraw
from retrieval.index.lock import (
    LOCK_FILE,
    IndexLockTimeoutError,
    ShardLock,
    holder_pid,
    set_notifier,
)
from tests.conftest import shared_path

# Sentence vectors double the encoding work and change nothing about who may open a shard:
# leave them out so these tests spend their time on concurrency, not on MiniLM.
_ENV = {"MAILMIND_INDEX__SENTENCE_VECTORS": "false", "HF_HUB_OFFLINE": "1"}


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMIND_")}
    return {**env, **_ENV, "MAILMIND_DATA_DIR": str(data), **extra}


def _settings(data: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=data,
        index=IndexSettings(sentence_vectors=False),  # type: ignore[call-arg]
        _env_file=None,
    )


def _sample(source: Path, n: int, dest: Path) -> Path:
    """The first ``n`` message files of ``source`` (sorted) copied to ``dest``: enough mail for
    several write batches, little enough to keep the default test run lean."""
    dest.mkdir(parents=True)
    files = sorted(p for p in source.rglob("*") if p.is_file())[:n]
    for i, f in enumerate(files):
        shutil.copyfile(f, dest / f"{i:05d}.eml")
    return dest


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def _run(data: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cli(*args), env=_env(data), cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def _shard_dir(data: Path, user: str) -> Path:
    settings = _settings(data)
    return settings.index_dir / settings.index.collection / USERS_DIR / user_dir_name(user)


def _indexed(data: Path, user: str) -> Counter[tuple[str, int]]:
    """(message id, chunk) of every point in ``user``'s shard, read with the engine directly
    (call only when no other process uses the shard)."""
    shard = qe.EdgeShard.load(str(_shard_dir(data, user)))
    seen: Counter[tuple[str, int]] = Counter()
    try:
        offset = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(
                    offset=offset, limit=1024,
                    with_payload=qe.PayloadSelector.Include(["message_id", "chunk", "n_chunks"]),
                )
            )  # fmt: skip
            for rec in records:
                p = rec.payload or {}
                seen[(str(p["message_id"]), int(p["chunk"]))] += 1
                assert int(p["chunk"]) < int(p["n_chunks"])
            if offset is None:
                return seen
    finally:
        shard.close()


def _store_ids(data: Path, user: str) -> set[str]:
    svc = Services(_settings(data))
    try:
        return set(svc.store.message_ids(user))
    finally:
        svc.close()


def _assert_exactly_once(data: Path, user: str) -> int:
    """Every stored message of ``user`` is in the index once (each of its chunks one point,
    chunk 0 .. n-1, no duplicates), and nothing else is; returns the message count."""
    points = _indexed(data, user)
    assert points, "nothing indexed"
    assert max(points.values()) == 1, "a point is in the index twice"
    by_message: dict[str, set[int]] = {}
    for mid, chunk in points:
        by_message.setdefault(mid, set()).add(chunk)
    assert all(chunks == set(range(len(chunks))) for chunks in by_message.values())
    stored = _store_ids(data, user)
    assert set(by_message) == stored
    return len(stored)


# -- the lock and the service file, between real processes -------------------------------------

_HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.write(fd, str(os.getpid()).encode())
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _holder(folder: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(folder / LOCK_FILE), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_waits_for_another_process_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_notifier(None)  # notices on stderr (a CLI test in this process may have rerouted them)
    proc = _holder(tmp_path, 1.5)
    try:
        lock = ShardLock(tmp_path, timeout_s=30)
        started = time.monotonic()
        lock.acquire()
        waited = time.monotonic() - started
        assert lock.held and 0.5 < waited < 30
        assert holder_pid(tmp_path / LOCK_FILE) == os.getpid()
        lock.release()
    finally:
        proc.wait(timeout=30)
    err = capsys.readouterr().err
    assert f"waiting for the index lock held by PID {proc.pid}" in err


def test_lock_gives_up_after_the_timeout_with_the_holder(tmp_path: Path) -> None:
    proc = _holder(tmp_path, 30)
    try:
        lock = ShardLock(tmp_path, timeout_s=0.6)
        with pytest.raises(IndexLockTimeoutError, match=f"PID {proc.pid}") as info:
            lock.acquire()
        assert isinstance(info.value, VectorIndexError) and not lock.held
    finally:
        proc.kill()
        proc.wait()
    # the holder died: its flock went with it, the next taker does not wait
    lock = ShardLock(tmp_path, timeout_s=0.6)
    lock.acquire()
    lock.release()


def test_service_file_is_private_and_stale_files_are_ignored(tmp_path: Path) -> None:
    info = publish(tmp_path, "http://127.0.0.1:1")
    path = service_file(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert discover(tmp_path) is None  # our own file: a service never hands work to itself
    # the same file seen by another live process is a running service...
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(json.dumps({"url": info.url, "pid": other.pid, "token": info.token}))
        assert discover(tmp_path) == ServiceInfo(info.url, other.pid, info.token)
    finally:
        other.kill()
        other.wait()
    # ...and a dead one's is stale
    assert discover(tmp_path) is None
    withdraw(tmp_path, info)
    assert not path.exists()


# -- real CLI processes over one data dir ---------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
def test_search_answers_while_the_same_user_is_ingested_and_indexed(tmp_path: Path) -> None:
    source = _sample(shared_path("mail", "enron_maildir", "skilling-j"), 300, tmp_path / "mail")
    data = tmp_path / "data"
    log = (tmp_path / "ingest.err").open("w")
    ingest = subprocess.Popen(
        _cli("ingest", str(source), "--user", "alice", "--json"), env=_env(data), cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    svc = Services(_settings(data))
    counts: list[int] = []
    cli_searches: list[subprocess.CompletedProcess[str]] = []
    try:
        while ingest.poll() is None:
            # In this process: the shard is read between the writer's batches.
            hits = svc.searcher.search("alice", "energy trading market", limit=10)
            n = svc.index.count("alice")
            stored = set(svc.store.message_ids("alice"))
            assert {h.message_id for h in hits} <= stored  # only committed mail is found
            assert (n == 0) == (hits == [])  # something is found as soon as anything is
            counts.append(n)
            # In a separate process, now and then, the way a user runs it.
            if len(cli_searches) < 3 and n > 0 and len(counts) % 3 == 0:
                cli_searches.append(_run(data, "search", "energy", "--user", "alice", "--json"))
            time.sleep(0.5)
        out, _ = ingest.communicate(timeout=60)
    finally:
        if ingest.poll() is None:
            ingest.kill()
        svc.close()
        log.close()
    assert ingest.returncode == 0, (tmp_path / "ingest.err").read_text()[-3000:]
    report = json.loads(out)
    final = _assert_exactly_once(data, "alice")
    assert final == report["added"] >= 250
    assert report["index"]["embedded"] == final
    # searches ran while the index was partly written, and each saw a committed state
    assert counts == sorted(counts)
    assert any(0 < c < _point_count(data, "alice") for c in counts)
    assert cli_searches and all(r.returncode == 0 for r in cli_searches), [
        r.stderr[-2000:] for r in cli_searches
    ]
    for r in cli_searches:
        assert json.loads(r.stdout)["results"], r.stdout[:500]


def _point_count(data: Path, user: str) -> int:
    return sum(_indexed(data, user).values())


@pytest.mark.integration
@pytest.mark.slow
def test_two_indexing_ingests_of_one_user_both_succeed_and_index_each_message_once(
    tmp_path: Path,
) -> None:
    allen = shared_path("mail", "enron_maildir", "allen-p")
    first = _sample(allen / "discussion_threads", 150, tmp_path / "first")
    second = _sample(allen / "sent_items", 150, tmp_path / "second")
    data = tmp_path / "data"
    procs = [
        subprocess.Popen(
            _cli("ingest", str(folder), "--user", "bob", "--json"),
            env=_env(data),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in (first, second)
    ]
    results = [p.communicate(timeout=1800) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-3000:]
    reports = [json.loads(out) for out, _ in results]
    assert all(r["added"] > 0 for r in reports)
    total = _assert_exactly_once(data, "bob")
    assert total == sum(r["added"] for r in reports)


# -- with a running service -----------------------------------------------------------------------

_SERVER = """
import sys, uvicorn
from api.http.app import create_app
from core.settings import load_settings
app = create_app(load_settings(), warm=False)
app.state.public_url = f"http://127.0.0.1:{sys.argv[1]}"
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_command(data: Path, port: int) -> list[str]:
    """``mailmind serve`` when the default model is on disk (it loads it at startup), else
    uvicorn over the same app without loading it (the lifespan announces it the same way)."""
    from agents.llm.registry import ModelRegistry

    models = Settings(_env_file=None).model_cache_dir  # type: ignore[call-arg]
    registry = ModelRegistry(Settings(_env_file=None))  # type: ignore[call-arg]
    if registry.is_available(registry.spec()):
        data.mkdir(parents=True, exist_ok=True)
        (data / "models").symlink_to(models)
        return _cli("serve", "--port", str(port))
    return [sys.executable, "-c", _SERVER, str(port)]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Path, str, subprocess.Popen[str], str]]:
    """A real server process over a fresh data dir, and an API key of carol."""
    data = tmp_path / "data"
    port = _free_port()
    command = _server_command(data, port)
    svc = Services(_settings(data))
    try:
        svc.store.ensure_user("carol")
        _, token = svc.keys.create("carol")
    finally:
        svc.close()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        command, env=_env(data), cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
        stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while not service_file(data).exists() or discover(data) is None:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the service did not announce itself"
            time.sleep(0.2)
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        yield data, url, proc, token
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.server
def test_cli_hands_indexing_to_the_running_service(
    service: tuple[Path, str, subprocess.Popen[str], str],
) -> None:
    data, url, proc, token = service
    source = shared_path("mail", "enron_maildir", "allen-p", "inbox")
    announced = json.loads(service_file(data).read_text())
    assert announced["pid"] == proc.pid and announced["url"] == url
    assert service_file(data).stat().st_mode & 0o777 == 0o600

    ingest = _run(data, "ingest", str(source), "--user", "carol", "--json")
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    assert f"in the running service (PID {proc.pid}" in ingest.stderr
    report = json.loads(ingest.stdout)
    assert report["added"] > 0 and report["index"]["embedded"] == report["added"]
    # the service indexed it: the shard's lock was last taken by the service process
    assert holder_pid(_shard_dir(data, "carol") / LOCK_FILE) == proc.pid

    auth = {"Authorization": f"Bearer {token}"}
    found = httpx.get(
        f"{url}/v1/search", params={"q": "gas", "limit": 5}, headers=auth, timeout=120
    )
    assert found.status_code == 200, found.text
    hits = found.json()["results"]
    assert hits and {h["message_id"] for h in hits} <= _store_ids(data, "carol")

    # `mailmind index` hands off too: everything is already there
    again = _run(data, "index", "--user", "carol", "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    counts = json.loads(again.stdout)["users"]["carol"]
    assert (counts["embedded"], counts["unchanged"]) == (0, report["added"])

    # dropping the whole index under the service is refused (and nothing is dropped)
    refused = _run(data, "index", "--rebuild", "--json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["error"] == "index_error"
    assert _shard_dir(data, "carol").is_dir()

    # the service keeps the shard open between requests, yet a CLI search gets its turn
    cli = _run(data, "search", "gas", "--user", "carol", "--json")
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert json.loads(cli.stdout)["results"]
    # and the service answers again afterwards (it reopens the shard)
    found = httpx.get(
        f"{url}/v1/search", params={"q": "gas", "limit": 5}, headers=auth, timeout=120
    )
    assert found.status_code == 200 and found.json()["results"]

    # at shutdown the service withdraws its file; a CLI ingest then indexes by itself
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert not service_file(data).exists()
    assert _assert_exactly_once(data, "carol") == report["added"]


def test_internal_route_wants_the_service_token(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.http.app import create_app

    app = create_app(_settings(tmp_path / "data"), warm=False)
    with TestClient(app) as client:
        token = app.state.service_token
        assert json.loads(service_file(tmp_path / "data").read_text())["token"] == token
        for headers in ({}, {"X-Mailmind-Service-Token": "nope"}):
            r = client.post("/internal/index", json={"user": "dave"}, headers=headers)
            assert r.status_code == 403
        assert "/internal/index" not in client.get("/openapi.json").json()["paths"]
    assert not service_file(tmp_path / "data").exists()


_MAIL = """From: Ann <ann@example.com>
To: Erin <erin@example.com>
Subject: pipeline capacity {n}
Message-ID: <sync-{n}@example.com>
Date: Tue, 10 Nov 2026 09:1{n}:00 +0000

The pipeline capacity report number {n} is attached; compressor station notes follow.
"""


@pytest.mark.integration
def test_sync_indexes_the_mail_it_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from api.cli import build_app
    from retrieval.sources.sync import run as sync_run
    from retrieval.sources.sync.imap import MessageLocator

    def fake_run_sync(settings: Settings, **kwargs: object) -> dict[str, object]:
        on_message = kwargs["mail"][0]  # type: ignore[index]
        for n in range(3):
            raw = _MAIL.format(n=n).encode()
            on_message("erin", "INBOX", raw, MessageLocator("work", "INBOX", 7, n + 1))
        return {"imap": [{"account": "work"}], "dav": []}

    data = tmp_path / "data"
    monkeypatch.setattr(sync_run, "run_sync", fake_run_sync)
    for key, value in _env(data).items():
        if key.startswith("MAILMIND_"):
            monkeypatch.setenv(key, value)
    result = CliRunner().invoke(build_app(), ["sync", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["mail"]["added"] == 3
    assert summary["index"]["erin"]["embedded"] == 3
    assert _assert_exactly_once(data, "erin") == 3
