"""``mailmind bench api``: the HTTP service under a bounded load on loopback.

One run, in order:

1. A data dir (temporary unless given) gets the demo mailbox, calendar and contacts as user
   ``demo`` and an API key. The **floor** of a chip request is measured in process on the same
   messages: MiniLM encoding of the message's query text plus one Qdrant Edge query on the
   response index, nothing else (no trigger rules, no store read, no HTTP).
2. A real server is started as a subprocess (``python -m api.cli serve``) on a free 127.0.0.1
   port, and ``GET /v1/search``, ``POST /v1/smart-reply`` and ``GET /healthz`` each get
   ``requests`` requests one at a time (latency: what the targets are about) and again with
   ``concurrency`` in flight (throughput; latency then includes queueing), never for more than
   ``time_limit_s``; then a few ``POST /v1/chat``. p50/p95/max latency and throughput.
3. Overload: ``overload`` concurrent chats against a generation queue of one; every answer must
   be 200, 429 or 503 (with ``Retry-After``), none may hang past the client timeout.
4. Server RSS (current and peak, from ``/proc``) with every model loaded.

Every loop is bounded in count and time and talks only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from core.settings import REPO_ROOT, Settings
from evals.smart_reply.bench import summarize

#: Targets from issue 10 on this machine.
TARGETS = {
    "smart_reply_p95_ms": 50.0,
    "smart_reply_over_floor_p95": 1.5,
    "search_p95_ms": 30.0,
    "rss_mb": 1536.0,
}
SEARCH_QUERIES = [
    "housing quote", "meeting on Friday", "invoice", "flight", "dinner", "project update",
    "contract renewal", "budget", "schedule", "lunch", "report", "review", "deadline",
    "conference", "order",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of ``pid`` in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(
                int(value.split()[0]) / 1024, 1
            )
    return out


def prepare(
    settings: Settings, log: Callable[[str], None]
) -> tuple[str, list[str], dict[str, Any]]:
    """Ingest the demo data, create a key, and measure the chip floor in process.

    Returns the key, the demo message ids used for chips, and the floor's latency summary.
    """
    from agents.smart_reply.responses import load_responses
    from agents.smart_reply.service import query_text, shared_index
    from api.services import Services

    services = Services(settings)
    try:
        if services.store.stats("demo").messages == 0:
            for part in ("mail", "calendar", "contacts"):
                log(f"ingesting demo {part}")
                services.ingest_path("demo", REPO_ROOT / "demo" / part)
        _, key = services.keys.create("demo", name="bench")
        messages = [
            m
            for m in services.store.list_messages("demo", limit=200)
            if "sent" not in (m.folder or "").lower()
        ]
        ids = [m.id for m in messages]
        index = shared_index(load_responses(), services.embedder, settings.data_dir)
        texts = [query_text(m) for m in messages]
        for text in texts[:5]:  # warm-up, discarded
            index.scores(services.embedder.embed_query(text))
        floor: list[float] = []
        for _ in range(3):
            for text in texts:
                start = time.perf_counter()
                index.scores(services.embedder.embed_query(text))
                floor.append((time.perf_counter() - start) * 1000)
        index.close()
    finally:
        services.close()
    return key, ids, summarize(floor)


async def _load(
    name: str,
    call: Callable[[int], Awaitable[int]],
    *,
    requests: int,
    concurrency: int,
    time_limit_s: float,
) -> dict[str, Any]:
    """Run ``call(i)`` ``requests`` times, ``concurrency`` at once, within ``time_limit_s``."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    next_i = 0
    deadline = time.monotonic() + time_limit_s
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal next_i
        while next_i < requests and time.monotonic() < deadline:
            i = next_i
            next_i += 1
            t0 = time.perf_counter()
            try:
                status = await call(i)
            except Exception:  # noqa: BLE001 - a transport error is a result to report
                status = -1
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[status] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "endpoint": name,
        **summarize(latencies),
        "throughput_rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


