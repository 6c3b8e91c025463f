"""The ``mailmind`` command line.

Thin: every command builds :class:`~api.services.Services` from settings and calls into it.
Human output (progress bars, tables) goes to stderr; ``--json`` prints exactly one JSON object on
stdout, so scripts can pipe it. Exit codes: 0 success, 2 unusable input (path, permissions,
user id), 1 anything else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from core.errors import InputError, MailmindError

app = typer.Typer(
    name="mailmind",
    help="mailmind: an open-source mail assistant over your mail, calendar and contacts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks: print a table and write JSON.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
eval_app = typer.Typer(
    help="Evaluation suites: print a table and write JSON.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")

err = Console(stderr=True)

UserOpt = Annotated[str, typer.Option("--user", "-u", help="mailmind user the data belongs to.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _services() -> Any:
    from api.services import Services
    from core.settings import load_settings

    return Services(load_settings())


def emit_json(obj: object) -> None:
    """Write one JSON object to stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(exc: MailmindError, as_json: bool) -> typer.Exit:
    """Report an error the way the caller asked for and return the exit to raise."""
    code = 2 if isinstance(exc, InputError) else 1
    if as_json:
        emit_json({"error": exc.code, "message": str(exc)})
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code)


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="mbox file, Maildir, folder of .eml, .eml file.")],
    user: UserOpt,
    as_json: JsonOpt = False,
    workers: Annotated[
        int | None, typer.Option(help="Parser processes (default: one per core).")
    ] = None,
    index: Annotated[
        bool, typer.Option("--index/--no-index", help="Embed new mail into the vector index.")
    ] = True,
) -> None:
    """Ingest mail (mbox, Maildir, .eml, folders), calendars (.ics) or contacts (.vcf) from
    PATH, format detected, skipping what is already stored."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    services = _services()
    try:
        with Progress(
            TextColumn("[bold]ingest[/] {task.fields[count]} msgs"),
            BarColumn(),
            MofNCompleteColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rate]} msg/s"),
            TimeRemainingColumn(),
            console=err,
            transient=as_json,
            disable=not err.is_terminal and as_json,
        ) as bar:
            task = bar.add_task("ingest", total=None, count=0, rate="-")
            import time

            t0 = time.perf_counter()

            def progress(done: int, bytes_done: int, bytes_total: int) -> None:
                if done % 50 and bytes_done != bytes_total:
                    return
                elapsed = max(time.perf_counter() - t0, 1e-6)
                bar.update(
                    task, completed=bytes_done, total=bytes_total, count=done,
                    rate=f"{done / elapsed:,.0f}",
                )  # fmt: skip

            report = services.ingest_path(
                user, path, workers=workers, progress=progress, index=index
            )
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json(report)
        return
    _print_ingest_summary(report)


def _print_ingest_summary(report: dict[str, Any]) -> None:
    if report["format"] in ("ics", "vcf"):
        _print_pim_summary(report["format"], report)
        return
    if report["format"] == "pim":
        for key in ("calendar", "contacts"):
            if key in report:
                _print_pim_summary(key, report[key])
        return
    already = report["already_quarantined"]
    err.print(
        f"[green]done[/] {report['format']} {report['path']}: {report['seen']} items, "
        f"{report['added']} added, {report['duplicates']} duplicates skipped, "
        f"{report['quarantined']} quarantined"
        + (f" ({already} already quarantined)" if already else "")
        + f", {report['threads']} threads, {report['messages_per_s']:,.0f} msg/s"
    )
    for reason, n in report["quarantine_reasons"].items():
        err.print(f"  quarantined {n:>5} × {reason}")
    for key in ("calendar", "contacts"):
        if key in report:
            _print_pim_summary(key, report[key])
    if "index" in report:
        idx = report["index"]
        err.print(
            f"[green]indexed[/] {idx['embedded']} embedded, {idx['unchanged']} unchanged, "
            f"{idx['deleted']} deleted ({idx['chunks']} chunks)"
        )


def _print_pim_summary(kind: str, part: dict[str, Any]) -> None:
    counts = {k: v for k, v in part.items() if isinstance(v, int) and k != "files"}
    shown = ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing new"
    err.print(f"[green]done[/] {kind}: {part['files']} files, {shown}")
    for failure in part["failures"][:20]:
        err.print(f"  quarantined: {failure['item']}: {failure['reason']}")


@app.command()
def stats(user: UserOpt, as_json: JsonOpt = False) -> None:
    """Counts of messages, threads and quarantined items, and the date range."""
    services = _services()
    try:
        s = services.store.stats(user)
        events = services.pim.calendars.count(user)
        contacts = len(services.pim.contacts.contacts(user))
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    data = {
        "user": s.user,
        "messages": s.messages,
        "threads": s.threads,
        "quarantined": s.quarantined,
        "sources": s.sources,
        "attachments": s.attachments,
        "events": events,
        "contacts": contacts,
        "first_date": s.first_date.isoformat() if s.first_date else None,
        "last_date": s.last_date.isoformat() if s.last_date else None,
        "folders": s.folders,
    }
    if as_json:
        emit_json(data)
        return
    from rich.table import Table

    table = Table(title=f"mailmind stats: {user}", show_header=False)
    for key in (
        "messages",
        "threads",
        "quarantined",
        "sources",
        "attachments",
        "events",
        "contacts",
    ):
        table.add_row(key, f"{data[key]:,}")
    table.add_row("date range", f"{data['first_date'] or '-'} … {data['last_date'] or '-'}")
    Console().print(table)


@app.command()
def index(
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Only this user (default: all users).")
    ] = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            help="Re-embed everything; without --user the whole index is dropped and rebuilt "
            "(needed after an embedding-model or point-schema change)."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Embed new or changed messages into the vector index and drop deleted ones."""
    from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from retrieval.index import drop_index

    services = _services()
    results: dict[str, dict[str, int]] = {}
    try:
        if rebuild and not user:
            # The old index may not even open (other model or schema): drop it unopened.
            drop_index(services.settings)
        users = [user] if user else services.store.users()
        with Progress(
            TextColumn("[bold]index[/] {task.description}"), MofNCompleteColumn(),
            TimeRemainingColumn(), console=err, disable=as_json,
        ) as bar:  # fmt: skip
            for u in users:
                total = services.store.stats(u).messages
                task = bar.add_task(u, total=total)
                results[u] = services.index_user(
                    u, rebuild=rebuild, progress=lambda n, t=task: bar.advance(t, n)
                )
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json({"users": results})
        return
    for u, c in results.items():
        err.print(
            f"[green]{u}[/]: {c['embedded']} embedded, {c['unchanged']} unchanged, "
            f"{c['payload_updated']} updated, {c['deleted']} deleted ({c['chunks']} chunks)"
        )


