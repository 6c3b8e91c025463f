"""The tools' behaviour as plain functions: ``(args, context) -> result``.

Kept free of LangChain so they are easy to test and reuse; :mod:`tools.langchain` wraps them.
Every data access passes ``ctx.user``; ids from other users are simply not found.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agents.safety.sanitize import sanitize_text
from core.errors import InputError, NotFoundError
from core.types import Event, Message
from tools.context import AgentContext
from tools.messages import list_messages
from tools.schemas import (
    BusyView,
    ContactView,
    EventView,
    FindFreeTimeArgs,
    FindFreeTimeResult,
    FreeRangeView,
    ListEventsArgs,
    ListEventsResult,
    ListMessagesArgs,
    ListMessagesResult,
    LookupContactsArgs,
    LookupContactsResult,
    MessageHit,
    MessageView,
    ReadMessageArgs,
    ReadThreadArgs,
    SearchMailboxArgs,
    SearchMailboxResult,
    SlotView,
    ThreadView,
    truncate,
)
from tools.when import parse_when

MESSAGE_CHARS = 1500
THREAD_MESSAGE_CHARS = 600
THREAD_MAX_MESSAGES = 12
SNIPPET_CHARS = 240


#: Local times name their zone ("14:00 PST"): a bare "21:00" read as local time was UTC.
_LOCAL_FORMAT = "%a %d %b %Y %H:%M %Z"


def fmt_dt(dt: datetime | None, ctx: AgentContext) -> str | None:
    """A readable local timestamp with its zone: 'Thu 19 Nov 2026 14:00 PST'."""
    if dt is None:
        return None
    return dt.astimezone(ctx.tz).strftime(_LOCAL_FORMAT)


def _fmt_day(dt: datetime, ctx: AgentContext, all_day: bool) -> str:
    if all_day:
        local = dt.astimezone(ctx.tz) if dt.tzinfo else dt
        return local.strftime("%a %d %b %Y")
    # A floating time (no zone in the calendar) is taken as the user's local time.
    local = dt.astimezone(ctx.tz) if dt.tzinfo else dt.replace(tzinfo=ctx.tz)
    return local.strftime(_LOCAL_FORMAT)


def search_mailbox(args: SearchMailboxArgs, ctx: AgentContext) -> SearchMailboxResult:
    """Hybrid search (or FTS5 keyword search when no vector index is configured)."""
    after = parse_when(args.after, ctx.now, ctx.tz)
    before = parse_when(args.before, ctx.now, ctx.tz, end=True)
    # Mail dated after the clock has not arrived yet (``--now`` in the past, skewed dates).
    before = min(before, ctx.now) if before is not None else ctx.now
    search = ctx.backends.search
    hits: list[MessageHit] = []
    if search is not None:
        from retrieval.index.base import SearchFilters

        filters = SearchFilters(
            sender=args.sender, recipient=args.recipient, after=after, before=before,
            has_attachment=args.has_attachment,
        )  # fmt: skip
        for h in search.search(ctx.user, args.query, filters=filters, limit=args.limit):
            date = datetime.fromisoformat(h.date) if h.date else None
            hits.append(
                MessageHit(
                    message_id=h.message_id, thread_id=h.thread_id, date=fmt_dt(date, ctx),
                    sender=f"{h.sender_name} <{h.sender}>" if h.sender_name else h.sender,
                    subject=sanitize_text(h.subject),
                    snippet=truncate(sanitize_text(h.snippet), SNIPPET_CHARS),
                )
            )  # fmt: skip
        return SearchMailboxResult(query=args.query, hits=hits)
    store = ctx.backends.store
    allowed: set[str] | None = None
    if args.sender or args.recipient or after or before:
        allowed = {
            m.id
            for m in store.list_messages(
                ctx.user, sender=args.sender, recipient=args.recipient, after=after,
                before=before, limit=1000,
            )
        }  # fmt: skip
    found = store.search_text(ctx.user, args.query, limit=args.limit * 5)
    for h in found:
        if allowed is not None and h.message_id not in allowed:
            continue
        m = store.get_message(ctx.user, h.message_id)
        if m is None or (
            args.has_attachment is not None and bool(m.attachments) != args.has_attachment
        ):
            continue
        hits.append(
            MessageHit(
                message_id=m.id, thread_id=m.thread_id or "", date=fmt_dt(m.date, ctx),
                sender=str(m.sender) if m.sender else "", subject=sanitize_text(m.subject),
                snippet=truncate(sanitize_text(h.snippet or m.new_text), SNIPPET_CHARS),
            )
        )  # fmt: skip
        if len(hits) >= args.limit:
            break
    return SearchMailboxResult(query=args.query, hits=hits)


def message_view(m: Message, ctx: AgentContext, limit: int = MESSAGE_CHARS) -> MessageView:
    """A bounded view of one message."""
    return MessageView(
        message_id=m.id,
        thread_id=m.thread_id or "",
        date=fmt_dt(m.date, ctx),
        sender=str(m.sender) if m.sender else "",
        to=[str(a) for a in m.to[:10]],
        cc=[str(a) for a in m.cc[:10]],
        # Mail text is sanitised where tool results are built: a result may reach a prompt as
        # JSON, where line-anchored role markers would no longer be at a line start.
        subject=sanitize_text(m.subject),
        attachments=[a.filename or a.content_type for a in m.attachments[:10]],
        text=truncate(sanitize_text(m.new_text or m.body_text), limit),
    )


def read_message(args: ReadMessageArgs, ctx: AgentContext) -> MessageView:
    """One message by id."""
    m = ctx.backends.store.get_message(ctx.user, args.message_id.strip())
    if m is None:
        raise NotFoundError(f"no message with id {args.message_id!r}; use ids from search_mailbox")
    return message_view(m, ctx)


def read_thread(args: ReadThreadArgs, ctx: AgentContext) -> ThreadView:
    """A whole thread by thread id or by the id of one of its messages."""
    store = ctx.backends.store
    tid = args.thread_id.strip()
    if tid.startswith("m"):
        m = store.get_message(ctx.user, tid)
        tid = m.thread_id if m is not None and m.thread_id else tid
    found = store.get_thread(ctx.user, tid)
    if found is None:
        raise NotFoundError(f"no thread with id {args.thread_id!r}; use ids from search_mailbox")
    thread, messages = found
    # Keep the first message and the latest ones: the start frames it, the end is the news.
    if len(messages) > THREAD_MAX_MESSAGES:
        messages = messages[:1] + messages[-(THREAD_MAX_MESSAGES - 1) :]
    return ThreadView(
        thread_id=thread.id,
        subject=sanitize_text(thread.subject),
        messages=[message_view(m, ctx, THREAD_MESSAGE_CHARS) for m in messages],
    )


def event_view(e: Event, ctx: AgentContext, own: frozenset[str] = frozenset()) -> EventView:
    """A bounded view of one event occurrence; ``own`` are the user's addresses, so "who
    else is coming" can leave the user out."""
    people = [a.name or a.email for a in e.attendees[:10]]
    you = next((a.name or a.email for a in e.attendees if a.email.lower() in own), None)
    return EventView(
        event_id=e.uid,
        summary=e.summary,
        start=_fmt_day(e.start, ctx, e.all_day),
        end=_fmt_day(e.end, ctx, e.all_day),
        all_day=e.all_day,
        location=e.location,
        status=e.status,
        organizer=e.organizer,
        attendees=people,
        you=you,
        description=truncate(e.description, 300),
    )


