"""Answers composed by code from tool results; unverifiable model text removed."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from agents.assistant.compose import compose, scrub_unverified, sentences
from agents.assistant.graph import build_graph
from agents.assistant.run import ask
from agents.llm.fake import FakeChatModel
from tests.agents.test_assistant_graph import FixedRouter, scripted
from tools.context import AgentContext, Backends
from tools.schemas import (
    ContactView,
    EventView,
    FindFreeTimeResult,
    ListEventsResult,
    LookupContactsResult,
    MessageHit,
    MessageView,
    SearchMailboxResult,
    SlotView,
)

TZ = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)


@pytest.fixture
def light_ctx() -> AgentContext:
    """Composition only needs the clock and the zone."""
    none: Any = None
    return AgentContext(
        user="demo", backends=Backends(store=none, calendars=none, contacts=none), now=NOW,
        timezone="America/Los_Angeles",
    )  # fmt: skip


def event(uid: str, summary: str, start: str, end: str, **kw: Any) -> EventView:
    """An event view as list_events renders it."""
    base: dict[str, Any] = {
        "event_id": uid, "summary": summary, "start": start, "end": end, "all_day": False,
        "location": "", "status": "CONFIRMED", "organizer": None, "attendees": [],
        "description": "",
    }  # fmt: skip
    return EventView(**(base | kw))


def events(*evs: EventView) -> ListEventsResult:
    return ListEventsResult(
        start="Wed 25 Nov 2026 09:00 PST", end="Wed 09 Dec 2026 09:00 PST", events=list(evs)
    )


PARTY = event(
    "evt-party@x.example", "Holiday party", "Fri 18 Dec 2026 17:30 PST",
    "Fri 18 Dec 2026 21:00 PST", location="The Foundry, 55 Water St, Oakland",
    attendees=["Leah Okafor", "Dana Reyes"],
)  # fmt: skip
REVIEW = event(
    "evt-review@x.example", "Budget review", "Tue 01 Dec 2026 10:00 PST",
    "Tue 01 Dec 2026 11:00 PST", location="Boardroom", attendees=["Leah Okafor", "Marcus Chen"],
)  # fmt: skip
STANDUP = event("evt-standup@x.example", "Team standup", "Fri 27 Nov 2026 09:30 PST",
                "Fri 27 Nov 2026 09:45 PST")  # fmt: skip


def test_event_answer_states_location_attendees_time_zone_and_cites(
    light_ctx: AgentContext,
) -> None:
    out = compose("Where is the holiday party?", [events(PARTY)], light_ctx)
    assert out is not None
    assert "The Foundry, 55 Water St, Oakland" in out.text
    assert "Leah Okafor" in out.text and "17:30" in out.text
    assert "America/Los_Angeles" in out.text
    assert out.cited == ["evt-party@x.example"] and "[evt-party@x.example]" in out.text


def test_other_attendees_and_the_named_event_only(light_ctx: AgentContext) -> None:
    out = compose("Who else is invited to the budget review?", [events(PARTY, REVIEW)], light_ctx)
    assert out is not None
    assert "other attendees: Leah Okafor, Marcus Chen" in out.text
    assert out.cited == ["evt-review@x.example"] and "Foundry" not in out.text


@pytest.mark.parametrize("n", [0, 1, 3])
def test_count_matches_the_number_of_results(light_ctx: AgentContext, n: int) -> None:
    found = [REVIEW, STANDUP, PARTY][:n]
    out = compose("How many meetings do I have?", [events(*found)], light_ctx)
    assert out is not None
    if n == 0:
        assert out.text.startswith("I couldn't find")
    else:
        assert re.search(rf"\byou have {n} events?\b", out.text.lower())
        assert len(out.cited) == n


def test_how_long_until_is_computed_from_the_clock(light_ctx: AgentContext) -> None:
    out = compose("How long until the holiday party?", [events(PARTY)], light_ctx)
    assert out is not None
    # Wed 25 Nov 09:00 → Fri 18 Dec 17:30 is 23 days 8 hours 30 minutes.
    assert out.text.startswith("23 days 8 hours until Holiday party")


def test_free_slots_and_no_slot(light_ctx: AgentContext) -> None:
    slot = SlotView(start="Mon 30 Nov 2026 10:00 PST", end="Mon 30 Nov 2026 10:45 PST",
                    tentative_conflicts=[])  # fmt: skip
    free = FindFreeTimeResult(duration_minutes=45, window_start="a", window_end="b", slots=[slot])
    out = compose("free 45 minutes monday?", [free], light_ctx)
    assert out is not None and "Mon 30 Nov 2026 10:00 PST to 10:45 PST" in out.text
    assert "Tue 1 Dec 2026" in compose("budget review?", [events(REVIEW)], light_ctx).text  # type: ignore[union-attr]
    out = compose("am I free at 10:15 on monday?", [free], light_ctx)
    assert out is not None and out.text.startswith("Yes, you're free at 10:15")
    out = compose("am I free at 3pm on monday?", [free], light_ctx)
    assert out is not None and out.text.startswith("No free slot found at 15:00")
    none = FindFreeTimeResult(duration_minutes=45, window_start="a", window_end="b", slots=[])
    out = compose("free 45 minutes monday?", [none], light_ctx)
    assert out is not None and out.text.startswith("I couldn't find")


def contact(uid: str, name: str, **kw: Any) -> ContactView:
    base: dict[str, Any] = {
        "contact_id": uid, "name": name, "emails": [], "phones": [], "organization": "",
        "title": "", "notes": "", "messages_from": 0, "messages_to": 0, "last_contact": None,
    }  # fmt: skip
    return ContactView(**(base | kw))


def test_contact_answer_has_the_asked_field_only(light_ctx: AgentContext) -> None:
    tom = contact("c-tom@x", "Tom Becker", phones=["+1-510-555-0131"], emails=["t@x.example"])
    found = LookupContactsResult(query="Tom Becker", contacts=[tom])
    out = compose("What's Tom Becker's cell number?", [found], light_ctx)
    assert out is not None and "+1-510-555-0131" in out.text and "t@x.example" not in out.text
    assert out.cited == ["c-tom@x"]


def message(mid: str, text: str, subject: str = "NW-482 status") -> MessageView:
    return MessageView(message_id=mid, thread_id="t" + mid[1:], date="Fri 20 Nov 2026 18:05 PST",
                       sender="Tracker <bot@tracker.example>", to=[], cc=[], subject=subject,
                       attachments=[], text=text)  # fmt: skip


def hits(*mids: str) -> SearchMailboxResult:
    return SearchMailboxResult(query="q", hits=[
        MessageHit(message_id=m, thread_id="t" + m[1:], date=None, sender="x", subject="NW-482",
                   snippet="NW-482 status") for m in mids
    ])  # fmt: skip


BODY = (
    "Hi Dana,\n\nThe status of NW-482 changed from In Progress to Ready for QA.\n"
    "The fix adds a 40 ms settle delay after wake.\n\n"
    "View the issue: https://tracker.northwind.example/browse/NW-482\n\n"
    "You are receiving this because you are watching NW-482."
)


class WordEmbedder:
    """Bag-of-words vectors: a deterministic stand-in for MiniLM."""

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(64, dtype=np.float32)
        for w in re.findall(r"\w+", text.lower()):
            v[hash(w) % 64] += 1.0
        return v / (np.linalg.norm(v) or 1.0)

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)


@pytest.mark.parametrize("embedder", [None, WordEmbedder()])
def test_mail_answer_quotes_the_sentence_with_the_link_intact(
    light_ctx: AgentContext, embedder: Any
) -> None:
    arts = [hits("m1a2b3c4d5e6f7a8b"), message("m1a2b3c4d5e6f7a8b", BODY)]
    out = compose("What's the link to the NW-482 issue?", arts, light_ctx, embedder)
    assert out is not None
    assert "https://tracker.northwind.example/browse/NW-482" in out.text
    assert out.cited == ["m1a2b3c4d5e6f7a8b"]


def test_mail_answer_keeps_figures(light_ctx: AgentContext) -> None:
    arts = [hits("m1a2b3c4d5e6f7a8b"), message("m1a2b3c4d5e6f7a8b", BODY)]
    out = compose("How long is the settle delay in the NW-482 fix?", arts, light_ctx)
    assert out is not None and "40 ms settle delay" in out.text


def test_hard_wrapped_sentences_are_joined() -> None:
    got = sentences("I'll bring v3 to the budget review with Marcus on\nTuesday 1 Dec at 10:00.")
    assert got == ["I'll bring v3 to the budget review with Marcus on Tuesday 1 Dec at 10:00."]


def test_nothing_found_says_so(light_ctx: AgentContext) -> None:
    out = compose("Did anyone email about the Berlin trade show?",
                  [SearchMailboxResult(query="berlin", hits=[])], light_ctx)  # fmt: skip
    assert out is not None and out.text.startswith("I couldn't find") and out.cited == []
    # Mail that shares no word with the question is not an answer either.
    arts = [hits("m1a2b3c4d5e6f7a8b"), message("m1a2b3c4d5e6f7a8b", BODY)]
    out = compose("Did anyone email about the Berlin trade show?", arts, light_ctx)
    assert out is not None and out.text.startswith("I couldn't find")


def test_compose_returns_none_without_results(light_ctx: AgentContext) -> None:
    assert compose("hello", [], light_ctx) is None


# -- unverifiable content -------------------------------------------------------------------------


KNOWN = "[m1a2b3c4d5e6f7a8b] invoice INV-2026-0417 for USD 7,480, see https://pay.example/i/417"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("The total is USD 9,999. The invoice is INV-2026-0417.", "9,999"),
        ("Pay at https://evil.example/pay now. The invoice is INV-2026-0417.", "evil.example"),
        ("Write to billing@evil.example today. The invoice is INV-2026-0417.", "billing@"),
        ("See [m1234abcd]. The invoice is INV-2026-0417.", "m1234abcd"),
    ],
)
def test_invented_numbers_links_emails_and_ids_are_removed(text: str, gone: str) -> None:
    out = scrub_unverified(text, KNOWN, ["m1a2b3c4d5e6f7a8b"])
    assert gone not in out
    assert "INV-2026-0417" in out


def test_known_content_and_placeholders() -> None:
    text = (
        "It costs USD 7,480 [m1a2b3c4d5e6f7a8b], due on [date] at [time]; https://pay.example/i/417"
    )
    out = scrub_unverified(text, KNOWN, ["m1a2b3c4d5e6f7a8b"])
    assert "7,480" in out and "[m1a2b3c4d5e6f7a8b]" in out and "https://pay.example/i/417" in out
    assert "[date]" not in out and "[time]" not in out


# -- in the graph -------------------------------------------------------------------------------


def test_graph_composes_the_event_answer_without_the_models_prose(ctx: AgentContext) -> None:
    model = scripted(answer="It is at [location] on [date], see [m1234abcd] and https://x.example")
    graph = build_graph(model, FixedRouter(("list_events", 0.6)))  # type: ignore[arg-type]
    res = ask(graph, ctx, "Where is the Northwind holiday party?")
    prose = res.answer.split("\n\nSources:")[0]
    assert "The Foundry, 55 Water St, Oakland" in prose
    assert "m1234abcd" not in res.answer and "x.example" not in res.answer
    assert "[location]" not in res.answer
    assert res.citations and all("@" in c for c in res.citations)


def test_model_written_answer_is_scrubbed(ctx: AgentContext) -> None:
    # NW-200 is in the mail found (and the question); 99,999 and the link are in neither.
    model = scripted(answer="The NW-200 housings were quoted. Pay 99,999 at https://evil.example.")
    graph = build_graph(model, FixedRouter(("search_mailbox", 0.6)), compose_answers=False)  # type: ignore[arg-type]
    res = ask(graph, ctx, "what did José quote for the NW-200 housings?")
    prose = res.answer.split("\n\nSources:")[0]
    assert "NW-200 housings were quoted" in prose
    assert "99,999" not in prose and "evil.example" not in prose


def test_person_unknown_to_contacts_falls_back_to_mail(ctx: AgentContext) -> None:
    graph = build_graph(scripted(), FixedRouter(("lookup_contacts", 0.6)))  # type: ignore[arg-type]
    res = ask(graph, ctx, "who is the QA contact for the NW-482 soak test?")
    names = [c.name for c in res.tool_calls]
    assert names[:2] == ["lookup_contacts", "search_mailbox"]
    prose = res.answer.split("\n\nSources:")[0]
    assert re.search(r"\[m[0-9a-f]{12,}\]", prose)


@pytest.mark.integration  # the real MiniLM router splits and routes the parts
def test_compound_request_is_answered_part_by_part(demo_services: Any, ctx: AgentContext) -> None:
    router = demo_services.router
    graph = build_graph(FakeChatModel(responses=["{}"], cycle=True), router)
    res = ask(graph, ctx, "Where is the Q1 2027 planning kickoff, and who is José Martínez?")
    prose = res.answer.split("\n\nSources:")[0]
    assert prose.startswith("1. ") and "\n2. " in prose
    assert "Boardroom" in prose and "Castellan Plastics" in prose
    assert {c.name for c in res.tool_calls} >= {"list_events", "lookup_contacts"}
