"""Report output: a console table, and ``--out DIR`` files (``<suite>.json``, ``<suite>.md`` and
PNG charts drawn with matplotlib's Agg backend: score with interval per system, latency
distributions, per-category breakdown)."""

from __future__ import annotations

from pathlib import Path

from evals.harness.report import Report, Score

_COLOURS = {"ours": "#1f77b4", "baseline": "#7f7f7f", "variant": "#aec7e8"}


def cell(score: Score | None) -> str:
    """``0.412 [0.398, 0.430]``, or ``-`` without data."""
    if score is None or score.value is None:
        return "-"
    if score.lo is None or score.hi is None:
        return f"{score.value:.3f}"
    return f"{score.value:.3f} [{score.lo:.3f}, {score.hi:.3f}]"


def table_rows(report: Report, *, metrics: list[str] | None = None) -> list[list[str]]:
    """Header plus one row per system: name, role, then each metric with its interval."""
    names = metrics or report.metric_names
    rows = [["system", "role", *names]]
    for s in report.systems:
        rows.append([s.name, s.role, *(cell(s.metrics.get(m)) for m in names)])
    return rows


def format_table(report: Report) -> str:
    """Plain-text table for the console."""
    rows = table_rows(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    head = (
        f"{report.suite}: n={report.n}  model={report.meta.model or '-'}  "
        f"dataset={report.meta.dataset or '-'}  (95% bootstrap intervals)"
    )
    lines = [head]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


def markdown_table(report: Report, *, metrics: list[str] | None = None) -> str:
    """The systems table in Markdown."""
    rows = table_rows(report, metrics=metrics)
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def _plt():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def chart_scores(report: Report, path: Path) -> Path | None:
    """Horizontal bars of the primary metric per system with 95% interval whiskers."""
    systems = [s for s in report.systems if report.primary_metric in s.metrics]
    systems = [s for s in systems if s.metrics[report.primary_metric].value is not None]
    if not systems:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(systems) + 1.2))
    values = [s.metrics[report.primary_metric].value or 0.0 for s in systems]
    lows = [
        v - (s.metrics[report.primary_metric].lo or v) for s, v in zip(systems, values, strict=True)
    ]
    highs = [
        (s.metrics[report.primary_metric].hi or v) - v for s, v in zip(systems, values, strict=True)
    ]
    ys = range(len(systems))
    ax.barh(list(ys), values, xerr=[lows, highs], color=[_COLOURS[s.role] for s in systems],
            capsize=3)  # fmt: skip
    ax.set_yticks(list(ys), [s.name for s in systems])
    ax.invert_yaxis()
    ax.set_xlabel(f"{report.primary_metric} (95% bootstrap CI)")
    ax.set_title(f"{report.suite}, n={report.n}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def chart_latency(report: Report, path: Path) -> Path | None:
    """Box plots of the latency samples (seconds, log scale)."""
    samples = {k: v for k, v in report.latencies.items() if v}
    if not samples:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(samples) + 1.2))
    ax.boxplot(list(samples.values()), orientation="horizontal")
    ax.set_yticks(range(1, len(samples) + 1), list(samples))
    ax.set_xscale("log")
    ax.set_xlabel("seconds")
    ax.set_title(f"{report.suite}: latency")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def chart_breakdown(report: Report, path: Path) -> Path | None:
    """Grouped bars of the primary metric per category, one bar per system with a breakdown."""
    systems = [
        s for s in report.systems
        if any(report.primary_metric in m for m in s.breakdown.values())
    ]  # fmt: skip
    if not systems:
        return None
    cats = list(dict.fromkeys(c for s in systems for c in s.breakdown))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cats) + 2), 4))
    width = 0.8 / len(systems)
    for i, s in enumerate(systems):
        vals = [(s.breakdown.get(c) or {}).get(report.primary_metric) or 0.0 for c in cats]
        ax.bar([x + i * width for x in range(len(cats))], vals, width, label=s.name)
    ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(cats))], cats,
                  rotation=30, ha="right")  # fmt: skip
    ax.set_ylabel(report.primary_metric)
    ax.legend(fontsize="small")
    ax.set_title(f"{report.suite}: by category")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def markdown(report: Report, charts: list[Path]) -> str:
    """The Markdown report (charts referenced by file name, next to it)."""
    m = report.meta
    lines = [
        f"# {report.suite}",
        "",
        f"n = {report.n}; primary metric: **{report.primary_metric}**; "
        "values are means with 95% bootstrap intervals.",
        "",
        markdown_table(report),
        "",
        *(f"- {n}" for n in report.notes),
        "",
        "## Run",
        "",
        f"- model: {m.model or '-'} (runtime {m.runtime or '-'})",
        f"- dataset: {m.dataset or '-'} ({m.dataset_fingerprint or 'no fingerprint'})",
        f"- prompts: {', '.join(f'{k}@{v}' for k, v in m.prompts.items()) or '-'}",
        f"- parameters: {m.parameters}",
        f"- git: {m.git_commit or '-'}{' (dirty)' if m.git_dirty else ''}",
        f"- machine: {m.machine}",
        f"- started {m.created_at}, took {m.seconds if m.seconds is not None else '-'} s",
        f"- command: `{m.command or '-'}`",
        "",
    ]
    online = report.extra.get("online_signals")
    if online:
        lines += ["## Online signals (server /metrics)", ""]
        lines += [f"- {k}: {v:.4g}" for k, v in online.items()] + [""]
    for chart in charts:
        lines += [f"![{chart.stem}]({chart.name})", ""]
    return "\n".join(lines)


def write_report(report: Report, out: Path) -> list[Path]:
    """Write ``<suite>.json``, the charts and ``<suite>.md`` into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    stem = report.suite
    json_path = out / f"{stem}.json"
    json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    charts = [
        c
        for c in (
            chart_scores(report, out / f"{stem}-scores.png"),
            chart_latency(report, out / f"{stem}-latency.png"),
            chart_breakdown(report, out / f"{stem}-breakdown.png"),
        )
        if c is not None
    ]
    md_path = out / f"{stem}.md"
    md_path.write_text(markdown(report, charts), encoding="utf-8")
    return [json_path, md_path, *charts]


def read_report(path: Path) -> Report:
    """A report written by :func:`write_report` (a ``.json`` file, or a folder holding one)."""
    from core.errors import InputError

    if path.is_dir():
        found = sorted(path.glob("*.json"))
        if len(found) != 1:
            raise InputError(f"{path}: expected exactly one report .json, found {len(found)}")
        path = found[0]
    try:
        return Report.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a mailmind eval report: {exc}") from exc
