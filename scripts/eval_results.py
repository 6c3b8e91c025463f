"""Refresh the README's results table from the reports ``make eval`` wrote, and save each
prompt's score for the REPL's ``/eval`` (``evals/baselines/prompts.json``).

    python scripts/eval_results.py [RESULTS_DIR] [README] [--check]

Reads every ``RESULTS_DIR/eval-*/*.json`` harness report and replaces the text between
``<!-- eval-results:start -->`` and ``<!-- eval-results:end -->`` in README with a table: per
suite and headline metric, our score and the best baseline with their 95% intervals, the
verdict (``loses`` when the best baseline is ahead and the intervals do not overlap) and the
command that reproduces it. ``--check`` exits 1 when the README table is out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.harness.report import Report, Score, SystemResult  # noqa: E402
from evals.harness.stats import paired_bootstrap  # noqa: E402
from evals.harness.writer import cell  # noqa: E402
from evals.prompt_evals import PROMPT_SUITES, PROMPT_SYSTEMS, SAVED  # noqa: E402

START, END = "<!-- eval-results:start -->", "<!-- eval-results:end -->"
#: Extra headline metrics per suite (besides the primary one).
ALSO = {
    "subject-lines": ["rougeL"],
    "summaries": ["faithfulness", "citation_precision"],
    "retrieval": ["recall@10"],
    "smart-reply": ["trigger_recall", "false_trigger_rate"],
    "agent": ["tool_selection_accuracy", "fact_recall_prose", "unsupported_claim_rate"],
}


def load_reports(results: Path) -> list[Report]:
    """Every harness report under ``results/eval-*/``, in suite-name order."""
    reports = []
    for path in sorted(results.glob("eval-*/*.json")):
        try:
            reports.append(Report.model_validate_json(path.read_text(encoding="utf-8")))
        except ValueError:
            continue  # not a harness report (drift.json, an old-style file)
    return sorted(reports, key=lambda r: (r.suite, r.meta.dataset or ""))


def verdict(ours: SystemResult, best: SystemResult, metric: str, lower_is_better: bool) -> str:
    """``wins`` / ``loses`` / ``tie``: by a paired bootstrap over the same examples when both
    systems kept per-example scores, else by whether the two intervals are apart."""
    if metric in ours.per_example and len(ours.per_example[metric]) == len(
        best.per_example.get(metric, [])
    ):
        d = paired_bootstrap(best.per_example[metric], ours.per_example[metric])
        if not d.significant:
            return f"tie (paired Δ {d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}])"
        won = (d.delta < 0) if lower_is_better else (d.delta > 0)
        return f"{'wins' if won else 'loses'} (paired Δ {d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}])"
    return _by_intervals(ours.metrics[metric], best.metrics[metric], lower_is_better)


def _by_intervals(ours: Score, best: Score, lower_is_better: bool) -> str:
    if None in (ours.value, best.value, ours.lo, ours.hi, best.lo, best.hi):
        return "-"
    assert ours.lo is not None and ours.hi is not None and best.lo is not None
    assert best.hi is not None
    if ours.lo > best.hi:
        return "loses" if lower_is_better else "wins"
    if ours.hi < best.lo:
        return "wins" if lower_is_better else "loses"
    return "tie (intervals overlap)"


def _best(baselines: list[SystemResult], metric: str, lower: bool) -> SystemResult | None:
    scored = [b for b in baselines if b.metrics.get(metric) and b.metrics[metric].value is not None]
    if not scored:
        return None
    return (min if lower else max)(scored, key=lambda b: b.metrics[metric].value or 0.0)


def reproduce(r: Report) -> str:
    """The command that produced ``r``, without its ``--out`` (any folder will do)."""
    words = (r.meta.command or f"mailmind eval {r.suite}").split()
    out: list[str] = []
    skip = False
    for w in words:
        if skip:
            skip = False
            continue
        if w == "--out":
            skip = True
            continue
        if not w.startswith("--out="):
            out.append(w)
    return " ".join(out)


def _latency_rows(r: Report) -> list[str]:
    # One row per capability (p95); only the summary has a baseline (the extractive summary).
    rows = []
    for s in (s for s in r.systems if s.role == "ours"):
        base = next((b for b in r.systems if b.name == f"{s.name}_extractive"), None)
        best = f"{cell(base.metrics['p95_s'])} ({base.name})" if base else "-"
        v = _by_intervals(s.metrics["p95_s"], base.metrics["p95_s"], True) if base else "-"
        rows.append(
            f"| latency | demo ({len(s.per_example.get('latency_s', []))}) | {s.name} p95 s ↓ | "
            f"{cell(s.metrics['p95_s'])} | {best} | {v} | `{reproduce(r)}` |"
        )
    return rows


def table(reports: list[Report]) -> str:
    """The Markdown results table."""
    lines = [
        "| suite | data (n) | metric | ours | best baseline | vs baseline | reproduce |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        if r.suite == "latency":
            lines += _latency_rows(r)
            continue
        ours = r.ours
        baselines = [s for s in r.systems if s.role == "baseline"]
        data = Path(r.meta.dataset).name if r.meta.dataset else "demo"
        split = r.meta.parameters.get("split")
        data += f" {split}" if split and split != "all" else ""
        for metric in [r.primary_metric, *ALSO.get(r.suite, [])]:
            if metric not in ours.metrics:
                continue
            lower = metric in r.lower_is_better
            best = _best(baselines, metric, lower)
            best_cell = f"{cell(best.metrics[metric])} ({best.name})" if best else "-"
            v = verdict(ours, best, metric, lower) if best else "-"
            lines.append(
                f"| {r.suite} | {data} ({r.n}) | {metric}{' ↓' if lower else ''} | "
                f"{cell(ours.metrics[metric])} ({ours.name}) | {best_cell} | {v} | "
                f"`{reproduce(r)}` |"
            )
    stamp = max((r.meta.created_at for r in reports), default="-")
    commit = next((r.meta.git_commit for r in reports if r.meta.git_commit), None)
    lines += ["", f"Means with 95% bootstrap intervals; ↓ = lower is better. Measured {stamp}"
              f"{f' at {commit[:10]}' if commit else ''} on "
              f"{reports[0].meta.machine.get('cpus', '?') if reports else '?'} CPUs."]  # fmt: skip
    return "\n".join(lines)


def saved_scores(reports: list[Report]) -> dict[str, dict[str, object]]:
    """Per prompt: the score of its suite's headline metric, for the REPL's ``/eval``."""
    out: dict[str, dict[str, object]] = {}
    for prompt, (suite, metric) in PROMPT_SUITES.items():
        for r in sorted(reports, key=lambda r: r.n):  # the largest run of the suite wins
            names = {s.name for s in r.systems}
            if prompt in PROMPT_SYSTEMS and PROMPT_SYSTEMS[prompt] not in names:
                continue  # an older report without the row that measures this prompt
            system = r.system(PROMPT_SYSTEMS[prompt]) if prompt in PROMPT_SYSTEMS else r.ours
            if r.suite == suite and metric in system.metrics:
                score = system.metrics[metric]
                version = r.meta.prompts.get(prompt)
                out[prompt] = {"suite": suite, "metric": metric, "score": score.value,
                               "ci": score.ci(), "n": r.n,
                               "version": None if version is None else str(version)}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    """Rewrite the README block (or check it) and the saved prompt scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=ROOT / "bench-results")
    parser.add_argument("readme", nargs="?", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="Exit 1 if the table is stale.")
    args = parser.parse_args(argv)
    reports = load_reports(args.results)
    if not reports:
        print(f"no eval reports under {args.results}/eval-*/", file=sys.stderr)
        return 2
    text = args.readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"{args.readme} lacks the markers {START} ... {END}", file=sys.stderr)
        return 2
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{table(reports)}\n{END}{tail}"
    if args.check:
        return 0 if new == text else 1
    args.readme.write_text(new, encoding="utf-8")
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    SAVED.write_text(json.dumps(saved_scores(reports), indent=2) + "\n", encoding="utf-8")
    print(f"updated {args.readme} ({len(reports)} reports) and {SAVED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
