"""Mail as a record: "when did I last hear from X", counts, top senders, person fields.

Over the demo data at the eval clock (Wed 25 Nov 2026 09:00 Pacific); the demo mailbox runs on
to 4 Dec, so mail after the clock must never be reported.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

import pytest

from agents.assistant.compose import asked_fields
from agents.assistant.graph import build_graph
from agents.assistant.mail_asks import (
    is_record_question,
    is_topic_top_senders,
    people,
    record_kind,
)
from agents.assistant.router import IntentRouter
from agents.assistant.run import ask
from agents.llm.fake import FakeChatModel
from retrieval.index.embeddings import HashEmbedder
from tests.agents.conftest import NOW
from tools.context import AgentContext
from tools.impl import list_messages, search_mailbox
from tools.schemas import ListMessagesArgs, SearchMailboxArgs

DANA = "dana@northwind.example"
JOSE = "jose.martinez@castellan-plastics.example"


@pytest.mark.parametrize(
    ("question", "sender", "recipient", "kind"),
    [
        ("When did I last hear from José?", "José", None, "last"),
        ("When did Ravi last email me?", "Ravi", None, "last"),
        ("last message from Leah Okafor", "Leah Okafor", None, "last"),
        ("when did i last hear from louise kitchen", "louise kitchen", None, "last"),
        ("how many emails did I get from Leah this week", "Leah", None, "count"),
        ("how many emails did Leah send me this week", "Leah", None, "count"),
        ("any recent mail from my manager", "manager", None, "list"),
        ("has Kenji emailed me this week", "Kenji", None, "list"),
        ("who emails me the most", None, None, "top"),
        ("when did I last email Kenji", None, "Kenji", "last"),
        ("when did I last write to Priya Natarajan", None, "Priya Natarajan", "last"),
    ],
)
def test_record_questions_are_read(
    question: str, sender: str | None, recipient: str | None, kind: str
) -> None:
    assert is_record_question(question)
    assert people(question) == (sender, recipient)
    assert record_kind(question) == kind


@pytest.mark.parametrize(
    "question",
    [
        "what did Priya say about the drift",
        "did anyone email me about the Berlin trade show",
        "Who sent me the most mail about NW-482?",  # a topic: search and count by sender
        "when did I last meet Nadia",  # a meeting, not mail
        "what's my next meeting with Marcus",
    ],
)
def test_content_and_calendar_questions_are_not_record_questions(question: str) -> None:
    assert not is_record_question(question)


def test_topic_top_senders_question() -> None:
    assert is_topic_top_senders("Who sent me the most mail about NW-482?")
    assert is_topic_top_senders("who emails me most about the launch")
    assert not is_topic_top_senders("who emails me the most")


def _from(ctx: AgentContext, address: str) -> list[str]:
    """Ids of ``address``'s messages up to the clock, newest first (the store, independently)."""
    msgs = ctx.backends.store.list_messages("demo", sender=address, before=NOW, limit=1000)
    return [m.id for m in msgs if m.sender and m.sender.email == address]


def test_list_messages_resolves_a_name_without_its_accent(ctx: AgentContext) -> None:
    res = list_messages(ListMessagesArgs(sender="jose"), ctx)
    expected = _from(ctx, JOSE)
    assert res.people == [JOSE]
    assert res.total == len(expected) > 0
    assert [h.message_id for h in res.messages] == expected[:5]


def test_list_messages_never_reports_mail_after_the_clock(ctx: AgentContext) -> None:
    # Greg Tanner's only email is dated Fri 27 Nov, after the clock.
    assert list_messages(ListMessagesArgs(sender="Greg Tanner"), ctx).total == 0
    for h in list_messages(ListMessagesArgs(limit=25), ctx).messages:
        assert h.date is not None
        assert datetime.strptime(" ".join(h.date.split()[:5]), "%a %d %b %Y %H:%M") <= NOW.replace(
            tzinfo=None
        )
    assert all(
        ctx.backends.store.get_message("demo", h.message_id).date <= NOW  # type: ignore[union-attr]
        for h in search_mailbox(SearchMailboxArgs(query="sensors offline", limit=20), ctx).hits
    )


def test_list_messages_directions(ctx: AgentContext) -> None:
    sent = list_messages(ListMessagesArgs(recipient="José", limit=25), ctx)
    assert sent.total > 0 and all(DANA in h.sender for h in sent.messages)
    received = list_messages(ListMessagesArgs(limit=25), ctx)
    assert received.total > 0 and not any(DANA in h.sender for h in received.messages)
    # Counts per sender add up to what is listed, and the user is not among the senders.
    assert sum(s.messages for s in received.top_senders) <= received.total
    assert not any(DANA in s.person for s in received.top_senders)


def test_list_messages_stays_in_the_users_mailbox(ctx: AgentContext) -> None:
    # Another user's sender, by address and by name: nothing.
    assert list_messages(ListMessagesArgs(sender="spy@evil.example"), ctx).total == 0
    assert list_messages(ListMessagesArgs(sender="spy"), ctx).total == 0


