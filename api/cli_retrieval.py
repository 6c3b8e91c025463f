"""CLI commands of the retrieval layer, for the main ``mailmind`` app to register.

``register(app, eval_app=..., bench_app=...)`` adds:

* ``mailmind search "QUERY" --user U [--from X] [--to X] [--after D] [--before D] [--folder F]
  [--thread T] [--attachment/--no-attachment] [--mode hybrid|dense|sparse] [--limit N] [--json]``
* ``mailmind eval retrieval --dataset PATH [--distractors PATH] [--limit N] [--json] [--out F]``
* ``mailmind bench retrieval [--sizes 10000,100000] [--json] [--out F]``

Commands are thin: they build ``Settings`` (from the Typer context's ``obj`` when the main app
put one there, else :func:`core.settings.load_settings`) and call service functions that take a
``Settings``: :func:`run_search`, :func:`evals.retrieval.suite.run_retrieval_eval`,
:func:`evals.retrieval.bench.run_bench`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import InputError, MailmindError
from core.settings import Settings, load_settings
from retrieval.index.base import SearchFilters

eval_app = typer.Typer(help="Quality evals.")
bench_app = typer.Typer(help="Speed benchmarks.")


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj if isinstance(ctx.obj, Settings) else load_settings()


def _parse_date(value: str | None, name: str) -> datetime | date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"--{name} must be an ISO date like 2001-03-31: {value!r}") from exc


def run_search(
    settings: Settings,
    user: str,
    query: str,
    *,
    filters: SearchFilters | None = None,
    limit: int = 10,
    mode: str = "hybrid",
) -> list[dict[str, Any]]:
    """Search the configured index (no store needed: results come from the payload)."""
    from retrieval.embeddings import load_embedder
    from retrieval.index import IndexingConfig, open_index
    from retrieval.search import FusionConfig, Searcher

    embedder = load_embedder(settings.embeddings)
    index = open_index(settings, dim=embedder.dim, model=embedder.name)
    try:
        searcher = Searcher(
            index,
            embedder,
            indexing=IndexingConfig.from_settings(settings.index),
            fusion=FusionConfig.from_settings(settings.index),
        )
        hits = searcher.search(user, query, filters=filters, limit=limit, mode=mode)  # type: ignore[arg-type]
        return [h.to_dict() for h in hits]
    finally:
        index.close()


def _write_json(report: dict[str, Any], out: Path | None, default: Path) -> Path:
    path = out or default
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return path


def _fail(exc: MailmindError, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"error": exc.code, "message": str(exc)}))
    else:
        typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


def search_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    user: Annotated[str, typer.Option("--user", "-u", help="Whose mail to search.")],
    sender: Annotated[str | None, typer.Option("--from", help="Sender address or name.")] = None,
    recipient: Annotated[str | None, typer.Option("--to", help="To/Cc address.")] = None,
    after: Annotated[str | None, typer.Option(help="On or after this date (ISO).")] = None,
    before: Annotated[str | None, typer.Option(help="Before this date (ISO).")] = None,
    folder: Annotated[str | None, typer.Option(help="Only this folder.")] = None,
    thread: Annotated[str | None, typer.Option(help="Only this thread id.")] = None,
    attachment: Annotated[
        bool | None, typer.Option("--attachment/--no-attachment", help="With/without files.")
    ] = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Hybrid search over one user's indexed mail."""
    try:
        if mode not in ("hybrid", "dense", "sparse"):
            raise InputError("--mode must be hybrid, dense or sparse")
        filters = SearchFilters(
            sender=sender,
            recipient=recipient,
            after=_parse_date(after, "after"),
            before=_parse_date(before, "before"),
            folder=folder,
            thread_id=thread,
            has_attachment=attachment,
        )
        hits = run_search(_settings(ctx), user, query, filters=filters, limit=limit, mode=mode)
    except MailmindError as exc:
        _fail(exc, as_json)
        return
    if as_json:
        typer.echo(json.dumps(hits, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("#", "score", "date", "from", "subject / snippet", show_lines=True)
    for i, h in enumerate(hits, start=1):
        snippet = h["snippet"]
        table.add_row(
            str(i),
            f"{h['score']:.3f}",
            (h["date"] or "")[:10],
            h["from"],
            f"[bold]{h['subject']}[/bold]\n{snippet}\n[dim]{h['message_id']}[/dim]",
        )
    Console().print(table)


@eval_app.command("retrieval")
def eval_retrieval_command(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Option(help="AESLC-format folder or BC3 folder.")],
    distractors: Annotated[
        Path | None, typer.Option(help="Maildir of extra documents (RFC 822 files).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N dataset emails.")] = None,
    out: Annotated[Path | None, typer.Option(help="JSON report path.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
) -> None:
    """Known-item / summary-to-email retrieval quality (MRR@10, recall@1/10, nDCG@10)."""
    from evals.retrieval.suite import format_table, run_retrieval_eval

    settings = _settings(ctx)
    try:
        report = run_retrieval_eval(
            settings,
            dataset,
            distractors=distractors,
            limit=limit,
            progress=None if as_json else lambda m: typer.echo(m, err=True),
        )
    except MailmindError as exc:
        _fail(exc, as_json)
        return
    suffix = "+distractors" if distractors else ""
    path = _write_json(
        report, out, Path("bench-results") / f"eval-retrieval-{report['dataset']}{suffix}.json"
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(format_table(report))
        typer.echo(f"report written to {path}")


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

    settings = _settings(ctx)
    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        _fail(InputError("--sizes must be integers separated by commas"), as_json)
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
        _fail(exc, as_json)
        return
    path = _write_json(report, out, Path("bench-results/retrieval.json"))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(format_bench(report))
        typer.echo(f"report written to {path}")


def register(
    app: typer.Typer,
    *,
    eval_group: typer.Typer | None = None,
    bench_group: typer.Typer | None = None,
) -> None:
    """Add ``search`` to ``app`` and ``retrieval`` to the ``eval`` / ``bench`` groups.

    Pass the main app's existing ``eval`` / ``bench`` Typer groups to merge into them; without
    them, this module's own groups are added as ``eval`` and ``bench``.
    """
    app.command("search")(search_command)
    if eval_group is None:
        app.add_typer(eval_app, name="eval")
    else:
        eval_group.command("retrieval")(eval_retrieval_command)
    if bench_group is None:
        app.add_typer(bench_app, name="bench")
    else:
        bench_group.command("retrieval")(bench_retrieval_command)