async def _drive(
    url: str, key: str, ids: list[str], *, requests: int, concurrency: int, time_limit_s: float,
    chats: int, overload: int,
) -> dict[str, Any]:  # fmt: skip
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    results: dict[str, Any] = {}
    limits = httpx.Limits(max_connections=max(concurrency, overload) + 4)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=120, limits=limits
    ) as client:

        async def search(i: int) -> int:
            q = SEARCH_QUERIES[i % len(SEARCH_QUERIES)]
            return (await client.get("/v1/search", params={"q": q, "limit": 10})).status_code

        async def chip(i: int) -> int:
            body = {"message_id": ids[i % len(ids)]}
            return (await client.post("/v1/smart-reply", json=body)).status_code

        async def health(_i: int) -> int:
            return (await client.get("/healthz")).status_code

        async def chat(i: int) -> int:
            body = {"messages": [{"role": "user", "content": SEARCH_QUERIES[i % 5]}]}
            return (await client.post("/v1/chat", json=body)).status_code

        for name, call in (("search", search), ("smart_reply", chip), ("healthz", health)):
            for i in range(10):  # warm-up, discarded
                await call(i)
            # Latency (the targets): one request at a time, as a mail client asks for chips.
            results[name] = await _load(
                name, call, requests=requests, concurrency=1, time_limit_s=time_limit_s
            )
            # Throughput: ``concurrency`` in flight (latency then includes queueing on 2 cores).
            results[f"{name}_x{concurrency}"] = await _load(
                f"{name}_x{concurrency}", call, requests=requests, concurrency=concurrency,
                time_limit_s=time_limit_s,
            )  # fmt: skip
        results["chat"] = await _load(
            "chat", chat, requests=chats, concurrency=1, time_limit_s=time_limit_s
        )
        # Overload: every chat at once against a queue of one.
        retry_after: list[str] = []

        async def burst(i: int) -> int:
            body = {"messages": [{"role": "user", "content": SEARCH_QUERIES[i % 5]}]}
            r = await client.post("/v1/chat", json=body)
            if r.status_code in (429, 503):
                retry_after.append(r.headers.get("retry-after", ""))
            return r.status_code

        over = await _load(
            "chat_overload", burst, requests=overload, concurrency=overload,
            time_limit_s=time_limit_s,
        )  # fmt: skip
        over["retry_after_present"] = all(retry_after)
        results["chat_overload"] = over
    return results


def run_api_bench(
    settings: Settings,
    *,
    requests: int = 200,
    concurrency: int = 4,
    time_limit_s: float = 60.0,
    chats: int = 5,
    overload: int = 12,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); returns the JSON report."""
    say = log or (lambda _m: None)
    with tempfile.TemporaryDirectory(prefix="mailmind-bench-api-") as tmp:
        data = Path(tmp)
        (data / "models").symlink_to(settings.model_cache_dir.resolve())
        bench_settings = Settings(data_dir=data, _env_file=None)  # type: ignore[call-arg]
        key, ids, floor = prepare(bench_settings, say)
        port = _free_port()
        env = {
            **os.environ,
            "MAILMIND_DATA_DIR": str(data),
            "MAILMIND_SERVER__GENERATION_QUEUE": "1",
            "MAILMIND_SERVER__RATE_LIMIT": "1000000/minute",
            "MAILMIND_AGENT__ANSWER_TOKENS": "48",
            "HF_HUB_OFFLINE": "1",
        }
        say(f"starting the server on 127.0.0.1:{port}")
        # The server's log goes to a file: a pipe nobody reads would fill up and stall it.
        server_log = (data / "server.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=server_log,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, proc, data / "server.log", timeout_s=300)
            say("server ready; driving load")
            results = asyncio.run(
                _drive(
                    url, key, ids, requests=requests, concurrency=concurrency,
                    time_limit_s=time_limit_s, chats=chats, overload=overload,
                )
            )  # fmt: skip
            memory = _rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            server_log.close()
    chip = results["smart_reply"]
    ratio = round(chip["p95_ms"] / floor["p95_ms"], 2) if floor["p95_ms"] else None
    over_ok = set(results["chat_overload"]["statuses"]) <= {"200", "429", "503"}
    checks = {
        "smart_reply_p95_ms": chip["p95_ms"] <= TARGETS["smart_reply_p95_ms"],
        "smart_reply_over_floor_p95": ratio is not None
        and ratio <= TARGETS["smart_reply_over_floor_p95"],
        "search_p95_ms": results["search"]["p95_ms"] <= TARGETS["search_p95_ms"],
        "rss_mb": memory.get("peak_rss_mb", 0.0) <= TARGETS["rss_mb"],
        "overload_only_429_503": over_ok and results["chat_overload"]["retry_after_present"],
    }
    return {
        "bench": "api",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "params": {
            "requests": requests,
            "concurrency": concurrency,
            "time_limit_s": time_limit_s,
            "chats": chats,
            "overload": overload,
        },
        "floor_chip_in_process": floor,
        "endpoints": results,
        "smart_reply_over_floor_p95": ratio,
        "server_memory": memory,
        "targets": TARGETS,
        "checks": checks,
    }


def _wait_ready(
    url: str, proc: subprocess.Popen[bytes], log_path: Path, *, timeout_s: float
) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the server exited with {proc.returncode}: {err}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server was not ready within {timeout_s:.0f} s")


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of the report."""
    head = f"{'endpoint':<14} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'req/s':>7}"
    lines = [head + "  statuses"]
    for r in report["endpoints"].values():
        lines.append(
            f"{r['endpoint']:<14} {r['n']:>5} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8} "
            f"{r['throughput_rps']:>7}  {r['statuses']}"
        )
    f = report["floor_chip_in_process"]
    lines.append(f"chip floor in process: p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms")
    lines.append(f"smart-reply p95 / floor p95: {report['smart_reply_over_floor_p95']}")
    lines.append(f"server memory: {report['server_memory']}")
    lines.append(
        "checks: " + ", ".join(f"{k}={'ok' if v else 'MISS'}" for k, v in report["checks"].items())
    )
    return "\n".join(lines)
