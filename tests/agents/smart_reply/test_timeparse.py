"""Proposed-time detection."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agents.smart_reply.timeparse import find_proposed_time, format_slot

LA = ZoneInfo("America/Los_Angeles")
# Mon 16 Nov 2026, 15:22 in Los Angeles.
REF = datetime(2026, 11, 16, 23, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "minutes"),
    [
        ("Can we meet Thursday 19 Nov at 2pm? 30 minutes should do.", (11, 19, 14, 0), 30),
        ("Call tomorrow at 10?", (11, 17, 10, 0), 30),
        (
            "Are you free for lunch on Friday, 20 November? I was thinking 12:30.",
            (11, 20, 12, 30),
            30,
        ),
        ("Lunch next Friday at noon?", (11, 27, 12, 0), 30),
        ("Could we talk on Dec 3 at 9:30am for an hour?", (12, 3, 9, 30), 60),
        ("You are invited. When: Tuesday 1 December 2026, 13:00-14:00", (12, 1, 13, 0), 60),
    ],
)
def test_finds_proposals(text: str, start: tuple[int, int, int, int], minutes: int) -> None:
    found = find_proposed_time(text, REF, LA)
    assert found is not None
    month, day, hour, minute = start
    assert found.start == datetime(2026, month, day, hour, minute, tzinfo=LA)
    assert (found.end - found.start).total_seconds() == minutes * 60


@pytest.mark.parametrize(
    "text",
    [
        "Would you be open to a 20-minute intro call in early December?",  # no time of day
        "Last report 12 Nov at 03:10 from the clearwell inlet.",  # in the past
        "Webinar is moved to 12 Jan 2027 at 10:00 PT.",  # a report, not a proposal
        "Reproduced on 7 of the 20 EVT units.",
    ],
)
def test_ignores_non_proposals(text: str) -> None:
    assert find_proposed_time(text, REF, LA) is None


def test_format_slot() -> None:
    assert format_slot(datetime(2026, 11, 20, 18, 0, tzinfo=UTC), LA) == "Fri 20 Nov 10:00"
