"""``mailmind sync``: one sync pass over the configured accounts (work in
:func:`retrieval.sources.sync.run.run_sync`)."""

from __future__ import annotations

from typing import Annotated

import typer

from core.errors import MailmindError


def sync_command(
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account (by name).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Keep syncing: wait for new mail with IMAP IDLE (polling where the server "
            "lacks it) and publish a `message.stored` event per new message; stop with SIGTERM "
            "or Ctrl-C.",
        ),
    ] = False,
) -> None:
    """Sync IMAP mail and CalDAV/CardDAV calendars and contacts of the configured accounts."""
    if watch:
        watch_command(account, as_json)
        return
    from rich.console import Console
    from rich.markup import escape

    from api.cli.common import emit_json, fail
    from api.services import Services
    from core.settings import load_settings
    from retrieval.index.lock import set_notifier
    from retrieval.sources.sync.run import run_sync

    err = Console(stderr=True)
    settings = load_settings()
    services = Services(settings)
    try:
        sink = services.mail_sink()
        summary = run_sync(
            settings,
            account=account,
            mail=(sink.on_message, sink.on_expunge, sink.on_flags),
            progress=lambda kind, name, detail: err.print(f"[bold]{kind}[/] {name}: {detail}"),
        )
        sink.finish()
        # Synced mail is indexed too: by the running service when there is one (this process
        # then never touches a shard the service uses), else here, taking turns on the shard.
        set_notifier(lambda message: err.print(escape(message), style="yellow", highlight=False))
        summary["index"] = {u: services.index_user(u) for u in sorted(sink.touched_users)}
        summary["mail"] = {
            "added": sink.added,
            "removed": sink.removed,
            "quarantined": sink.quarantined,
        }
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json(summary)
    failed = [a for a in summary["imap"] + summary["dav"] if "error" in a]
    if failed:
        raise typer.Exit(1)


def watch_command(account: str | None, as_json: bool) -> None:
    """``sync --watch``: sync passes on every change until SIGTERM/SIGINT; new and expunged
    mail is published as events (handled in this process when the bus is in-process, by
    ``mailmind worker`` processes with Redis). ``--json`` prints one summary at the end."""
    import os
    import signal
    import threading

    from rich.console import Console

    from api.cli.common import emit_json, fail
    from api.services import Services
    from core.settings import load_settings
    from retrieval.sources.sync.run import run_sync
    from retrieval.sources.sync.watch import ImapIdler, watch

    err = Console(stderr=True)
    settings = load_settings()
    services = Services(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    totals = {"passes": 0, "added": 0, "removed": 0, "quarantined": 0, "errors": 0}
    consumer: threading.Thread | None = None
    consumer_stop = threading.Event()
    try:
        if settings.events.backend == "inprocess":
            # Nobody else reads an in-process queue: this process handles its own events.
            worker = services.event_worker(f"sync-{os.getpid()}")
            consumer = threading.Thread(
                target=worker.run, args=(consumer_stop,), kwargs={"block_s": 0.5}, daemon=True
            )
            consumer.start()
        else:
            _ = services.event_bus  # fail now, not after the first pass, if Redis is unreachable

        def one_pass() -> dict[str, object]:
            sink = services.mail_sink(announce=True)
            summary = run_sync(
                settings, account=account,
                mail=(sink.on_message, sink.on_expunge, sink.on_flags),
                progress=lambda kind, name, detail: err.print(f"[bold]{kind}[/] {name}: {detail}"),
            )  # fmt: skip
            sink.finish()
            totals["added"] += sink.added
            totals["removed"] += sink.removed
            totals["quarantined"] += sink.quarantined
            totals["errors"] += sum(1 for a in summary["imap"] + summary["dav"] if "error" in a)
            return summary

        imap = [a for a in settings.sync.imap if account in (None, a.name)]
        idler = ImapIdler(imap[0]) if imap else None
        totals["passes"] = watch(
            one_pass, stop=stop, idler=idler, poll_s=settings.events.watch_poll_s
        )
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        if consumer is not None:
            # Drain what this process published (bounded): an in-memory queue dies with us.
            # Whatever is left is caught up by `mailmind index` (vectors) or computed on request.
            _drain(services, seconds=30.0)
            consumer_stop.set()
            consumer.join(timeout=30)
        services.close()
    if as_json:
        emit_json(totals)


def _drain(services: object, *, seconds: float) -> None:
    """Wait until the in-process bus has nothing queued, pending or delayed (or ``seconds``)."""
    import time

    bus = services.event_bus  # type: ignore[attr-defined]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s = bus.stats()
        if s.lag + s.pending + s.delayed == 0:
            return
        time.sleep(0.05)
