"""Conversation threading: JWZ (https://www.jwz.org/doc/threading.html) with a subject fallback.

Why hand-written: the PyPI implementations of JWZ are unmaintained and tied to their own message
classes; the algorithm is ~100 lines and needs determinism guarantees they do not give.

Determinism: the result is a function of the *set* of messages, not of their order. Messages are
processed sorted by (date, Message-ID), and a thread's id is a hash of its root's Message-ID (a
phantom root — a referenced message we never saw — is still identified by its id), so re-ingesting
or ingesting in another order yields the same thread ids.

Subject fallback (for mail without References, such as the Enron corpus): a root whose subject had
a reply/forward prefix joins the most recent earlier thread with the same normalised subject,
if that thread's last message is at most ``subject_window`` older. Roots without a prefix never
merge by subject, so unrelated "Weekly report" mails stay apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(slots=True, frozen=True)
class ThreadInput:
    """What threading needs of a message."""

    message_id: str
    references: tuple[str, ...]
    in_reply_to: str | None
    normalized_subject: str
    subject_is_reply: bool
    date: datetime | None


@dataclass(slots=True)
class _Container:
    id: str
    message: ThreadInput | None = None
    parent: _Container | None = None
    children: list[_Container] = field(default_factory=list)


def thread_id_for(root_message_id: str) -> str:
    """Stable thread id from the root Message-ID."""
    digest = hashlib.blake2b(root_message_id.encode("utf-8", "surrogatepass"), digest_size=10)
    return "t" + digest.hexdigest()


def _is_ancestor(candidate: _Container, node: _Container) -> bool:
    """True when ``candidate`` is ``node`` or one of its ancestors (linking would make a loop)."""
    cur: _Container | None = node
    while cur is not None:
        if cur is candidate:
            return True
        cur = cur.parent
    return False


def _set_parent(child: _Container, parent: _Container) -> None:
    if child.parent is parent or _is_ancestor(child, parent):
        return
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def _sort_key(item: ThreadInput) -> tuple[float, str]:
    ts = item.date.timestamp() if item.date is not None else float("inf")
    return (ts, item.message_id)


def thread(
    items: Iterable[ThreadInput], *, subject_window: timedelta = timedelta(days=30)
) -> dict[str, str]:
    """Map every input Message-ID to its thread id."""
    ordered = sorted(items, key=_sort_key)
    table: dict[str, _Container] = {}

    def get(mid: str) -> _Container:
        c = table.get(mid)
        if c is None:
            c = table[mid] = _Container(mid)
        return c

    for item in ordered:
        this = get(item.message_id)
        if this.message is not None:
            continue  # duplicate Message-ID: the first (earliest) copy wins
        this.message = item
        refs = list(item.references)
        if item.in_reply_to and (not refs or refs[-1] != item.in_reply_to):
            refs.append(item.in_reply_to)
        refs = [r for r in refs if r != item.message_id]
        # Chain the References: each one is the parent of the next, unless already linked.
        prev: _Container | None = None
        for ref in refs:
            c = get(ref)
            if prev is not None and c.parent is None and not _is_ancestor(c, prev):
                _set_parent(c, prev)
            prev = c
        # The message's own parent is the last reference: its In-Reply-To wins over guesses.
        if prev is not None and not _is_ancestor(this, prev):
            _set_parent(this, prev)

    roots = [c for c in table.values() if c.parent is None]

    def walk(root: _Container) -> list[_Container]:
        out, stack = [], [root]
        while stack:
            c = stack.pop()
            out.append(c)
            stack.extend(c.children)
        return out

    # Thread groups: root container id -> real messages under it.
    groups: list[tuple[str, list[ThreadInput]]] = []
    for root in roots:
        msgs = [c.message for c in walk(root) if c.message is not None]
        if msgs:
            msgs.sort(key=_sort_key)
            groups.append((root.id, msgs))
    groups.sort(key=lambda g: _sort_key(g[1][0]))

    result: dict[str, str] = {}
    # Subject fallback state: normalised subject -> (thread id, latest date in that thread).
    by_subject: dict[str, tuple[str, datetime | None]] = {}
    for root_id, msgs in groups:
        first = msgs[0]
        tid = thread_id_for(root_id)
        subj = first.normalized_subject
        has_refs = bool(first.references or first.in_reply_to)
        if subj and first.subject_is_reply and not has_refs and subj in by_subject:
            prior_tid, prior_last = by_subject[subj]
            if (
                first.date is not None
                and prior_last is not None
                and first.date - prior_last <= subject_window
            ):
                tid = prior_tid
        last = max((m.date for m in msgs if m.date is not None), default=None)
        if subj:
            prior = by_subject.get(subj)
            if prior is not None and prior[0] == tid and prior[1] is not None:
                last = prior[1] if last is None else max(last, prior[1])
            by_subject[subj] = (tid, last)
        for m in msgs:
            result[m.message_id] = tid
    return result
