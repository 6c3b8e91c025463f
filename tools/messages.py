"""``list_messages``: mail by who sent it, to whom and when, straight from the store.

Search ranks by meaning and returns the top few; questions about mail as a record ("when did I
last hear from José", "how many emails did Leah send this week", "who emails me most") need
every matching message, newest first, and exact counts. A person is named as the user says it
("José", "castellan"): the name is resolved to addresses through the contacts (which include
everyone seen in mail), so "Jose" finds "José Martínez <jose.martinez@...>"; only when no
contact fits is the name matched against the stored sender names and addresses as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime

from agents.safety.sanitize import sanitize_text
from core.types import Message
from tools.context import AgentContext
from tools.schemas import (
    ListMessagesArgs,
    ListMessagesResult,
    MessageHit,
    PersonCount,
    truncate,
)
from tools.when import parse_when

#: Messages read per filter: a count above it is reported as "at least".
CAP = 1000
#: Characters of each message's text shown (as search snippets are).
SNIPPET_CHARS = 240
#: Fewest messages from which a dominant sender is taken to be the user.
MIN_MAILBOX = 20
#: Senders listed in a result's ``top_senders``.
TOP_SENDERS = 5


def fold(text: str) -> str:
    """Lower-cased, accents removed ("José" → "jose"): how people type names."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w'-]+", fold(text)))


def resolve_people(ctx: AgentContext, name: str) -> list[str]:
    """The addresses ``name`` stands for: an address as given, else those of the contacts whose
    name, nickname, address or organisation contains every word of ``name`` (a word may be the
    start of one: "kit" does not match, "kitchen" and "louise" do)."""
    name = name.strip()
    if "@" in name:
        return [name.lower()]
    tokens = [t for t in _words(name) if len(t) > 1]
    if not tokens:
        return []
    found: list[str] = []
    for match in ctx.backends.contacts.lookup(ctx.user, name, limit=10):
        c = match.contact
        locals_ = [e.split("@")[0].replace(".", " ").replace("_", " ") for e in c.emails]
        hay = _words(" ".join([c.full_name, *c.nicknames, *locals_, c.organization]))
        if all(t in hay or (len(t) >= 4 and any(w.startswith(t) for w in hay)) for t in tokens):
            found += [e.lower() for e in c.emails]
    return list(dict.fromkeys(found))


def own_addresses_of(ctx: AgentContext) -> set[str]:
    """The user's own addresses: the senders of their sent folders; without a sent folder, a
    sender of most of the mailbox (an export of one person's mail, sent and received mixed)."""
    from retrieval.ingest.hooks import own_addresses

    own = {a.lower() for a in own_addresses(ctx.backends.store, ctx.user)}
    if own:
        return own
    counts = Counter(
        m.sender.email.lower()
        for m in ctx.backends.store.list_messages(ctx.user, limit=CAP)
        if m.sender is not None
    )
    total = sum(counts.values())
    if total >= MIN_MAILBOX and counts:
        addr, n = counts.most_common(1)[0]
        if n * 2 > total:
            return {addr}
    return set()


def _hit(m: Message, ctx: AgentContext) -> MessageHit:
    from tools.impl import fmt_dt

    return MessageHit(
        message_id=m.id, thread_id=m.thread_id or "", date=fmt_dt(m.date, ctx),
        sender=str(m.sender) if m.sender else "", subject=sanitize_text(m.subject),
        snippet=truncate(sanitize_text(" ".join((m.new_text or m.body_text).split())),
                         SNIPPET_CHARS),
    )  # fmt: skip


def _top_recipients(messages: list[Message], own: set[str]) -> list[PersonCount]:
    """Whom ``messages`` were sent to (To and Cc), most often first, the user left out."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for m in messages:
        for a in {a.email.lower(): a for a in [*m.to, *m.cc]}.values():
            if a.email.lower() not in own:
                counts[a.email.lower()] += 1
                shown.setdefault(a.email.lower(), str(a))
    return [PersonCount(person=shown[a], messages=n) for a, n in counts.most_common(TOP_SENDERS)]


def list_messages(args: ListMessagesArgs, ctx: AgentContext) -> ListMessagesResult:
    """Messages from / to a person in a period, newest first, with exact counts."""
    store = ctx.backends.store
    after = parse_when(args.after, ctx.now, ctx.tz)
    before = parse_when(args.before, ctx.now, ctx.tz, end=True)
    # Mail dated after the clock has not arrived yet (``--now`` in the past, skewed dates).
    before = min(before, ctx.now) if before is not None else ctx.now
    own = own_addresses_of(ctx)
    person = args.sender or args.recipient
    people = resolve_people(ctx, person) if person else []
    key = "sender" if args.sender else "recipient"
    filters: list[dict[str, str]] = (
        [{key: p} for p in people] if people else [{key: person}] if person else [{}]
    )
    found: dict[str, Message] = {}
    capped = False
    for f in filters:
        rows = store.list_messages(ctx.user, after=after, before=before, limit=CAP, **f)  # type: ignore[arg-type]
        capped = capped or len(rows) >= CAP
        found.update((m.id, m) for m in rows)
    messages = list(found.values())
    if args.sender and people:
        # The store matches addresses by substring ("ann@" in "joann@"): keep exact senders.
        messages = [m for m in messages if m.sender and m.sender.email.lower() in people]
    elif args.recipient:
        # "When did I last email Kenji": mail the user sent, not mail Kenji was copied on.
        if own:
            messages = [m for m in messages if m.sender and m.sender.email.lower() in own]
    elif args.sent:
        # "Who have I emailed the most": the mail the user sent.
        messages = [m for m in messages if m.sender and m.sender.email.lower() in own]
    elif not args.sender:
        # No person: the mail the user received.
        messages = [m for m in messages if not (m.sender and m.sender.email.lower() in own)]
    oldest = datetime.min.replace(tzinfo=UTC)
    messages.sort(key=lambda m: m.date or oldest, reverse=True)
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for m in messages:
        if m.sender is None:
            continue
        addr = m.sender.email.lower()
        counts[addr] += 1
        shown.setdefault(addr, str(m.sender))
    return ListMessagesResult(
        sender=args.sender, recipient=args.recipient, after=args.after, before=args.before,
        people=people, total=len(messages), capped=capped,
        messages=[_hit(m, ctx) for m in messages[: args.limit]],
        top_senders=[PersonCount(person=shown[a], messages=n)
                     for a, n in counts.most_common(TOP_SENDERS)],
        top_recipients=_top_recipients(messages, own) if args.sent else [],
    )  # fmt: skip