@eval_app.command("summaries")
def eval_summaries(
    dataset: Annotated[
        Path | None, typer.Option(help="AESLC-format folder (default: ../shared aeslc_dev).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N emails.")] = None,
    model: Annotated[
        bool, typer.Option("--model/--no-model", help="Also score the LLM path (slow).")
    ] = False,
    out: Annotated[Path, typer.Option(help="Where to write JSON.")] = Path(
        "bench-results/eval-summaries.json"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Subject-line suggestion on AESLC: ROUGE F1 of lead, extractive and model subjects."""
    from core.settings import REPO_ROOT
    from evals.summaries.aeslc import format_aeslc, run_aeslc_eval

    folder = dataset or REPO_ROOT.parent / "shared" / "data" / "summaries" / "aeslc_dev"
    if not folder.is_dir():
        raise fail(InputError(f"dataset folder not found: {folder}"), as_json)
    services = _services()
    try:
        report = run_aeslc_eval(
            folder, embedder=services.embedder, limit=limit,
            model=services.chat_model if model else None, log=err.print,
        )  # fmt: skip
    finally:
        services.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    if as_json:
        emit_json(report)
    else:
        typer.echo(format_aeslc(report))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
) -> None:
    """Ingest the bundled demo data for user `demo` if the store is empty, then serve.

    The HTTP API is a later milestone; until it lands this prints the demo user's stats and exits.
    """
    from core.settings import REPO_ROOT

    services = _services()
    try:
        store = services.store
        if store.stats("demo").messages == 0:
            for part in ("mail", "calendar", "contacts"):
                report = services.ingest_path("demo", REPO_ROOT / "demo" / part)
                err.print(f"ingested demo {part}:")
                _print_ingest_summary(report)
    finally:
        services.close()
    err.print(f"[yellow]HTTP API not available yet[/] (would bind {host}:{port}); stats for demo:")
    stats("demo", as_json=False)


@bench_app.command("ingest")
def bench_ingest(
    path: Annotated[
        Path | None, typer.Option(help="Source to ingest (default: ../shared Enron maildir).")
    ] = None,
    runs: Annotated[int, typer.Option(help="Repetitions (median reported).")] = 3,
    out: Annotated[Path, typer.Option(help="Where to write the JSON result.")] = Path(
        "bench-results/ingest.json"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Parse+store throughput (messages/s) into a fresh store, median of RUNS."""
    from evals.bench_ingest import default_enron_path, run_ingest_bench

    source = path or default_enron_path()
    try:
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


def _register_optional() -> None:
    """Attach commands owned by other modules: each has
    ``register(app, *, eval_group, bench_group)``."""
    import importlib

    for module, attach in (
        ("api.cli_retrieval", "register"),
        ("api.cli_models", "register"),
        ("api.cli_sync", "register"),
        ("api.cli_agents", "register"),
        ("api.cli_reply", "register"),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        register = getattr(mod, attach, None)
        if register is not None:
            register(app, eval_group=eval_app, bench_group=bench_app)


def main() -> None:
    """Console entry point."""
    _register_optional()
    app()


if __name__ == "__main__":
    main()
