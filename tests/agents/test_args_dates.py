"""Date phrases resolved by code against a fixed clock, and checked tool arguments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agents.assistant.args import date_phrase, heuristic_args, query_ok, reconcile
from tools.context import AgentContext, Backends
from tools.when import parse_when, resolve_range

TZ = ZoneInfo("America/Los_Angeles")
#: Wednesday 25 Nov 2026, 09:00 Pacific (the eval clock).
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)


@pytest.fixture
def ctx() -> AgentContext:
    """A context with no data: argument rules only need the clock and the zone."""
    none: Any = None
    return AgentContext(
        user="demo", backends=Backends(store=none, calendars=none, contacts=none), now=NOW,
        timezone="America/Los_Angeles",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("question", "day"),
    [
        ("what do I have on May 26th?", date(2027, 5, 26)),  # a past month means next year
        ("meetings on March 3rd", date(2027, 3, 3)),
        ("mail from May 15th, 2024", date(2024, 5, 15)),
        ("anything on the 26th of May?", date(2027, 5, 26)),
        ("what's on today", date(2026, 11, 25)),
        ("am I busy on Saturday", date(2026, 11, 28)),
        ("December 9th", date(2026, 12, 9)),
        ("the 28th", date(2026, 11, 28)),
        # The calendar date says which Thursday; a weekday alone would be tomorrow.
        ("free time on Thursday Dec 10 for a call?", date(2026, 12, 10)),
        ("Monday the 30th", date(2026, 11, 30)),
    ],
)
def test_date_phrases_resolve_to_the_right_local_day(question: str, day: date) -> None:
    phrase = date_phrase(question)
    assert phrase is not None
    start, end = resolve_range(phrase, NOW, TZ)
    assert start.date() == day and (end - start).days == 1
    assert start.tzinfo == TZ and (start.hour, start.minute) == (0, 0)  # local midnight


def test_next_week_is_monday_to_monday() -> None:
    phrase = date_phrase("free time next week?")
    assert phrase == "next week"
    start, end = resolve_range(phrase, NOW, TZ)
    assert (start.date(), end.date()) == (date(2026, 11, 30), date(2026, 12, 7))


def test_ordinal_date_beats_the_models_guess(ctx: AgentContext) -> None:
    question = "what is on December 9th?"
    fallback = heuristic_args("list_events", question, ctx)
    out = reconcile("list_events", {"start": "2026-11-26", "end": "2026-11-27"}, fallback,
                    question, ctx)  # fmt: skip
    assert parse_when(out["start"], NOW, TZ) == datetime(2026, 12, 9, tzinfo=TZ)


@pytest.mark.parametrize(
    "proposed",
    [
        {"start": "2026-12-01T10:00:00", "end": "2026-12-01T10:00:00"},  # start == end
        {"start": "2026-12-03", "end": "2026-12-01"},  # end before start
    ],
)
def test_reconcile_enforces_start_before_end(ctx: AgentContext, proposed: dict[str, Any]) -> None:
    question = "what's on my calendar?"
    fallback = heuristic_args("list_events", question, ctx)
    out = reconcile("list_events", proposed, fallback, question, ctx)
    start = parse_when(out["start"], NOW, TZ)
    end = parse_when(out["end"], NOW, TZ, end=True)
    assert start is not None and end is not None and start < end


def test_reconcile_fixes_a_bad_window_even_without_a_fallback_window(ctx: AgentContext) -> None:
    out = reconcile("list_events", {"start": "2026-12-01T10:00:00", "end": "2026-12-01T09:00:00"},
                    {"limit": 10}, "what's on?", ctx)  # fmt: skip
    start = parse_when(out["start"], NOW, TZ)
    end = parse_when(out["end"], NOW, TZ, end=True)
    assert start is not None and end is not None and start < end


@pytest.mark.parametrize(
    "leaked",
    [
        "Today is Wed 25 Nov 2026 09:00 invoice",
        "SELECT * FROM contacts WHERE name = 'Kenji'",
        "invoice tool schema json assistant",
    ],
)
def test_prompt_text_and_code_never_reach_a_query(ctx: AgentContext, leaked: str) -> None:
    question = "who sent the invoice from Kenji?"
    assert not query_ok(leaked, question)
    fallback = heuristic_args("search_mailbox", question, ctx)
    out = reconcile("search_mailbox", {"query": leaked}, fallback, question, ctx)
    assert out["query"] == fallback["query"]


def test_a_query_in_the_users_words_is_kept(ctx: AgentContext) -> None:
    question = "what did Kenji say about the certification test plan?"
    assert query_ok("Kenji certification test plan", question)
    out = reconcile("search_mailbox", {"query": "Kenji test plan"},
                    heuristic_args("search_mailbox", question, ctx), question, ctx)  # fmt: skip
    assert out["query"] == "Kenji test plan"


def test_event_query_drops_date_and_question_words(ctx: AgentContext) -> None:
    args = heuristic_args("list_events", "What's on December 9th?", ctx)
    assert "query" not in args
    args = heuristic_args("list_events", "How many meetings do I have next week?", ctx)
    assert "query" not in args
    args = heuristic_args("list_events", "Where is the Northwind holiday party?", ctx)
    assert {"holiday", "party"} <= set(args["query"].lower().split())


def test_past_tense_event_question_looks_back(ctx: AgentContext) -> None:
    args = heuristic_args("list_events", "Where was my lunch with Nadia?", ctx)
    start = parse_when(args["start"], NOW, TZ)
    end = parse_when(args["end"], NOW, TZ)
    assert start is not None and end is not None and start < NOW and end <= NOW
