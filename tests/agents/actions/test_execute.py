"""Approved actions really happen: mail through a real SMTP server (aiosmtpd), an iTIP REPLY to
the organizer, the calendar updated; approvals are single-use, user-bound and expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from api.services import Services
from core.errors import NotFoundError
from core.settings import Settings, SmtpSettings
from retrieval.store.actions import ActionConflictError, ActionExpiredError
from tests.agents.actions.conftest import Smtp, context, service_for

pytestmark = [pytest.mark.server, pytest.mark.integration]

INVITE_UID = "evt-aquatest-testplan-20261201@aquatest-labs.example"
KENJI = "kenji.watanabe@aquatest-labs.example"


def _smtp_settings(services: Services, smtp: Smtp) -> Settings:
    settings = services.settings.model_copy(deep=True)
    settings.smtp = SmtpSettings(host=smtp.host, port=smtp.port, starttls=False)  # type: ignore[call-arg]
    return settings


def test_approved_reply_is_delivered_by_smtp_with_threading_headers(
    writable: Services, smtp_server: Smtp
) -> None:
    service = service_for(writable, _smtp_settings(writable, smtp_server))
    ctx = context(writable)
    action = service.propose(ctx, "send_email", "reply to Kenji saying Thanks, see you Tuesday")
    assert smtp_server.received == []  # proposing sends nothing
    done = service.decide("demo", action.id, "approve")
    assert done.status == "executed" and done.result and done.result["status"] == "sent"
    ((mail_from, rcpt, msg),) = smtp_server.received
    assert mail_from == "dana@northwind.example"  # her sent folder's address
    assert rcpt == [KENJI] and msg["To"] == KENJI
    original = writable.store.get_message("demo", action.args["in_reply_to"])
    assert original is not None
    assert msg["In-Reply-To"] == f"<{original.message_id.strip('<>')}>"
    assert msg["Subject"].startswith("Re: ")
    assert "Thanks, see you Tuesday." in msg.get_payload(decode=True).decode()
    # Single use: a second approval is a conflict and nothing more is sent.
    with pytest.raises(ActionConflictError):
        service.decide("demo", action.id, "approve")
    assert len(smtp_server.received) == 1


def test_invitation_reply_is_itip_and_updates_the_calendar(
    writable: Services, smtp_server: Smtp
) -> None:
    service = service_for(writable, _smtp_settings(writable, smtp_server))
    action = service.propose(
        context(writable), "reply_to_invitation", "accept the invitation to the test plan review"
    )
    done = service.decide("demo", action.id, "approve")
    assert done.status == "executed", done.result
    ((_, rcpt, msg),) = smtp_server.received
    assert rcpt == [KENJI]
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "REPLY"
    cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    assert str(cal["METHOD"]) == "REPLY"
    (event,) = cal.walk("VEVENT")
    assert str(event["UID"]) == INVITE_UID
    attendee = event["ATTENDEE"]
    assert str(attendee).lower() == "mailto:dana@northwind.example"
    assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert str(event["ORGANIZER"]).lower() == f"mailto:{KENJI}"
    stored = writable.pim.calendars.events_between(
        "demo", datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC),
        uids=[INVITE_UID],
    )  # fmt: skip
    dana = [a for a in stored[0].attendees if a.email == "dana@northwind.example"]
    assert dana and dana[0].partstat == "ACCEPTED"


def test_approval_is_bound_to_its_user_and_expires(writable: Services) -> None:
    store = writable.actions.store
    args = {"to": ["alice@example.com"], "subject": "x", "body": "y"}
    mine = store.create("demo", tool="save_draft", args=args, provenance={}, flags=[],
                        summary="draft", ttl_s=60)  # fmt: skip
    with pytest.raises(NotFoundError):
        store.decide("eve", mine.id, "approved")
    assert store.get("demo", mine.id).status == "pending"
    old = store.create(
        "demo", tool="save_draft", args=args, provenance={}, flags=[], summary="old", ttl_s=60,
        now=datetime.now(UTC) - timedelta(minutes=5),
    )  # fmt: skip
    with pytest.raises(ActionExpiredError):
        store.decide("demo", old.id, "approved")
    assert store.get("demo", old.id).status == "expired"
    assert old.id not in [a.id for a in store.list("demo", status="pending")]
    # A draft is stored, never delivered.
    done = writable.actions.decide("demo", mine.id, "approve")
    assert done.status == "executed" and done.result and done.result["status"] == "draft"
