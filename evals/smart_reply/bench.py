"""``mailmind bench reply``: latency of the smart-reply chip path, in process.

Measures :meth:`agents.smart_reply.SmartReplier.suggest` per message over (a) the demo mailbox,
ingested with its calendar and contacts into a temporary data dir, and (b) a deterministic
sample of Enron inbox messages (parsed in process and passed as messages; the Enron user has no
calendar). The real MiniLM embedder is used, and the response index is the Qdrant Edge shard.
Loading the model and building the index happen before timing; one warm-up call is discarded.
Latency is reported for all messages and for triggered ones only (those run the embedder; the
others stop at the header/text rules in well under a millisecond).
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.settings import REPO_ROOT, Settings

TARGET_P95_MS = 50.0
ENRON_ROOT = REPO_ROOT.parent / "shared" / "data" / "mail" / "enron_maildir"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(latencies: list[float]) -> dict[str, float | int]:
    """Count, p50, p95, max and mean of latencies in milliseconds."""
    return {
        "n": len(latencies),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        "max_ms": round(max(latencies), 2) if latencies else 0.0,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else 0.0,
    }


def enron_sample(root: Path = ENRON_ROOT, n: int = 200) -> list[Any]:
    """Every k-th message of the mailboxes' ``inbox`` folders, parsed (deterministic)."""
    from core.errors import ParseError
    from retrieval.sources.mail.parse import parse_message

    files = sorted(p for box in sorted(root.glob("*/inbox")) for p in box.rglob("*") if p.is_file())
    if not files or n <= 0:
        return []
    step = max(1, len(files) // n)
    messages = []
    for path in files[::step][:n]:
        try:
            messages.append(parse_message(path.read_bytes(), folder="inbox"))
        except ParseError:
            continue
    return messages


def run_reply_bench(
    settings: Settings,
    *,
    enron: int = 200,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns the JSON report (see the module docstring)."""
    from agents.smart_reply.service import SmartReplier
    from api.services import Services
    from retrieval.index.embeddings import load_embedder

    log = progress or (lambda _m: None)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    embedder = load_embedder(settings.embeddings)
    load_s = time.perf_counter() - t0
    report: dict[str, Any] = {
        "benchmark": "smart_reply",
        "embedder": embedder.name,
        "device": settings.embeddings.device,
        "torch_threads": threads,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "model_load_s": round(load_s, 2),
        "target_p95_ms": TARGET_P95_MS,
        "sets": {},
    }
    with tempfile.TemporaryDirectory(prefix="mailmind-bench-reply-") as tmp:
        data_dir = Path(tmp) / "data"
        services = Services(settings.scratch(data_dir))
        try:
            log("ingesting demo mail, calendar and contacts ...")
            for part in ("mail", "calendar", "contacts"):
                services.ingest_path("demo", REPO_ROOT / "demo" / part)
            t1 = time.perf_counter()
            replier = SmartReplier(
                embedder=embedder,
                calendar=services.pim.calendars,
                contacts=services.pim.contacts,
                data_dir=data_dir,
            )
            report["index_build_s"] = round(time.perf_counter() - t1, 2)
            demo = sorted(services.store.list_messages("demo", limit=1000), key=lambda m: m.id)
            replier.suggest(services.store, "demo", demo[0].id)  # warm-up: caches, first call
            sets: list[tuple[str, list[Any], bool]] = [("demo", demo, True)]
            sample = enron_sample(n=enron) if ENRON_ROOT.is_dir() else []
            if sample:
                sets.append(("enron_inbox_sample", sample, False))
            for name, messages, from_store in sets:
                log(f"timing {len(messages)} {name} messages ...")
                every: list[float] = []
                triggered: list[float] = []
                reasons: Counter[str] = Counter()
                for message in messages:
                    start = time.perf_counter()
                    if from_store:
                        result = replier.suggest(services.store, "demo", message.id)
                    else:
                        result = replier.suggest(message, "enron", message.id, user_emails=())
                    elapsed = (time.perf_counter() - start) * 1000
                    every.append(elapsed)
                    reasons[result.reason] += 1
                    if result.triggered:
                        triggered.append(elapsed)
                report["sets"][name] = {
                    "all": summarize(every),
                    "triggered": summarize(triggered),
                    "reasons": dict(reasons.most_common()),
                }
            replier.close()
        finally:
            services.close()
    all_triggered = [s["triggered"]["p95_ms"] for s in report["sets"].values()]
    report["p95_ok"] = all(p <= TARGET_P95_MS for p in all_triggered)
    return report


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of the report."""
    lines = [
        f"smart-reply latency ({report['embedder']}, {report['device']}, "
        f"torch threads {report['torch_threads'] or 'default'}); target p95 <= "
        f"{report['target_p95_ms']:.0f} ms",
        f"{'set':<22}{'subset':<11}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}",
    ]
    for name, data in report["sets"].items():
        for subset in ("all", "triggered"):
            s = data[subset]
            lines.append(
                f"{name:<22}{subset:<11}{s['n']:>5}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}"
                f"{s['max_ms']:>9.2f}"
            )
    for name, data in report["sets"].items():
        lines.append(f"{name} reasons: {data['reasons']}")
    lines.append(f"p95 within target: {report['p95_ok']}")
    return "\n".join(lines)
