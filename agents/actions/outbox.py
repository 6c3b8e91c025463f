"""Outgoing mail: build RFC 5322 messages, keep them in the outbox, deliver them by SMTP.

An approved ``send_email`` (or invitation reply) is stored in the outbox first, then delivered
when an SMTP server is configured (``MAILMIND_SMTP__HOST``): the row becomes ``sent`` or
``failed`` with the server's error. Without a server the mail stays ``queued`` in the outbox.
Drafts are stored with status ``draft`` and never delivered.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING

from core.errors import SyncError

if TYPE_CHECKING:
    from core.settings import SmtpSettings
    from retrieval.store.actions import ActionStore


@dataclass(slots=True)
class Outgoing:
    """What to send: addresses, subject, text body, threading headers, optional calendar part."""

    sender: str
    to: list[str]
    subject: str
    body: str
    cc: list[str] | None = None
    in_reply_to: str | None = None
    references: list[str] | None = None
    #: An iTIP document sent as ``text/calendar; method=...`` (invitation replies).
    calendar: str | None = None
    calendar_method: str | None = None


def build_message(out: Outgoing, *, domain: str | None = None) -> EmailMessage:
    """The MIME message for ``out`` (header values are checked by the email package: a newline
    in a header raises instead of injecting one)."""
    msg = EmailMessage()
    msg["From"] = out.sender
    msg["To"] = ", ".join(out.to)
    if out.cc:
        msg["Cc"] = ", ".join(out.cc)
    msg["Subject"] = " ".join(out.subject.split())
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=domain or out.sender.rsplit("@", 1)[-1])
    if out.in_reply_to:
        msg["In-Reply-To"] = out.in_reply_to
        msg["References"] = " ".join([*(out.references or []), out.in_reply_to])
    msg["X-Mailer"] = "mailmind"
    msg.set_content(out.body)
    if out.calendar is not None:
        msg.add_alternative(
            out.calendar, subtype="calendar",
            params={"method": out.calendar_method or "REPLY"},
        )  # fmt: skip
    return msg


def deliver(msg: EmailMessage, settings: SmtpSettings) -> None:
    """Send ``msg`` through the configured SMTP server (:class:`SyncError` on failure)."""
    if not settings.host:
        raise SyncError("no SMTP server configured (MAILMIND_SMTP__HOST)")
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.user:
                password = settings.password.get_secret_value() if settings.password else ""
                smtp.login(settings.user, password)
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise SyncError(f"SMTP delivery via {settings.host}:{settings.port} failed: {exc}") from exc


def send_or_queue(
    store: ActionStore,
    user: str,
    msg: EmailMessage,
    settings: SmtpSettings,
    *,
    action_id: str | None,
    draft: bool = False,
) -> dict[str, object]:
    """Store ``msg`` in the outbox (as a draft, or queued) and deliver it when SMTP is set."""
    recipients = [a.strip() for h in ("To", "Cc") for a in str(msg.get(h, "")).split(",") if a]
    outbox_id = store.add_outgoing(
        user, kind="draft" if draft else "mail", message_id=str(msg["Message-ID"]),
        recipients=recipients, subject=str(msg["Subject"]), raw=msg.as_string(),
        action_id=action_id,
    )  # fmt: skip
    status = "draft" if draft else "queued"
    if not draft and settings.host:
        try:
            deliver(msg, settings)
        except SyncError as exc:
            store.mark_outgoing(user, outbox_id, error=str(exc))
            raise
        store.mark_outgoing(user, outbox_id, error=None)
        status = "sent"
    return {"outbox_id": outbox_id, "message_id": str(msg["Message-ID"]), "status": status,
            "recipients": recipients}  # fmt: skip