def _matches(e: Event, query: str) -> bool:
    words = [w for w in query.lower().split() if len(w) > 2]
    hay = " ".join(
        [e.summary, e.location, e.description, e.organizer or ""]
        + [f"{a.name} {a.email}" for a in e.attendees]
    ).lower()
    return any(w in hay for w in words) if words else True


def list_events(args: ListEventsArgs, ctx: AgentContext) -> ListEventsResult:
    """Occurrences in a period, recurrence expanded, in the user's time zone."""
    start = parse_when(args.start, ctx.now, ctx.tz)
    assert start is not None
    end = parse_when(args.end, ctx.now, ctx.tz, end=True) if args.end else None
    if end is None:
        from tools.when import resolve_range

        try:
            _, end = resolve_range(args.start, ctx.now, ctx.tz)
        except InputError:
            end = start + timedelta(days=1)
    if end <= start:
        raise InputError("end must be after start")
    if end - start > timedelta(days=92):
        raise InputError("ask for at most three months at a time")
    events = ctx.backends.calendars.events_between(
        ctx.user, start, end, tz=ctx.tz, include_cancelled=True
    )
    matched, known = True, False
    if args.query:
        hits = [e for e in events if _matches(e, args.query)]
        matched = bool(hits)
        if not matched and end - start <= SHORT_PERIOD:
            # "What does next week look like", "do we have standup this friday": the words
            # name no event in a short period, so the period itself is the answer; whether
            # such events exist at other times tells "no standup that day" from small talk.
            around = ctx.backends.calendars.events_between(
                ctx.user, start - timedelta(days=45), end + timedelta(days=45), tz=ctx.tz
            )
            known = any(_matches(e, args.query) for e in around)
        else:
            events = hits
    if end <= ctx.now and len(events) > args.limit:
        # Looking back ("when was my last 1:1"): the most recent events matter, not the oldest.
        events = events[-args.limit :]
    from retrieval.ingest.hooks import own_addresses

    own = frozenset(own_addresses(ctx.backends.store, ctx.user)) if events else frozenset()
    return ListEventsResult(
        start=_fmt_day(start, ctx, False),
        end=_fmt_day(end, ctx, False),
        events=[event_view(e, ctx, own) for e in events[: args.limit]],
        query=args.query,
        matched=matched,
        known_elsewhere=known,
    )


#: A period this short is listed whole when the query words match none of its events.
SHORT_PERIOD = timedelta(days=8)


