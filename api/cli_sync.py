"""``mailmind sync`` and the calendar/contacts ingest helpers.

``api.cli`` attaches this module through :func:`register`. The work is done by
:func:`run_sync` (settings + callbacks in, a JSON-friendly summary out), so the API or a
scheduler can run a sync without the CLI.

IMAP messages go to mail ingestion through callbacks (:meth:`api.services.Services.mail_sink`);
:func:`run_sync` called without them *skips* IMAP accounts rather than syncing: advancing the
sync state without storing the mail would lose it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from core.errors import InputError, MailmindError

if TYPE_CHECKING:
    from core.settings import Settings
    from retrieval.calendar.ingest import IngestReport
    from retrieval.calendar.store import CalendarStore
    from retrieval.contacts.store import ContactStore
    from retrieval.sync.dav import DavState
    from retrieval.sync.imap import ImapState, OnLocators, OnMessage

#: ``progress(kind, account, detail)`` for human output.
OnSyncProgress = Callable[[str, str, str], None]
MailCallbacks = tuple["OnMessage", "OnLocators", "OnLocators | None"]


def pim_db_path(settings: Settings) -> Path:
    """SQLite file for calendar, contacts and sync state.

    A file of its own beside the mail store while the stores are developed in parallel; point
    it at ``settings.store_path`` to merge them (the tables are prefixed and versioned).
    """
    return settings.data_dir / "pim.sqlite3"


@dataclass(slots=True)
class PimStores:
    """The calendar and contact stores plus the sync state, on one SQLite connection."""

    calendars: CalendarStore
    contacts: ContactStore
    imap_state: ImapState
    dav_state: DavState

    def close(self) -> None:
        """Close the shared connection."""
        self.calendars.close()


def open_pim(settings: Settings) -> PimStores:
    """Open (and create) the calendar/contact/sync tables for ``settings``."""
    from retrieval.calendar.sqlite import connect
    from retrieval.calendar.store import CalendarStore
    from retrieval.contacts.store import ContactStore
    from retrieval.sync.dav import DavState
    from retrieval.sync.imap import ImapState

    conn = connect(pim_db_path(settings), settings.store.busy_timeout_s)
    return PimStores(CalendarStore(conn), ContactStore(conn), ImapState(conn), DavState(conn))


# -- ingest helpers (used by `mailmind ingest` for .ics / .vcf paths) ------------------------


def ingest_ics_path(store: CalendarStore, user: str, path: str | Path) -> IngestReport:
    """Store the events of an ``.ics``/``.jcal`` file or folder; see ``report.as_dict()``."""
    from retrieval.calendar.ingest import ingest_ics_path as _ingest

    return _ingest(store, user, path)


def ingest_vcf_path(store: ContactStore, user: str, path: str | Path) -> IngestReport:
    """Store the vCards of a ``.vcf`` file or folder; see ``report.as_dict()``."""
    from retrieval.contacts.ingest import ingest_vcf_path as _ingest

    return _ingest(store, user, path)


def pim_kind(path: str | Path) -> Literal["calendar", "contacts"] | None:
    """Whether ``path`` is calendar or contact data (by suffix; folders by their files)."""
    from retrieval.calendar.ingest import ICS_SUFFIXES, JCAL_SUFFIXES
    from retrieval.contacts.ingest import VCF_SUFFIXES

    p = Path(path)
    suffixes = {p.suffix.lower()} if p.is_file() else {f.suffix.lower() for f in p.glob("*")}
    if suffixes & set(ICS_SUFFIXES + JCAL_SUFFIXES):
        return "calendar"
    if suffixes & set(VCF_SUFFIXES):
        return "contacts"
    return None


def ingest_pim_path(settings: Settings, user: str, path: str | Path) -> dict[str, Any] | None:
    """Ingest calendar or contact data at ``path``; ``None`` when it is neither (mail)."""
    kind = pim_kind(path)
    if kind is None:
        return None
    pim = open_pim(settings)
    try:
        if kind == "calendar":
            report = ingest_ics_path(pim.calendars, user, path)
        else:
            report = ingest_vcf_path(pim.contacts, user, path)
    finally:
        pim.close()
    return {"kind": kind, **report.as_dict()}


# -- sync ----------------------------------------------------------------------------------


def run_sync(
    settings: Settings,
    *,
    account: str | None = None,
    mail: MailCallbacks | None = None,
    progress: OnSyncProgress | None = None,
) -> dict[str, Any]:
    """Sync the configured IMAP and DAV accounts once (or only ``account``).

    ``mail`` = ``(on_message, on_expunge, on_flags)`` from mail ingestion; without it IMAP
    accounts are skipped. A failing account is reported and does not stop the others.
    """
    from retrieval.sync.dav import sync_dav_account
    from retrieval.sync.imap import sync_imap_account

    imap = [a for a in settings.sync.imap if account in (None, a.name)]
    dav = [a for a in settings.sync.dav if account in (None, a.name)]
    if account is not None and not imap and not dav:
        names = [a.name for a in settings.sync.imap] + [a.name for a in settings.sync.dav]
        raise InputError(f"no sync account named {account!r}; configured: {names or 'none'}")
    say = progress or (lambda kind, name, detail: None)
    summary: dict[str, Any] = {"imap": [], "dav": []}
    pim = open_pim(settings)
    try:
        for acc in imap:
            if mail is None:
                say("imap", acc.name, "skipped: mail ingestion is not wired to sync")
                summary["imap"].append({"account": acc.name, "skipped": "mail ingestion not wired"})
                continue
            say("imap", acc.name, f"connecting to {acc.host}:{acc.port}")
            try:
                rep = sync_imap_account(
                    acc,
                    pim.imap_state,
                    *mail,
                    progress=lambda name, folder, done, total: say(
                        "imap", name, f"{folder}: {done}/{total} new"
                    ),
                )
            except MailmindError as exc:
                summary["imap"].append({"account": acc.name, "error": str(exc)})
                say("imap", acc.name, f"failed: {exc}")
                continue
            summary["imap"].append(
                {
                    "account": acc.name,
                    "folders": [
                        {
                            "folder": f.folder,
                            "new": f.new,
                            "flags_changed": f.flags_changed,
                            "expunged": f.expunged,
                            "resynced": f.resynced,
                        }
                        for f in rep.folders
                    ],
                    "errors": [{"folder": f, "error": e} for f, e in rep.errors],
                }
            )
            say("imap", acc.name, f"{rep.new} new messages")
        for dacc in dav:
            say("dav", dacc.name, f"connecting to {dacc.url}")
            try:
                drep = sync_dav_account(
                    dacc,
                    pim.dav_state,
                    pim.calendars,
                    pim.contacts,
                    progress=lambda name, col, detail: say("dav", name, f"{col}: {detail}"),
                )
            except MailmindError as exc:
                summary["dav"].append({"account": dacc.name, "error": str(exc)})
                say("dav", dacc.name, f"failed: {exc}")
                continue
            summary["dav"].append(
                {
                    "account": dacc.name,
                    "collections": [
                        {
                            "name": c.name,
                            "kind": c.kind,
                            "mode": c.mode,
                            "changed": c.changed,
                            "deleted": c.deleted,
                            "failures": [{"item": i, "reason": r} for i, r in c.failures],
                        }
                        for c in drep.collections
                    ],
                    "errors": [{"collection": u, "error": e} for u, e in drep.errors],
                }
            )
            changed = sum(c.changed for c in drep.collections)
            say("dav", dacc.name, f"{changed} items changed")
    finally:
        pim.close()
    return summary


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

    from api.cli import emit_json, fail
    from api.services import Services
    from core.settings import load_settings

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


def register(
    app: typer.Typer,
    *,
    eval_group: typer.Typer | None = None,
    bench_group: typer.Typer | None = None,
) -> None:
    """Attach ``sync`` to the ``mailmind`` app (called by ``api.cli``)."""
    app.command("sync")(sync_command)