def _graph(ctx: AgentContext) -> object:
    router = IntentRouter(HashEmbedder())  # type: ignore[arg-type]
    return build_graph(FakeChatModel(responses=["unused"], cycle=True), router)  # type: ignore[arg-type]


def test_last_heard_from_answers_with_the_newest_message(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "When did I last hear from Ravi?")
    assert [c.name for c in res.tool_calls] == ["list_messages"]
    newest = ctx.backends.store.get_message("demo", res.citations[0])
    assert newest is not None and newest.sender is not None
    assert newest.sender.email == "ravi.menon@northwind.example"
    assert newest.id == _from(ctx, "ravi.menon@northwind.example")[0]
    # The date is the message's own, in the user's zone.
    assert newest.date is not None
    assert newest.date.astimezone(ctx.tz).strftime("%H:%M") in res.answer


def test_who_sent_most_about_a_topic_counts_senders(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "Who sent me the most mail about NW-482?")
    assert res.tool_calls[0].name == "search_mailbox"
    m = re.search(r"(\S+ \S+) sent the most: (\d+)", res.answer)
    assert m is not None
    # The stated count is the number of cited messages from that sender among the hits.
    cited = [ctx.backends.store.get_message("demo", c) for c in res.citations]
    assert all(c is not None and c.sender is not None for c in cited)
    assert len(cited) == min(int(m.group(2)), 3)
    assert all(c.sender.name == m.group(1) for c in cited)  # type: ignore[union-attr]


def test_birthday_missing_from_the_card_is_not_guessed(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "When is Kenji's birthday?")
    assert res.answer.startswith("I couldn't find Kenji Watanabe's birthday")
    assert not re.search(r"\d", res.answer.split("\n\nSources:")[0])


# ------------------------------------------------------- everyday questions beyond the task set


def test_next_meeting_with_a_person_is_one_event(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "What's my next meeting with Marcus?")
    assert [c.name for c in res.tool_calls] == ["list_events"]
    assert len(res.citations) == 1
    upcoming = [
        e for e in ctx.backends.calendars.events_between(
            "demo", NOW, NOW + timedelta(days=45), tz=ctx.tz
        )
        if "Marcus" in e.summary  # a meeting named for him beats one he only attends
    ]  # fmt: skip
    first = min(upcoming, key=lambda e: e.start)
    assert res.citations == [first.uid]
    assert first.start.astimezone(ctx.tz).strftime("%a %-d %b %Y %H:%M") in res.answer


def test_first_meeting_of_a_day_is_its_earliest(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "What time is my first meeting on Monday?")
    day = datetime(2026, 11, 30, tzinfo=ctx.tz)
    events = ctx.backends.calendars.events_between("demo", day, day + timedelta(days=1), tz=ctx.tz)
    first = min(events, key=lambda e: e.start)
    assert res.citations == [first.uid]
    assert first.start.astimezone(ctx.tz).strftime("%H:%M") in res.answer


def test_attachments_are_listed_from_the_message(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "What attachments did Hannah send?")
    assert res.tool_calls[0].args.get("has_attachment") is True
    assert res.citations
    for cid in res.citations:
        m = ctx.backends.store.get_message("demo", cid)
        assert m is not None and m.attachments
        assert all(a.filename and a.filename in res.answer for a in m.attachments)


def test_what_someone_said_last_quotes_their_newest_message(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "What did Elena say in her last email?")
    assert [c.name for c in res.tool_calls] == ["list_messages", "read_message"]
    assert res.citations == _from(ctx, "elena.kowalski@northwind.example")[:1]
    newest = ctx.backends.store.get_message("demo", res.citations[0])
    assert newest is not None
    # The quoted text is the message's own.
    quoted = res.answer.split("It says: ", 1)[1].split("\n\nSources:")[0]
    assert quoted[:40] in " ".join(newest.new_text.split())


def test_nothing_from_a_person_before_the_clock_says_so(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "Any emails from Greg Tanner?")
    assert [c.name for c in res.tool_calls] == ["list_messages"]
    assert res.answer.startswith("I couldn't find any email from Greg Tanner")
    assert res.citations == []


@pytest.mark.parametrize(
    ("question", "tool"),
    [
        ("Who was at the launch readiness review?", "list_events"),
        ("Can I fit a 2 hour meeting on Tuesday December 1st?", "find_free_time"),
        ("any recent mail from Marcus", "list_messages"),
        ("Who sent me the most mail about NW-482?", "search_mailbox"),
    ],
)
def test_question_forms_route_to_their_tool(ctx: AgentContext, question: str, tool: str) -> None:
    router = IntentRouter(HashEmbedder())  # type: ignore[arg-type]
    assert router.route(question).tool == tool


def test_who_emails_most_names_ties_and_counts(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "Who emails me the most?")
    counts = Counter(
        m.sender.email
        for m in ctx.backends.store.list_messages("demo", before=NOW, limit=1000)
        if m.sender and m.sender.email != DANA
    )
    top = counts.most_common(1)[0][1]
    leaders = [a for a, n in counts.items() if n == top]
    assert f": {top}" in res.answer
    names = {
        m.sender.email: m.sender.name
        for m in ctx.backends.store.list_messages("demo", before=NOW, limit=1000)
        if m.sender
    }
    assert all(names[a] in res.answer.split("Emails per sender")[0] for a in leaders)


