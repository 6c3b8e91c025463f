"""Labelled examples for the trigger and priority classifiers, from behaviour in real mailboxes.

From a Maildir-like tree of mailboxes (``ROOT/<owner>/<folder>/<file>``, the Enron layout) every
message an owner *received* (outside the sent folders, not sent by the owner, one copy per
Message-ID) becomes an example:

* **trigger** label: the owner answered it (their sent mail replies to it, linked by
  ``In-Reply-To``/``References`` or subject, see :func:`evals.smart_reply.pairs.link_replies`);
* **priority** label: the owner answered it within :data:`QUICK_REPLY_H` hours, kept a copy in a
  folder of their own (not an inbox, trash, sent or the mail client's catch-all folders), or it
  came from someone the owner writes to.

Features follow :func:`agents.smart_reply.learned.features`; the sender history counts only
mail dated *before* the example (what the service knows when the message arrives).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agents.smart_reply.learned import SenderHistory

if TYPE_CHECKING:
    from core.types import Message

#: A reply within this many hours marks the message important.
QUICK_REPLY_H = 24.0
#: Folders that say nothing about importance (a copy elsewhere was filed by the owner).
GENERIC_FOLDERS = frozenset({
    "inbox", "notes_inbox", "deleted_items", "all_documents", "discussion_threads", "sent",
    "sent_items", "_sent_mail", "calendar", "contacts", "junk", "spam", "trash",
})  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Example:
    """One received message with its labels and the owner's history with its sender."""

    owner: str
    message: Message
    owner_emails: frozenset[str]
    history: SenderHistory
    replied: bool
    important: bool


def _stamp(m: Message) -> float:
    return (m.date or _EPOCH).timestamp()


def load_examples(root: Path) -> list[Example]:
    """Every received message of every owner under ``root``, labelled, oldest first per owner."""
    from evals.smart_reply.pairs import link_replies, parse_tree

    parsed = parse_tree(root)
    owner_senders: dict[str, Counter[str]] = defaultdict(Counter)
    for owner, sent, m in parsed:
        if sent and m.sender:
            owner_senders[owner][m.sender.email.lower()] += 1
    # The owner's addresses: who sends from their sent folders (the top one, plus any that
    # sent a tenth as much - aliases), so mail they sent and filed elsewhere is not "received".
    emails: dict[str, frozenset[str]] = {}
    for owner, counts in owner_senders.items():
        top = counts.most_common(1)[0][1]
        emails[owner] = frozenset(a for a, n in counts.items() if n * 10 >= top)
    first_reply: dict[str, float] = {}
    for _owner, reply, parent in link_replies(parsed):
        if reply.sender and reply.sender.email.lower() in emails.get(_owner, frozenset()):
            delay = _stamp(reply) - _stamp(parent)
            first_reply[parent.id] = min(first_reply.get(parent.id, delay), delay)
    # Per owner: when they wrote to each address, and when each address wrote to them.
    wrote: dict[tuple[str, str], list[float]] = defaultdict(list)
    heard: dict[tuple[str, str], list[float]] = defaultdict(list)
    folders: dict[str, set[str]] = defaultdict(set)
    received: dict[str, dict[str, Message]] = defaultdict(dict)
    for owner, sent, m in parsed:
        sender = m.sender.email.lower() if m.sender else ""
        own = sender in emails.get(owner, frozenset())
        if sent or own:
            for a in {x.email.lower() for x in [*m.to, *m.cc] if x.email}:
                wrote[owner, a].append(_stamp(m))
            continue
        folders[m.id].add((m.folder or "").lower())
        heard[owner, sender].append(_stamp(m))
        received[owner].setdefault(m.id, m)
    for times in (*wrote.values(), *heard.values()):
        times.sort()
    examples: list[Example] = []
    for owner, by_id in sorted(received.items()):
        for m in sorted(by_id.values(), key=_stamp):
            sender = m.sender.email.lower() if m.sender else ""
            t = _stamp(m)
            history = SenderHistory(
                messages_to=bisect.bisect_left(wrote.get((owner, sender), []), t),
                messages_from=bisect.bisect_left(heard.get((owner, sender), []), t),
            )
            reply_delay = first_reply.get(m.id)
            replied = reply_delay is not None
            quick = reply_delay is not None and reply_delay <= QUICK_REPLY_H * 3600
            filed = bool(folders[m.id] - GENERIC_FOLDERS)
            writes_to = bool(wrote.get((owner, sender)))
            examples.append(
                Example(
                    owner=owner, message=m, owner_emails=emails.get(owner, frozenset()),
                    history=history, replied=replied, important=quick or filed or writes_to,
                )
            )  # fmt: skip
    return examples
