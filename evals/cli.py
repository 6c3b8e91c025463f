"""The ``mailmind eval`` (:mod:`evals.eval_cli`) and ``mailmind bench`` command groups.

They are registered by ``evals`` itself through the ``mailmind.commands`` entry-point group, so
``evals`` depends on ``api`` and runtime code never imports ``evals``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import JsonOpt, emit_json, err, fail, settings_from
from core.errors import InputError, MailmindError
from evals.eval_cli import eval_app

bench_app = typer.Typer(help="Benchmarks: print a table and write JSON.", no_args_is_help=True)


def _write_json(report: dict[str, Any], out: Path | None, default: Path) -> Path:
    path = out or default
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return path


@bench_app.command("retrieval")
def bench_retrieval_command(
    ctx: typer.Context,
    sizes: Annotated[str, typer.Option(help="Edge index sizes (points), comma-separated.")] = (
        "10000,100000"
    ),
    local_size: Annotated[int, typer.Option(help="Points for the qdrant-client local run.")] = (
        20000
    ),
    queries: Annotated[int, typer.Option(help="Queries per size.")] = 200,
    throughput_messages: Annotated[
        int, typer.Option(help="Enron messages for the indexing throughput run.")
    ] = 300,
    out: Annotated[Path | None, typer.Option(help="JSON report path.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
) -> None:
    """Indexing throughput, hybrid query latency (Edge vs local client), HNSW recall."""
    from evals.retrieval.bench import format_bench, run_bench

    settings = settings_from(ctx)
    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        fail(InputError("--sizes must be integers separated by commas"), as_json)
        return
    try:
        report = run_bench(
            settings,
            sizes=size_list,
            local_size=local_size,
            n_queries=queries,
            throughput_messages=throughput_messages,
            progress=None if as_json else lambda m: typer.echo(m, err=True),
        )
    except MailmindError as exc:
        fail(exc, as_json)
        return
    path = _write_json(report, out, Path("bench-results/retrieval.json"))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(format_bench(report))
        typer.echo(f"report written to {path}")


@bench_app.command("ingest")
def bench_ingest(
    path: Annotated[
        Path | None, typer.Option(help="Source to ingest (default: ../shared Enron maildir).")
    ] = None,
    runs: Annotated[int, typer.Option(help="Repetitions (median reported).")] = 3,
    out: Annotated[Path, typer.Option(help="Where to write the JSON result.")] = Path(
        "bench-results/ingest.json"
    ),
    index: Annotated[
        bool,
        typer.Option(
            "--index",
            help="Ingest + index end to end (one run, the configured encoder), with the raw "
            "fp32 torch encoder timed on a sample of the same texts for the ratio.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Parse+store throughput (messages/s) into a fresh store, median of RUNS; with --index,
    ingest + index throughput."""
    from core.settings import load_settings
    from evals.bench_ingest import default_enron_path, run_index_bench, run_ingest_bench

    source = path or default_enron_path()
    if index and out == Path("bench-results/ingest.json"):
        out = Path("bench-results/ingest-index.json")
    try:
        if index:
            result = run_index_bench(source, load_settings(), log=err.print)
        else:
            result = run_ingest_bench(source, runs=runs, log=err.print)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    if as_json:
        emit_json(result)
    else:
        err.print(json.dumps(result, indent=2))
        err.print(f"written to {out}")


