"""``mailmind ingest``, ``stats`` and ``index``: getting data in and keeping the index current."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from api.cli.common import JsonOpt, UserOpt, emit_json, err, fail, open_services
from core.errors import MailmindError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


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

    services = open_services()
    _show_index_notices()
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


def _advance(bar: Progress, task: TaskID, n: int) -> None:
    """Advance the index bar by ``n`` messages and refresh its rate (messages per second)."""
    bar.advance(task, n)
    t = next(x for x in bar.tasks if x.id == task)
    elapsed = t.elapsed or 0.0
    if elapsed > 0:
        bar.update(task, rate=f"{t.completed / elapsed:,.0f}")


def _refuse_while_serving(data_dir: Path) -> None:
    """Dropping the whole index under a running service would pull its shards away (and the
    service keeps the old embedding model loaded): ask for it to be stopped first."""
    from core.errors import VectorIndexError
    from retrieval.index.handoff import discover

    running = discover(data_dir)
    if running is not None:
        raise VectorIndexError(
            f"`mailmind serve` (PID {running.pid}) is using the index: stop it before "
            "rebuilding the whole index (`--user NAME --rebuild` is handed to it instead)"
        )


def _show_index_notices() -> None:
    """Print index lock waits and hand-offs to a running service on stderr, above the bar."""
    from rich.markup import escape

    from retrieval.index.lock import set_notifier

    set_notifier(lambda message: err.print(escape(message), style="yellow", highlight=False))


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


def stats(user: UserOpt, as_json: JsonOpt = False) -> None:
    """Counts of messages, threads and quarantined items, and the date range."""
    services = open_services()
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
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from retrieval.index import drop_index

    services = open_services()
    _show_index_notices()
    results: dict[str, dict[str, int]] = {}
    try:
        if rebuild and not user:
            _refuse_while_serving(services.settings.data_dir)
            # The old index may not even open (other model or schema): drop it unopened.
            drop_index(services.settings)
        users = [user] if user else services.store.users()
        # Count, rate and ETA on stderr: indexing a real mailbox runs for hours.
        with Progress(
            TextColumn("[bold]index[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} msg/s"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=err, disable=as_json,
        ) as bar:  # fmt: skip
            for u in users:
                total = services.store.stats(u).messages
                task = bar.add_task(u, total=total, rate="-")
                results[u] = services.index_user(
                    u, rebuild=rebuild, progress=partial(_advance, bar, task)
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
