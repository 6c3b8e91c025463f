"""``mailmind bench ingest``: parse+store throughput into a fresh store, median of runs.

Each run ingests the whole source into a new temporary data dir (so nothing is a duplicate) with
the default settings and worker count, and a single-process run is reported beside it so the
effect of the parser pool is visible.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


#: Target of issue 17 on this machine: ingest + index, messages per second.
INDEX_TARGET_MESSAGES_PER_S = 60.0


def _encoder_texts(messages: list[Any], settings: Settings) -> list[str]:
    """What the default indexing path encodes for ``messages``: chunk texts, then sentences."""
    from retrieval.index.chunking import chunk_message

    cfg = settings.index
    chunks = [c for m in messages for c in chunk_message(m, cfg.chunk_words, cfg.chunk_overlap)]
    return [c.text for c in chunks] + [s for c in chunks for s in c.sentences]


def _time_encoder(embedder: Any, texts: list[str]) -> float:
    """Seconds for one ``embed`` call over ``texts`` (after a small warm-up)."""
    embedder.embed(texts[:8])
    t0 = time.perf_counter()
    embedder.embed(texts)
    return time.perf_counter() - t0


def run_index_bench(
    source: Path, settings: Settings, *, sample: int = 200, log: Callable[[str], None] = print
) -> dict[str, object]:
    """Ingest + index ``source`` end to end into a fresh data dir with ``settings``' encoder.

    Then, on a seeded random ``sample`` of the stored messages, the encoder alone: the
    configured one against the raw fp32 encoder (sentence-transformers on torch, every chunk and
    sentence encoded, as the index did before the ONNX backend) on the same texts, so the
    speed-up is a ratio measured in this run.
    """
    from api.services import Services
    from retrieval.index.embeddings import load_embedder
    from retrieval.sources.mail.sources import open_source

    open_source(source)  # fail early with a clear SourceError
    with tempfile.TemporaryDirectory(prefix="mailmind-bench-index-") as tmp:
        run_settings = settings.scratch(Path(tmp))
        services = Services(run_settings)
        try:
            services.embedder.embed(["warm-up"])  # model load is not ingest time
            log(f"ingest + index of {source} ({run_settings.embeddings.backend} encoder)")
            t0 = time.perf_counter()
            report = services.ingest_path("bench", source)
            elapsed = time.perf_counter() - t0
            stored = services.store.stats("bench").messages
            # A seeded uniform sample: the first messages in store order are not typical.
            everything = list(services.store.iter_messages("bench"))
            messages = random.Random(0).sample(everything, min(sample, len(everything)))
            points = services.index.count("bench")
            texts = _encoder_texts(messages, run_settings)
            log(f"encoder alone on {len(messages)} messages ({len(texts)} texts)")
            ours = _time_encoder(services.embedder, texts)
        finally:
            services.close()
    raw = load_embedder(settings.embeddings.model_copy(update={"backend": "torch"}))
    raw_s = _time_encoder(raw, texts)
    rate = stored / elapsed if elapsed else 0.0
    raw_rate = len(messages) / raw_s if raw_s else 0.0
    return {
        "benchmark": "ingest-index",
        "source": str(source),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "encoder": {
            "backend": settings.embeddings.backend,
            "sentence_vectors": settings.index.sentence_vectors,
            "sentence_pooling": settings.index.sentence_pooling,
        },
        "messages": stored,
        "ingest_report": {k: v for k, v in report.items() if isinstance(v, int | float)},
        "points": points,
        "elapsed_s": round(elapsed, 1),
        "messages_per_s": round(rate, 1),
        "target_messages_per_s": INDEX_TARGET_MESSAGES_PER_S,
        "meets_target": rate >= INDEX_TARGET_MESSAGES_PER_S,
        "sample": {
            "messages": len(messages),
            "texts": len(texts),
            "raw_fp32_torch_messages_per_s": round(raw_rate, 1),
            "configured_encoder_messages_per_s": round(len(messages) / ours, 1) if ours else 0.0,
            "encoder_speedup_over_raw": round(raw_s / ours, 2) if ours else None,
            "end_to_end_over_raw_encoder": round(rate / raw_rate, 2) if raw_rate else None,
        },
    }
