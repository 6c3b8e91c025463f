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
    BusyView,
    ContactView,
    EventView,
    FindFreeTimeResult,
    FreeRangeView,
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
    # The user is among the attendees: "who else" leaves them out, "who is coming" does not.
    mine = REVIEW.model_copy(update={"attendees": [*REVIEW.attendees, "Dana Reyes"],
                                     "you": "Dana Reyes"})  # fmt: skip
    out = compose("Who else is invited to the budget review?", [events(mine)], light_ctx)
    assert out is not None and "Dana Reyes" not in out.text
    out = compose("Who is invited to the budget review?", [events(mine)], light_ctx)
    assert out is not None and "Dana Reyes" in out.text


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


def day_plan(*busy: BusyView, free: list[tuple[str, str]]) -> FindFreeTimeResult:
    """A one-day find_free_time result (Fri 18 Dec) as the tool renders it."""
    return FindFreeTimeResult(
        duration_minutes=30, window_start="Fri 18 Dec 2026 00:00 PST",
        window_end="Sat 19 Dec 2026 00:00 PST", slots=[],
        free=[FreeRangeView(start=f"Fri 18 Dec 2026 {a} PST", end=f"Fri 18 Dec 2026 {b} PST")
              for a, b in free],
        busy=list(busy),
    )  # fmt: skip


PARTY_BUSY = BusyView(
    event_id="evt-party", summary="Holiday party",
    start="Fri 18 Dec 2026 17:30 PST", end="Fri 18 Dec 2026 21:00 PST",
)  # fmt: skip
STANDUP_BUSY = BusyView(
    event_id="evt-standup", summary="Standup",
    start="Fri 18 Dec 2026 09:30 PST", end="Fri 18 Dec 2026 09:45 PST",
)  # fmt: skip


def test_free_time_says_what_is_in_the_way(light_ctx: AgentContext) -> None:
    plan = day_plan(STANDUP_BUSY, PARTY_BUSY, free=[("09:00", "09:30"), ("09:45", "17:00")])
    out = compose("could I take a 6pm call on the 18th?", [plan], light_ctx)
    assert out is not None and out.text.startswith("No, you're not free at 18:00 on Fri 18 Dec")
    assert "Holiday party" in out.text and out.cited == ["evt-party"]
    out = compose("am I free at 10am on the 18th?", [plan], light_ctx)
    assert out is not None and out.text.startswith("Yes, you're free at 10:00")
    assert "from 09:45 to 17:00" in out.text
    # Free stretches are off the grid: free from 9:45, after the standup.
    out = compose("when am I free on the 18th?", [plan], light_ctx)
    assert out is not None and "09:45-17:00" in out.text and "Standup" in out.text


def test_no_free_time_names_the_all_day_event(light_ctx: AgentContext) -> None:
    offsite = BusyView(
        event_id="evt-offsite", summary="Offsite", all_day=True,
        start="Fri 18 Dec 2026 00:00 PST", end="Sat 19 Dec 2026 00:00 PST",
    )  # fmt: skip
    out = compose("any free time on Dec 18?", [day_plan(offsite, free=[])], light_ctx)
    assert out is not None
    assert out.text.startswith("I couldn't find a free 30-minute stretch in working hours on Fri")
    assert "Offsite: Fri 18 Dec 2026 (all day)" in out.text and out.cited == ["evt-offsite"]


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


def test_legal_footers_are_never_evidence() -> None:
    body = (
        "The PO number is PO-2026-118.\n\n"
        "This email and any attachments are confidential and intended solely for the "
        "addressee.\nIf you have received this email in error please notify the sender.\n"
        "Sent from my iPhone"
    )
    assert sentences(body) == ["The PO number is PO-2026-118."]


def test_mail_count_counts_topic_hits_and_a_figure_question_is_not_a_count(
    light_ctx: AgentContext,
) -> None:
    found = hits("m1", "m2", "m3")
    found.hits.append(
        MessageHit(
            message_id="m4",
            thread_id="t4",
            date=None,
            sender="y",
            subject="Lunch",
            snippet="sandwiches on friday",
        )
    )
    out = compose("how many emails about NW-482?", [found], light_ctx)
    assert out is not None and out.text.startswith("I found 3 matching emails")
    assert out.cited == ["m1", "m2", "m3"]
    # "How many people registered" asks for a figure in a mail, not for a count of mails.
    mail = message("m9", "The 247 people already registered have been told about the new date.")
    out = compose("how many people had registered for the NW-482 webinar?", [mail], light_ctx)
    assert out is not None and "247" in out.text and not out.text.startswith("I found")


def test_count_questions_filter_by_the_named_sender(light_ctx: AgentContext) -> None:
    from agents.assistant.args import heuristic_args, sender_named

    assert sender_named("how many emails did José send me?") == "José"
    assert sender_named("how many emails from Priya Natarajan this week") == "Priya Natarajan"
    args = heuristic_args("search_mailbox", "how many emails from Priya this week?", light_ctx)
    assert args["sender"] == "Priya" and args["limit"] == 20
    assert (args["after"], args["before"]) == ("2026-11-23", "2026-11-29")
    plain = heuristic_args("search_mailbox", "what did Priya say about the fix", light_ctx)
    assert "sender" not in plain and plain["limit"] == 5


def test_birthday_and_event_details_are_answered(light_ctx: AgentContext) -> None:
    nadia = contact("c-nadia", "Nadia Farouk", birthday="1990-12-02", phones=["+1 555 0195"])
    out = compose("when's nadia's bday", [LookupContactsResult(query="nadia", contacts=[nadia])],
                  light_ctx)  # fmt: skip
    assert out is not None and "2 December 1990" in out.text and "next Wednesday" in out.text
    assert "555" not in out.text  # only the field asked for
    # Every number is the card's: no computed year or day count.
    assert set(re.findall(r"\d+", out.text)) <= {"1990", "2"}
    offsite = event(
        "evt-off", "Product offsite", "Thu 10 Dec 2026", "Fri 11 Dec 2026",
        all_day=True, description="Roadmap review. Bus leaves the office 07:30.",
    )  # fmt: skip
    out = compose("what time does the bus leave for the offsite", [events(offsite)], light_ctx)
    assert out is not None and "Bus leaves the office 07:30." in out.text
    assert "Roadmap" not in out.text


def test_a_truncated_snippet_never_shows_its_marker_as_text(light_ctx: AgentContext) -> None:
    found = SearchMailboxResult(query="q", hits=[
        MessageHit(message_id="m1", thread_id="t1", date=None, sender="x", subject="Access",
                   snippet="Requested For : [matt].smith@enron.com …[truncated 52 chars]")
    ])  # fmt: skip
    out = compose("who is requested for matt.smith@enron.com", [found], light_ctx)
    assert out is not None and "truncated" not in out.text and "matt.smith@enron.com" in out.text


def test_forwarded_header_lines_are_not_evidence() -> None:
    # An Enron forward: the header block reads like a sentence but nobody said it.
    text = (
        'cc: "Larry Lewter" <retwell@mail.example> Subject: Westgate Proforma.xls. '
        "Enclosed is the preliminary proforma for the Westgate property. "
        "From: Ann <ann@x.example> sent the draft. "
        "Please send Bob the subject list: he needs it by Friday."
    )
    assert sentences(text) == [
        "Enclosed is the preliminary proforma for the Westgate property.",
        "Please send Bob the subject list: he needs it by Friday.",
    ]
