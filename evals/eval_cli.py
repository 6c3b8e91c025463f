"""``mailmind eval``: every suite through the harness (one report shape, intervals, files),
plus ``eval compare`` and ``eval drift``.

``mailmind eval SUITE [--dataset PATH] [--limit N] [--runtime R] [--model M] [--out DIR]
[--json]`` prints a table (or the JSON report) and writes ``SUITE.json``, ``SUITE.md`` and PNG
charts into ``--out`` (default ``bench-results/eval-SUITE/``). A dataset in the wrong format is
an input error (exit 2) naming the expected format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.common import JsonOpt, emit_json, err, fail, settings_from
from core.errors import InputError, MailmindError
from core.settings import Settings

eval_app = typer.Typer(
    help="Evaluation suites: our score, baselines and 95% intervals; JSON, Markdown and charts.",
    no_args_is_help=True,
)

RUNTIMES = ("auto", "transformers", "llamacpp", "openai")

DatasetOpt = Annotated[
    Path | None, typer.Option(help="A folder in the suite's format (default: the suite's own).")
]
LimitOpt = Annotated[int | None, typer.Option(help="Only the first N examples.")]
RuntimeOpt = Annotated[
    str | None, typer.Option(help="LLM runtime: auto, transformers, llamacpp, openai.")
]
ModelOpt = Annotated[str | None, typer.Option(help="Registered chat model name.")]
OutOpt = Annotated[
    Path | None,
    typer.Option(help="Folder for SUITE.json, SUITE.md and charts (a .json path also works)."),
]


def with_llm(settings: Settings, runtime: str | None, model: str | None) -> Settings:
    """``settings`` with ``--runtime`` / ``--model`` applied."""
    update: dict[str, Any] = {}
    if runtime is not None:
        if runtime not in RUNTIMES:
            raise InputError(f"--runtime must be one of {list(RUNTIMES)}: {runtime!r}")
        update["runtime"] = runtime
    if model is not None:
        update["model"] = model
    if not update:
        return settings
    return settings.model_copy(update={"llm": settings.llm.model_copy(update=update)})


def run_suite(
    name: str,
    settings: Settings,
    *,
    dataset: Path | None = None,
    limit: int | None = None,
    options: dict[str, Any] | None = None,
    log: Any = None,
    services: Any = None,
) -> Any:
    """Run suite ``name`` and return its :class:`~evals.harness.report.Report`."""
    from evals.suites import get_suite
    from evals.suites.base import SuiteContext, timed

    spec = get_suite(name)
    if limit is not None and limit < 1:
        raise InputError("--limit must be at least 1")
    ctx = SuiteContext(
        settings=settings, dataset=dataset, limit=limit, options=options or {},
        log=log or (lambda _m: None), services=services,
    )  # fmt: skip
    try:
        return timed(lambda: spec.run(ctx))
    finally:
        ctx.close()


def _out_paths(name: str, out: Path | None) -> tuple[Path, Path | None]:
    # An old-style "--out x.json" still gets its JSON file; the other files go beside it.
    if out is not None and out.suffix == ".json":
        return out.parent, out
    return out or Path("bench-results") / f"eval-{name}", None


def _suite_command(
    ctx: typer.Context, name: str, dataset: Path | None, limit: int | None, runtime: str | None,
    model: str | None, out: Path | None, as_json: bool, options: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    from evals.harness.writer import format_table, write_report

    try:
        settings = with_llm(settings_from(ctx), runtime, model)
        report = run_suite(
            name, settings, dataset=dataset, limit=limit, options=options,
            log=None if as_json else (lambda m: err.print(f"[dim]{m}[/dim]")),
        )  # fmt: skip
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    folder, json_file = _out_paths(name, out)
    written = write_report(report, folder)
    if json_file is not None:
        json_file.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    if as_json:
        emit_json(report.model_dump(mode="json"))
        return
    typer.echo(format_table(report))
    err.print(f"written: {', '.join(str(p) for p in written)}")


def _simple(name: str, doc: str) -> None:
    def command(
        ctx: typer.Context, dataset: DatasetOpt = None, limit: LimitOpt = None,
        runtime: RuntimeOpt = None, model: ModelOpt = None, out: OutOpt = None,
        as_json: JsonOpt = False,
    ) -> None:  # fmt: skip
        _suite_command(ctx, name, dataset, limit, runtime, model, out, as_json)

    command.__doc__ = doc
    eval_app.command(name)(command)


@eval_app.command("subject-lines")
def eval_subject_lines(
    ctx: typer.Context, dataset: DatasetOpt = None, limit: LimitOpt = None,
    runtime: RuntimeOpt = None, model: ModelOpt = None, out: OutOpt = None,
    tuned: Annotated[
        str | None,
        typer.Option("--tuned", help="A fine-tuned model (`mailmind finetune subject-lines`): "
                     "also report it on the subject_line prompt, beside its base."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Subject lines on an AESLC-format folder: ROUGE-1/2/L F1 of ours vs lead sentence, first
    words and the sender's own subject."""
    _suite_command(ctx, "subject-lines", dataset, limit, runtime, model, out, as_json,
                   {"tuned": tuned})  # fmt: skip


