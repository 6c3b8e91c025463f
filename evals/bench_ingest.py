"""``mailmind bench ingest``: parse+store throughput into a fresh store, median of runs.

Each run ingests the whole source into a new temporary data dir (so nothing is a duplicate) with
the default settings and worker count, and a single-process run is reported beside it so the
effect of the parser pool is visible.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core.settings import REPO_ROOT, Settings


def default_enron_path() -> Path:
    """``../shared/data/mail/enron_maildir`` next to the checkout."""
    return REPO_ROOT.parent / "shared" / "data" / "mail" / "enron_maildir"


def _one_run(source: Path, workers: int | None) -> dict[str, float]:
    from api.services import Services

    with tempfile.TemporaryDirectory(prefix="mailmind-bench-") as tmp:
        services = Services(Settings(data_dir=Path(tmp)))  # type: ignore[call-arg]
        try:
            t0 = time.perf_counter()
            report = services.ingestor(workers=workers).ingest("bench", source)
            elapsed = time.perf_counter() - t0
        finally:
            services.close()
    return {
        "messages": report.added + report.quarantined,
        "elapsed_s": elapsed,
        "messages_per_s": (report.added + report.quarantined) / elapsed,
    }


def run_ingest_bench(
    source: Path, *, runs: int = 3, log: Callable[[str], None] = print
) -> dict[str, object]:
    """Ingest ``source`` ``runs`` times per configuration; report medians."""
    from retrieval.sources.mail.sources import open_source

    open_source(source)  # fail early with a clear SourceError
    configs: dict[str, int | None] = {"default": None, "single_process": 0}
    results: dict[str, object] = {}
    for name, workers in configs.items():
        rates: list[float] = []
        count = 0
        for i in range(runs):
            r = _one_run(source, workers)
            rates.append(r["messages_per_s"])
            count = int(r["messages"])
            log(f"{name} run {i + 1}/{runs}: {r['messages_per_s']:,.0f} msg/s")
        results[name] = {
            "median_messages_per_s": round(statistics.median(rates), 1),
            "runs_messages_per_s": [round(x, 1) for x in rates],
            "messages": count,
        }
    default = results["default"]
    assert isinstance(default, dict)
    return {
        "benchmark": "ingest",
        "source": str(source),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "target_messages_per_s": 1000,
        "median_messages_per_s": default["median_messages_per_s"],
        "meets_target": default["median_messages_per_s"] >= 1000,
        "configs": results,
    }
