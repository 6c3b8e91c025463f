"""One sync pass over the configured IMAP and CalDAV/CardDAV accounts.

:func:`run_sync` takes settings and callbacks and returns a JSON-friendly summary, so the CLI, the
HTTP service or a scheduler can run a sync. IMAP messages go to mail ingestion through callbacks
(:class:`~retrieval.sources.sync.mail_sink.MailSink`); without them IMAP accounts are *skipped*
rather than synced: advancing the sync state without storing the mail would lose it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import InputError, MailmindError
from retrieval.store.pim import open_pim

if TYPE_CHECKING:
    from core.settings import Settings
    from retrieval.sources.sync.imap import OnLocators, OnMessage

#: ``progress(kind, account, detail)`` for human output.
OnSyncProgress = Callable[[str, str, str], None]
MailCallbacks = tuple["OnMessage", "OnLocators", "OnLocators | None"]


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
    from retrieval.sources.sync.dav import sync_dav_account
    from retrieval.sources.sync.imap import sync_imap_account

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