def test_the_sender_of_the_mail_found_is_the_person_asked_about(ctx: AgentContext) -> None:
    res = ask(
        _graph(ctx), ctx, "need to call the guy who sent us the housing quote - what's his number?"
    )
    lookup = next(c for c in res.tool_calls if c.name == "lookup_contacts")
    contact = ctx.backends.contacts.lookup("demo", lookup.args["query"], limit=1)[0].contact
    assert JOSE in contact.emails
    assert contact.phones[0] in res.answer and contact.uid in res.citations


def test_an_order_number_question_is_not_a_phone_question(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "po number for the castellan order?")
    assert "PO-2026-118" in res.answer.split("\n\nSources:")[0]
    assert "phone" not in res.answer


def test_mail_by_period_is_listed_with_exact_counts(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "What emails did I get yesterday?")
    assert [c.name for c in res.tool_calls] == ["list_messages"]
    day = datetime(2026, 11, 24, tzinfo=ctx.tz)
    got = [
        m for m in ctx.backends.store.list_messages(
            "demo", after=day, before=day + timedelta(days=1), limit=100
        )
        if m.sender and m.sender.email != DANA
    ]  # fmt: skip
    assert res.answer.startswith(f"{len(got)} email")
    assert set(res.citations) == {m.id for m in got[:5]}


def test_unread_is_not_claimed(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "Do I have any unread emails from Marcus?")
    assert "can't tell which of them you have read" in res.answer


def test_last_meeting_looks_back_to_the_latest(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "When was my last 1:1 with Marcus?")
    past = [
        e for e in ctx.backends.calendars.events_between(
            "demo", NOW - timedelta(days=45), NOW, tz=ctx.tz
        )
        if "1:1" in e.summary
    ]  # fmt: skip
    latest = max(past, key=lambda e: e.start)
    assert res.citations == [latest.uid]
    assert latest.start.astimezone(ctx.tz).strftime("%-d %b %Y %H:%M") in res.answer


def test_whoever_runs_an_event_is_its_organizer(ctx: AgentContext) -> None:
    question = "whats the phone number of whoever is running the certification test plan review"
    res = ask(_graph(ctx), ctx, question)
    assert [c.name for c in res.tool_calls][:2] == ["list_events", "lookup_contacts"]
    event = next(
        e for e in ctx.backends.calendars.events_between(
            "demo", NOW, NOW + timedelta(days=30), tz=ctx.tz
        )
        if "certification test plan review" in e.summary
    )  # fmt: skip
    assert event.organizer
    organizer = ctx.backends.contacts.lookup(
        "demo", event.organizer.removeprefix("mailto:"), limit=1
    )[0].contact
    prose = res.answer.split("\n\nSources:")[0]
    assert organizer.phones[0] in prose
    # Only the organizer's number: no other contact's.
    others = [c for c in ctx.backends.contacts.contacts("demo") if c.uid != organizer.uid]
    assert not any(p in prose for c in others for p in c.phones)


def test_who_i_email_most_counts_recipients_of_my_mail(ctx: AgentContext) -> None:
    res = ask(_graph(ctx), ctx, "who have I emailed the most")
    assert res.tool_calls[0].args.get("sent") is True
    sent = [
        m for m in ctx.backends.store.list_messages("demo", before=NOW, limit=1000)
        if m.sender and m.sender.email == DANA
    ]  # fmt: skip
    counts = Counter(a.email for m in sent for a in {x.email: x for x in [*m.to, *m.cc]}.values())
    counts.pop(DANA, None)
    top = counts.most_common(1)[0][1]
    assert f"the most: {top}" in res.answer and f"of the {len(sent)} emails you sent" in res.answer


@pytest.mark.parametrize(
    ("question", "sender"),
    [
        ("when's the last time Priya emailed me", "Priya"),
        ("how long since I heard from Nadia", "Nadia"),
    ],
)
def test_more_ways_to_ask_when_someone_last_wrote(question: str, sender: str) -> None:
    assert is_record_question(question)
    assert people(question) == (sender, None)
    assert record_kind(question) == "last"


@pytest.mark.parametrize(
    ("question", "fields"),
    [
        ("What's the requisition number for the senior firmware engineer role?", ["title"]),
        ("po number for the castellan order?", []),
        ("whats the number for the designer", ["phones"]),
        ("what is Tom's number?", ["phones"]),
        ("What's Marcus's cell?", ["phones"]),
    ],
)
def test_number_is_a_phone_only_as_a_persons(question: str, fields: list[str]) -> None:
    assert asked_fields(question) == fields


def test_an_identifier_number_is_searched_in_mail(ctx: AgentContext) -> None:
    router = IntentRouter(HashEmbedder())  # type: ignore[arg-type]
    assert router.route("What's the requisition number for the senior role?").tool == (
        "search_mailbox"
    )
    res = ask(
        _graph(ctx), ctx, "What's the requisition number for the senior firmware engineer role?"
    )
    assert "REQ-0931" in res.answer.split("\n\nSources:")[0]
