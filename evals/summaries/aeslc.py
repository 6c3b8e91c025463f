"""Subject-line suggestion on AESLC: ROUGE against the three human-written subject lines.

Each email's suggested subject is scored with ROUGE-1 / ROUGE-2 / ROUGE-L F1 (``rouge-score``,
Porter stemming) against each of its ``@ann0..2`` annotations; the per-email score is the mean
over annotations, as in the AESLC paper. Systems:

* ``lead``: the first eight words of the email (the classic summarisation baseline);
* ``extractive``: the product's fallback (:func:`extractive_subject`: most central sentence);
* ``model``: the product's abstractive path (:func:`summarize_message`) with the configured
  chat model, which itself falls back to extraction when its output fails the faithfulness check.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.index.embeddings import Embedder


def read_aeslc(folder: Path, limit: int | None = None) -> list[tuple[str, str, list[str]]]:
    """(id, body, annotations) for every ``.subject`` file in ``folder``."""
    from evals.retrieval.datasets import _parse_aeslc

    out = []
    for path in sorted(folder.glob("*.subject"))[: limit or None]:
        body, _subject, anns = _parse_aeslc(path.read_text(encoding="utf-8", errors="replace"))
        anns = [a for a in anns if a]
        if body.strip() and anns:
            out.append((path.stem, body, anns))
    return out


def lead_subject(body: str, words: int = 8) -> str:
    """First ``words`` words of the email."""
    return " ".join(body.split()[:words])


def run_aeslc_eval(
    folder: Path,
    *,
    embedder: Embedder,
    model: BaseChatModel | None = None,
    limit: int | None = 200,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Score the systems on ``folder``; returns a JSON-ready report."""
    from rouge_score import rouge_scorer

    from agents.summarize.thread import extractive_subject, summarize_message
    from evals.retrieval.datasets import make_message

    data = read_aeslc(folder, limit)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    systems: dict[str, Callable[[str, str], str]] = {
        "lead": lambda _id, body: lead_subject(body),
        "extractive": lambda _id, body: extractive_subject(body, embedder),
    }
    if model is not None:
        systems["model"] = lambda mid, body: (
            summarize_message(make_message(mid, body), model=model, embedder=embedder).subject
        )
    report: dict[str, Any] = {"benchmark": "aeslc_subjects", "dataset": str(folder),
                              "n": len(data), "systems": {}}  # fmt: skip
    for name, fn in systems.items():
        scores: dict[str, list[float]] = {"rouge1": [], "rouge2": [], "rougeL": []}
        started = time.perf_counter()
        for i, (mid, body, anns) in enumerate(data, 1):
            pred = fn(mid, body)
            for key, values in scores.items():
                vals = [scorer.score(a, pred)[key].fmeasure for a in anns]
                values.append(sum(vals) / len(vals))
            if i % 50 == 0:
                log(f"{name}: {i}/{len(data)}")
        report["systems"][name] = {
            **{f"{k}_f1": round(statistics.mean(v), 4) if v else 0.0 for k, v in scores.items()},
            "seconds_per_email": round((time.perf_counter() - started) / max(1, len(data)), 4),
        }
    return report


def format_aeslc(report: dict[str, Any]) -> str:
    """A small table."""
    lines = [f"AESLC subject lines, n={report['n']}",
             f"{'system':<12}{'R-1':>8}{'R-2':>8}{'R-L':>8}{'s/email':>10}"]  # fmt: skip
    for name, r in report["systems"].items():
        lines.append(
            f"{name:<12}{r['rouge1_f1']:>8.3f}{r['rouge2_f1']:>8.3f}{r['rougeL_f1']:>8.3f}"
            f"{r['seconds_per_email']:>10.3f}"
        )
    return "\n".join(lines)
