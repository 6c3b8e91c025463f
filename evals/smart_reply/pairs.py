"""Real reply pairs from a Maildir-like tree, for the smart-reply suite.

A *pair* is (a received message, the text its recipient actually replied with). A reply is
linked to its parent by ``In-Reply-To`` / ``References`` when the parent is in the tree, else -
for Lotus Notes exports such as Enron, which carry no such headers - by subject within the same
mailbox ("RE: x" answers the latest earlier message with subject "x" from someone else). The
reply text is the reply's own new text (quotes and signature removed by the product parser),
cut to ``max_words``. *Negatives* are received messages (outside sent folders) to which no reply
was found: the trigger should stay quiet on most of them, though some were surely answered by
phone or from another mailbox, so trigger precision is a lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evals.smart_reply.mine import SENT_FOLDERS

if TYPE_CHECKING:
    from core.types import Message


@dataclass(frozen=True, slots=True)
class ReplyPair:
    """A received message and the reply it got."""

    parent: Message
    reply: str


def parse_tree(root: Path) -> list[tuple[str, bool, Message]]:
    from core.errors import ParseError
    from retrieval.sources.mail.parse import parse_message

    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).parts
        mailbox = rel[0] if len(rel) > 2 else ""
        sent = any(part in SENT_FOLDERS for part in rel[:-1])
        try:
            out.append(
                (
                    mailbox,
                    sent,
                    parse_message(path.read_bytes(), folder=rel[-2] if len(rel) > 1 else "inbox"),
                )
            )
        except ParseError:
            continue
    return out


def link_replies(parsed: list[tuple[str, bool, Message]]) -> list[tuple[str, Message, Message]]:
    """``(mailbox, reply, parent)`` for every message whose parent is found (see the module
    docstring for how), in file order."""
    by_id = {m.message_id: m for _, _, m in parsed if not m.message_id_synthetic}
    received: dict[str, list[Message]] = {}
    for mailbox, sent, m in parsed:
        if not sent:
            received.setdefault(mailbox, []).append(m)
    links: list[tuple[str, Message, Message]] = []
    for mailbox, _sent, m in parsed:
        parent = None
        for ref in [m.in_reply_to, *reversed(m.references)]:
            if ref and ref in by_id and by_id[ref].id != m.id:
                parent = by_id[ref]
                break
        if parent is None and m.subject_is_reply:
            subject = m.normalized_subject.lower()
            sender = m.sender.email.lower() if m.sender else ""
            candidates = [
                p for p in received.get(mailbox, [])
                if p.id != m.id and not p.subject_is_reply
                and p.normalized_subject.lower() == subject
                and (p.sender.email.lower() if p.sender else "") != sender
                and (m.date is None or p.date is None or p.date <= m.date)
            ]  # fmt: skip
            parent = candidates[-1] if candidates else None
        if parent is not None:
            links.append((mailbox, m, parent))
    return links


def load_pairs(root: Path, *, max_words: int = 40) -> tuple[list[ReplyPair], list[Message]]:
    """(reply pairs, received messages without a reply found), in file order."""
    parsed = parse_tree(root)
    received: dict[str, list[Message]] = {}
    for mailbox, sent, m in parsed:
        if not sent:
            received.setdefault(mailbox, []).append(m)
    pairs: list[ReplyPair] = []
    answered: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for _mailbox, m, parent in link_replies(parsed):
        text = " ".join(m.new_text.split()[:max_words])
        if len(text) < 2 or (parent.id, text.lower()) in seen:
            continue
        seen.add((parent.id, text.lower()))
        answered.add(parent.id)
        pairs.append(ReplyPair(parent, text))
    negatives = [
        m for box in received.values() for m in box
        if m.id not in answered and not m.subject_is_reply
    ]  # fmt: skip
    return pairs, negatives
