"""Rich renderings of the REPL's results: prompts, runs, diffs, scores, traces."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from api.repl.runner import ModelOptions, RunResult
    from api.repl.tracing import SpanRecord


def prompt_source(text: str) -> Syntax:
    """A prompt file, Jinja2-highlighted."""
    return Syntax(text, "jinja", word_wrap=True, line_numbers=True)


def run_stats(run: RunResult) -> Text:
    """One line of measurements for a run."""
    schema = f" · schema {run.schema}" if run.schema else ""
    return Text(
        f"run #{run.number} · {run.prompt_version} · {run.runtime}/{run.model} · "
        f"TTFT {run.time_to_first_token_s * 1000:.0f} ms · {run.tokens_per_s:.1f} tok/s · "
        f"{run.prompt_tokens} prompt + {run.completion_tokens} completion tokens · "
        f"{run.total_s:.2f} s · {run.finish_reason}{schema}",
        style="dim",
    )


def runs_table(runs: Sequence[RunResult]) -> Table:
    """This session's runs, oldest first."""
    table = Table(title="runs", show_lines=False)
    for col in ("#", "prompt", "sample", "TTFT ms", "tok/s", "tokens", "output"):
        table.add_column(col, overflow="fold")
    for r in runs:
        output = r.output.replace("\n", " ")
        table.add_row(
            str(r.number), r.prompt_version, r.sample or "-",
            f"{r.time_to_first_token_s * 1000:.0f}", f"{r.tokens_per_s:.1f}",
            f"{r.prompt_tokens}+{r.completion_tokens}",
            output[:60] + ("…" if len(output) > 60 else ""),
        )  # fmt: skip
    return table


def unified(a: str, b: str, name_a: str, name_b: str) -> str:
    """A unified diff of two texts ('' when they are equal)."""
    lines = difflib.unified_diff(
        a.splitlines(keepends=True), b.splitlines(keepends=True), name_a, name_b
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def diff_view(text: str) -> Syntax:
    """A diff, highlighted."""
    return Syntax(text, "diff", word_wrap=True)


def model_table(runtime: str, model: str, options: ModelOptions, stream: bool) -> Table:
    """The model and decoding options."""
    table = Table(title="model", show_header=False)
    table.add_column("option")
    table.add_column("value")
    rows = [("runtime", runtime), ("model", model), ("temperature", options.temperature),
            ("max_tokens", options.max_tokens), ("seed", options.seed),
            ("constrained", "on" if options.constrained else "off"),
            ("stream", "on" if stream else "off")]  # fmt: skip
    for k, v in rows:
        table.add_row(k, str(v))
    return table


def _ci(ci: Any) -> str:
    return f"[{float(ci[0]):.3f}, {float(ci[1]):.3f}]" if ci else "-"


def scores_table(report: dict[str, Any], rows: list[dict[str, Any]]) -> Table:
    """Eval scores: the working copy beside the saved baseline and the suite's baselines."""
    table = Table(title=f"{report['suite']} · {report['metric']} · n={report['n']}")
    for col in ("", "score", "95% CI", "Δ working"):
        table.add_column(col, justify="left" if not col else "right")
    for row in rows:
        delta = row["delta"]
        shown = "" if delta is None else f"[{'green' if delta >= 0 else 'red'}]{delta:+.3f}[/]"
        table.add_row(row["name"], f"{row['score']:.3f}", _ci(row["ci"]), shown)
    return table


def _short(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def trace_table(spans: Sequence[SpanRecord]) -> Table:
    """Spans as an indented tree with start offsets and durations."""
    table = Table(title="trace")
    for col in ("span", "start ms", "duration ms", "status", "attributes"):
        table.add_column(col, overflow="fold")
    for s in spans:
        attrs = ", ".join(f"{k}={_short(v)}" for k, v in s.attributes.items() if k.startswith(
            ("gen_ai.usage", "gen_ai.server", "mailmind.", "gen_ai.tool")))  # fmt: skip
        table.add_row("  " * s.depth + s.name, f"{s.start_ms:.1f}", f"{s.duration_ms:.1f}",
                      s.status, attrs)  # fmt: skip
    return table
