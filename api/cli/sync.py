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
) -> None:
    """Sync IMAP mail and CalDAV/CardDAV calendars and contacts of the configured accounts."""
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