@bench_app.command("llm")
def bench_llm_command(
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON report here.")] = Path(
        "bench-results/llm.json"
    ),
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--runtime",
            help="Variant to run, repeatable: llamacpp, transformers[:dtype], openai. "
            "Default: llamacpp, transformers:bfloat16, transformers:float32 (+ openai if "
            "MAILMIND_LLM__BASE_URL is set).",
        ),
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Tokens generated per prompt.")] = 64,
    structured_calls: Annotated[int, typer.Option(help="Schema-constrained calls timed.")] = 3,
) -> None:
    """Benchmark the chat runtimes on the same model and prompts (load, TTFT, tokens/s)."""
    from core.settings import load_settings
    from evals.bench_llm import format_table, run_bench

    settings = load_settings()

    def progress(message: str) -> None:
        if not as_json:
            err.print(f"[dim]{message}[/dim]")

    report = run_bench(
        settings,
        variant,
        max_tokens=max_tokens,
        structured_calls=structured_calls,
        progress=progress,
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    header, *rows = format_table(report)
    table = Table(title=f"mailmind bench llm — {report['model']} on {report['device']}")
    for i, name in enumerate(header):
        table.add_column(name, no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    Console().print(f"default runtime (auto): {report['default_runtime']}")
    if out is not None:
        Console().print(f"report: {out}")


@bench_app.command("reply")
def bench_reply_command(
    enron: Annotated[int, typer.Option(help="Enron inbox messages in the sample.")] = 200,
    threads: Annotated[
        int | None, typer.Option(help="torch intra-op threads (default: torch's choice).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the JSON report.")] = Path(
        "bench-results/reply.json"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Latency (p50/p95) of the chip path per message: demo mailbox + Enron inbox sample."""
    from core.settings import load_settings
    from evals.smart_reply.bench import format_report, run_reply_bench

    try:
        report = run_reply_bench(
            load_settings(),
            enron=enron,
            threads=threads,
            progress=None if as_json else lambda m: typer.echo(m, err=True),
        )
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(format_report(report))
        typer.echo(f"report written to {out}")


@bench_app.command("api")
def bench_api_command(
    requests: Annotated[int, typer.Option(help="Requests per endpoint.")] = 200,
    concurrency: Annotated[int, typer.Option(help="Requests in flight per endpoint.")] = 4,
    time_limit: Annotated[float, typer.Option(help="Seconds per endpoint at most.")] = 60.0,
    chats: Annotated[int, typer.Option(help="Chat requests timed (one at a time).")] = 5,
    overload: Annotated[int, typer.Option(help="Concurrent chats in the overload burst.")] = 12,
    out: Annotated[Path, typer.Option(help="Where to write the JSON result.")] = Path(
        "bench-results/api.json"
    ),
    as_json: JsonOpt = False,
) -> None:
    """The HTTP service under a bounded loopback load: p50/p95 and throughput per endpoint,
    the in-process chip floor, overload answers and server RSS (targets in the report)."""
    from core.settings import load_settings
    from evals.bench_api import format_report, run_api_bench

    try:
        report = run_api_bench(
            load_settings(), requests=requests, concurrency=concurrency,
            time_limit_s=time_limit, chats=chats, overload=overload,
            log=lambda m: err.print(f"[dim]{m}[/dim]"),
        )  # fmt: skip
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    if as_json:
        emit_json(report)
    else:
        typer.echo(format_report(report))
        err.print(f"written to {out}")


@bench_app.command("events")
def bench_events_command(
    messages: Annotated[int, typer.Option(min=1, help="Messages appended, one at a time.")] = 20,
    workers: Annotated[int, typer.Option(min=1, help="`mailmind worker` processes (redis).")] = 1,
    timeout: Annotated[float, typer.Option(help="Seconds one message may take at most.")] = 60.0,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data dir of the watcher and workers (default: temporary).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the JSON report.")] = Path(
        "bench-results/events.json"
    ),
    as_json: JsonOpt = False,
) -> None:
    """End-to-end latency of new mail: IMAP APPEND on the first configured account → stored by
    `sync --watch` → chips precomputed by a worker; median/p95 over the messages."""
    from core.settings import load_settings
    from evals.bench_events import format_report, run_events_bench

    try:
        report = run_events_bench(
            load_settings(), messages=messages, workers=workers, timeout_s=timeout,
            data_dir=data_dir, log=lambda m: err.print(f"[dim]{m}[/dim]"),
        )  # fmt: skip
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    path = _write_json(report, out, out)
    if as_json:
        emit_json(report)
    else:
        typer.echo(format_report(report))
        err.print(f"written to {path}")


def register(app: typer.Typer) -> None:
    """Attach ``eval`` and ``bench`` to the ``mailmind`` app (entry point ``mailmind.commands``)."""
    app.add_typer(eval_app, name="eval")
    app.add_typer(bench_app, name="bench")
    from evals.training.cli import train_app

    app.add_typer(train_app, name="train")
    from evals.training.finetune_cli import finetune_app

    app.add_typer(finetune_app, name="finetune")
