"""Triggering, chips, name fitting, calendar grounding and isolation over the demo data
(fake embedder: no model)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agents.smart_reply import SmartReplier, SmartReplyResult, suggest
from agents.smart_reply.rank import first_name
from core.errors import NotFoundError
from retrieval.index.embeddings import HashEmbedder
from retrieval.store.freetime import busy_from_events
from tests.agents.smart_reply.conftest import Demo

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture(scope="module")
def replier(demo: Demo) -> SmartReplier:
    svc = demo.services
    return SmartReplier(
        embedder=HashEmbedder(),
        calendar=svc.pim.calendars,  # type: ignore[attr-defined]
        contacts=svc.pim.contacts,  # type: ignore[attr-defined]
    )


def _suggest(replier: SmartReplier, demo: Demo, key: str) -> SmartReplyResult:
    return replier.suggest(demo.services.store, "demo", demo[key].id)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("sensor_weekly", "mailing_list"),
        ("pm_digest", "mailing_list"),
        ("tracker", "automated"),
        ("out_of_office", "auto_reply"),
        ("fyi", "no_ask"),
        ("dana_sent", "own_message"),
    ],
)
def test_not_triggered_with_reason(
    replier: SmartReplier, demo: Demo, key: str, reason: str
) -> None:
    result = _suggest(replier, demo, key)
    assert not result.triggered
    assert result.reason == reason
    assert result.chips == []


def test_question_gets_three_chips_of_distinct_intents(replier: SmartReplier, demo: Demo) -> None:
    result = _suggest(replier, demo, "tom_question")
    assert result.triggered
    assert result.reason == "question"
    assert len(result.chips) == 3
    assert len({c.intent for c in result.chips}) == 3
    assert all(c.text.strip() for c in result.chips)
    assert result.latency_ms > 0


def test_polarity_spread_for_questions(replier: SmartReplier, demo: Demo) -> None:
    # Not greg_injection: a likely phish gets no chips (tests/agents/safety/test_smart_reply.py).
    result = _suggest(replier, demo, "tom_question")
    polarities = {c.polarity for c in result.chips}
    assert len(polarities) >= 2


def test_first_name_fitting_once(replier: SmartReplier, demo: Demo) -> None:
    result = _suggest(replier, demo, "maya_thanks")
    assert result.reason == "thanks"
    with_name = [c for c in result.chips if "Maya" in c.text]
    assert len(with_name) <= 1
    assert not any("{" in c.text for c in result.chips)


def test_name_slot_fills_or_disappears(replier: SmartReplier) -> None:
    spec = replier.responses.by_id("thanks_name")
    assert spec.render(first_name="Ana") == "Thanks, Ana!"
    assert spec.render() == "Thanks!"


@pytest.mark.parametrize(
    ("display", "nicknames", "expected"),
    [
        ("Samantha Whitfield", ["Sam"], "Sam"),
        ("Maya Thompson", [], "Maya"),
        ("Chen, Marcus", [], "Marcus"),
        ("José Martínez", [], "José"),
        ("Sales", [], None),
        ("NORTHWIND LABS", [], None),
        ("", [], None),
    ],
)
def test_first_name(display: str, nicknames: list[str], expected: str | None) -> None:
    assert first_name(display, nicknames) == expected


def test_free_time_gets_works_for_me(replier: SmartReplier, demo: Demo) -> None:
    # Sam: "Can we meet Thursday 19 Nov at 2pm?"; only a tentative hold is on the calendar.
    result = _suggest(replier, demo, "sam_meeting")
    assert result.reason == "meeting_request"
    assert result.proposed_time is not None
    assert result.proposed_time.start == datetime(2026, 11, 19, 14, 0, tzinfo=LA)
    assert result.calendar_check is not None
    assert result.calendar_check.status in {"free", "tentative"}
    confirm = [c for c in result.chips if c.intent == "confirm_time"]
    assert len(confirm) == 1
    assert "Thu 19 Nov 14:00" in confirm[0].text
    assert not any(c.intent == "propose_time" and "How about" in c.text for c in result.chips)


def test_busy_time_gets_an_alternative_slot(replier: SmartReplier, demo: Demo) -> None:
    # Same sender, but proposing Tue 1 Dec 10:00, when the budget review (confirmed) is on.
    original = demo["sam_meeting"]
    moved = dataclasses.replace(
        original,
        new_text="Hi Dana,\n\nCan we meet Tuesday 1 Dec at 10am to walk through the pricing page?"
        "\n\nSam",
    )
    result = replier.suggest(moved, "demo", moved.id)
    check = result.calendar_check
    assert check is not None
    assert check.status == "busy"
    assert check.alternative is not None
    assert not any(c.intent in {"confirm_time", "accept"} for c in result.chips)
    alt_chip = [c for c in result.chips if c.response_id == "meet_busy_alternative"]
    assert len(alt_chip) == 1
    local = check.alternative.astimezone(LA)
    assert f"{local:%a} {local.day} {local:%b} {local:%H:%M}" in alt_chip[0].text
    # The alternative really is free in the calendar.
    calendar = demo.services.pim.calendars  # type: ignore[attr-defined]
    end = check.alternative + timedelta(minutes=30)
    events = calendar.events_between("demo", check.alternative - timedelta(days=1), end, tz=LA)
    hard = [
        b
        for b in busy_from_events(events, user_emails=["dana@northwind.example"])
        if not b.soft and b.start < end and b.end > check.alternative
    ]
    assert hard == []


def test_meeting_already_on_calendar(replier: SmartReplier, demo: Demo) -> None:
    # Nadia's lunch (Fri 20 Nov 12:30) is on Dana's calendar with Nadia as attendee.
    messages = demo.services.store.list_messages("demo", limit=100)  # type: ignore[attr-defined]
    lunch = next(m for m in messages if m.subject == "Lunch next Friday?")
    result = replier.suggest(lunch, "demo", lunch.id)
    assert result.calendar_check is not None
    assert result.calendar_check.status == "on_calendar"


def test_other_users_message_is_not_found(replier: SmartReplier, demo: Demo) -> None:
    store = demo.services.store  # type: ignore[attr-defined]
    with pytest.raises(NotFoundError):
        replier.suggest(store, "someone-else", demo["tom_question"].id)
    with pytest.raises(NotFoundError):
        replier.suggest(store, "demo", "m-does-not-exist")


def test_other_users_calendar_is_not_read(replier: SmartReplier, demo: Demo) -> None:
    # Dana's message handed over as another user's: that user has no events, so Tue 1 Dec 10:00
    # is free for them (Dana's budget review must not leak into their answer).
    moved = dataclasses.replace(
        demo["sam_meeting"], new_text="Can we meet Tuesday 1 Dec at 10am to review pricing?"
    )
    result = replier.suggest(moved, "someone-else", moved.id, zone=LA)
    assert result.calendar_check is not None
    assert result.calendar_check.status == "free"


def test_module_suggest_caches_and_uses_edge(demo: Demo, demo_dir: object) -> None:
    svc = demo.services
    embedder = HashEmbedder()
    kwargs = {
        "calendar": svc.pim.calendars,  # type: ignore[attr-defined]
        "embedder": embedder,
        "data_dir": demo_dir,
    }
    first = suggest(svc.store, "demo", demo["tom_question"].id, **kwargs)  # type: ignore[attr-defined, arg-type]
    again = suggest(svc.store, "demo", demo["tom_question"].id, **kwargs)  # type: ignore[attr-defined, arg-type]
    assert [c.response_id for c in first.chips] == [c.response_id for c in again.chips]
    assert (demo_dir / "smart_reply" / "responses-hash-384").is_dir()  # type: ignore[operator]