def find_free_time(args: FindFreeTimeArgs, ctx: AgentContext) -> FindFreeTimeResult:
    """Free slots in working hours, honouring all-day, tentative and recurring events."""
    from retrieval.store.freetime import busy_between, free_ranges
    from retrieval.store.freetime import find_free_time as _find

    start = parse_when(args.start, ctx.now, ctx.tz)
    assert start is not None
    start = max(start, ctx.now)
    end = parse_when(args.end, ctx.now, ctx.tz, end=True) if args.end else None
    end = end or start + timedelta(days=5)
    if end <= start:
        raise InputError("end must be after start")
    slots = _find(
        ctx.backends.calendars, ctx.user, timedelta(minutes=args.duration_minutes),
        (start, end), None, ctx.tz, attendees=args.attendees or None, limit=args.limit,
    )  # fmt: skip
    # The user's own day as it is: free stretches (off the slot grid) and what takes the rest,
    # so an answer can say "free from 9:45" or "no: the offsite is all day".
    busy = busy_between(ctx.backends.calendars, ctx.user, (start, end), ctx.tz)
    ranges = free_ranges(busy, (start, end), None, ctx.tz)
    return FindFreeTimeResult(
        duration_minutes=args.duration_minutes,
        window_start=_fmt_day(start, ctx, False),
        window_end=_fmt_day(end, ctx, False),
        slots=[
            SlotView(
                start=_fmt_day(s.start, ctx, False), end=_fmt_day(s.end, ctx, False),
                tentative_conflicts=list(s.tentative_conflicts),
            )
            for s in slots
        ],
        attendees=list(args.attendees),
        free=[
            FreeRangeView(start=_fmt_day(a, ctx, False), end=_fmt_day(b, ctx, False))
            for a, b in ranges[:MAX_FREE_RANGES]
        ],
        busy=[
            BusyView(
                event_id=b.uid, summary=sanitize_text(b.summary),
                tentative=b.soft and not b.transparent, shows_as_free=b.transparent,
                start=_fmt_day(b.start, ctx, False), end=_fmt_day(b.end, ctx, False),
                all_day=_spans_days(b.start, b.end, ctx),
            )
            for b in busy[:MAX_BUSY]
        ],
    )  # fmt: skip


#: Bounds on what a free-time result carries (a week of a busy calendar fits).
MAX_FREE_RANGES = 20
MAX_BUSY = 30


def _spans_days(start: datetime, end: datetime, ctx: AgentContext) -> bool:
    """Whether a busy interval is whole local days (an all-day event)."""
    lo, hi = start.astimezone(ctx.tz), end.astimezone(ctx.tz)
    return lo.time() == hi.time() == datetime.min.time() and hi > lo


def lookup_contacts(args: LookupContactsArgs, ctx: AgentContext) -> LookupContactsResult:
    """Fuzzy contact lookup, ranked by closeness and how often the user writes to them."""
    matches = ctx.backends.contacts.lookup(ctx.user, args.query, limit=args.limit)
    views = []
    for match in matches:
        c = match.contact
        views.append(
            ContactView(
                contact_id=c.uid, name=c.full_name, emails=c.emails[:5], phones=c.phones[:3],
                organization=c.organization, title=c.title, notes=truncate(c.notes, 200),
                birthday=c.birthday.isoformat() if c.birthday else None,
                messages_from=c.messages_from, messages_to=c.messages_to,
                last_contact=fmt_dt(c.last_contact, ctx),
            )
        )  # fmt: skip
    return LookupContactsResult(query=args.query, contacts=views)


#: name -> (args model, function, what the result's citable ids are)
TOOL_FUNCTIONS: dict[str, tuple[type[Any], Any]] = {
    "search_mailbox": (SearchMailboxArgs, search_mailbox),
    "read_message": (ReadMessageArgs, read_message),
    "read_thread": (ReadThreadArgs, read_thread),
    "list_events": (ListEventsArgs, list_events),
    "find_free_time": (FindFreeTimeArgs, find_free_time),
    "lookup_contacts": (LookupContactsArgs, lookup_contacts),
    "list_messages": (ListMessagesArgs, list_messages),
}


def citable_ids(result: Any) -> set[str]:
    """Every message, thread, event and contact id a tool result contains."""
    ids: set[str] = set()
    if isinstance(result, SearchMailboxResult):
        for h in result.hits:
            ids |= {h.message_id, h.thread_id}
    elif isinstance(result, MessageView):
        ids |= {result.message_id, result.thread_id}
    elif isinstance(result, ThreadView):
        ids.add(result.thread_id)
        for m in result.messages:
            ids.add(m.message_id)
    elif isinstance(result, ListEventsResult):
        ids |= {e.event_id for e in result.events}
    elif isinstance(result, LookupContactsResult):
        ids |= {c.contact_id for c in result.contacts}
    elif isinstance(result, FindFreeTimeResult):
        ids |= {b.event_id for b in result.busy}
    elif isinstance(result, ListMessagesResult):
        for h in result.messages:
            ids |= {h.message_id, h.thread_id}
    ids.discard("")
    return ids