_simple(
    "summaries",
    "Thread summaries on a BC3-format folder: ROUGE, faithfulness and citation precision of "
    "ours vs the extractive lead.",
)


@eval_app.command("smart-reply")
def eval_smart_reply(
    ctx: typer.Context, dataset: DatasetOpt = None, limit: LimitOpt = None,
    runtime: RuntimeOpt = None, model: ModelOpt = None, out: OutOpt = None,
    models: Annotated[
        Path | None,
        typer.Option("--models", help="A data dir with a trained trigger "
                     "(models/trigger/model.json): also report the chips with it."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Smart-reply chips on real reply pairs (Maildir): trigger precision/recall, hit@3,
    diversity vs always-trigger and the three most frequent responses."""
    _suite_command(ctx, "smart-reply", dataset, limit, runtime, model, out, as_json,
                   {"models": models})  # fmt: skip


_simple(
    "latency",
    "p50/p95 latency per capability in-process: chips, search, summary, chat first token, "
    "chat full answer (demo data).",
)


@eval_app.command("retrieval")
def eval_retrieval(
    ctx: typer.Context, dataset: DatasetOpt = None, limit: LimitOpt = None,
    runtime: RuntimeOpt = None, model: ModelOpt = None, out: OutOpt = None,
    distractors: Annotated[
        Path | None, typer.Option(help="Maildir of extra documents (RFC 822 files).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Known-item retrieval on AESLC-format or BC3 folders: MRR@10, recall@1/10, nDCG@10 of
    hybrid vs dense, sparse and plain RRF."""
    _suite_command(ctx, "retrieval", dataset, limit, runtime, model, out, as_json,
                   {"distractors": distractors})  # fmt: skip


@eval_app.command("agent")
def eval_agent(
    ctx: typer.Context, dataset: DatasetOpt = None, limit: LimitOpt = None,
    runtime: RuntimeOpt = None, model: ModelOpt = None, out: OutOpt = None,
    split: Annotated[str, typer.Option(help="Task split: all, dev or test (frozen).")] = "all",
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """The assistant on the agent task set: tool selection, facts (prose and with sources),
    unsupported claims, steps, latency; vs router alone and keyword router."""
    _suite_command(ctx, "agent", dataset, limit, runtime, model, out, as_json, {"split": split})


@eval_app.command("feedback")
def eval_feedback(
    ctx: typer.Context, user: Annotated[str | None, typer.Option(help="Only this user.")] = None,
    since: Annotated[str | None, typer.Option(help="Only feedback from this date (ISO).")] = None,
    metrics_url: Annotated[str | None, typer.Option(
        help="Also read the online quality signals from a running server's /metrics URL."
    )] = None,
    out: OutOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """What the feedback route stored: chip acceptance, thumbs, edit distance per day and per
    kind, with intervals (the data dir's feedback store)."""
    _suite_command(ctx, "feedback", None, None, None, None, out, as_json,
                   {"user": user, "since": since, "metrics_url": metrics_url})  # fmt: skip


@eval_app.command("agentdojo")
def eval_agentdojo(
    ctx: typer.Context, limit: LimitOpt = None, runtime: RuntimeOpt = None,
    model: ModelOpt = None, out: OutOpt = None,
    attack: Annotated[
        str, typer.Option(help="important_instructions, tool_knowledge, ignore_previous, direct, "
                          "a comma-separated list, or all.")
    ] = "important_instructions",
    gate_only: Annotated[
        bool, typer.Option(help="Only the worst-case scripted model with and without the gate.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Prompt injection on AgentDojo's workspace suite: utility without and under attack and
    targeted attack success, ours (gate + spotlighting) vs no defence (extra 'eval')."""
    _suite_command(ctx, "agentdojo", None, limit, runtime, model, out, as_json,
                   {"attack": attack, "gate_only": gate_only})  # fmt: skip


@eval_app.command("compare")
def eval_compare(
    old: Annotated[Path, typer.Argument(help="Old report (.json, or a --out folder).")],
    new: Annotated[Path, typer.Argument(help="New report (.json, or a --out folder).")],
    as_json: JsonOpt = False,
) -> None:
    """Deltas per system and metric; significant = paired bootstrap interval excludes 0 (same
    examples) or the two intervals do not overlap."""
    from evals.harness.compare import compare_reports, format_comparison
    from evals.harness.writer import read_report

    try:
        comparison = compare_reports(read_report(old), read_report(new))
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        emit_json(comparison.model_dump(mode="json"))
    else:
        typer.echo(format_comparison(comparison))


@eval_app.command("drift")
def eval_drift(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="Start of the current window (ISO date).")],
    reference_days: Annotated[
        int, typer.Option(help="Days before --since forming the reference window.")
    ] = 30,
    user: Annotated[str | None, typer.Option(help="Only this user's mail.")] = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Input and signal drift: language, length, sender domains, HTML-only share and feedback
    signals now vs a reference window; population-stability index per feature and a chart."""
    from evals.drift import format_drift, run_drift

    folder = out or Path("bench-results") / "eval-drift"
    try:
        report = run_drift(settings_from(ctx), since=since, reference_days=reference_days,
                           user=user, out=folder)  # fmt: skip
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        emit_json(report)
    else:
        typer.echo(format_drift(report))
        err.print(f"written: {folder}")
