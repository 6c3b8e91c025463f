"""Messages to chunks: the text that is embedded and BM25-weighted, and the payload beside it.

A chunk is ``subject``, the sender line and a window of the message's own new text (quotes
removed by the parser, ``Message.new_text``). Texts longer than ``chunk_words`` words are split
into windows that overlap by ``overlap`` words, so a phrase cut at a boundary is whole in one of
them; each window repeats the subject and sender so it can be found (and shown) on its own.
MiniLM reads at most 256 word pieces, which 160 English words roughly fill.

Each chunk also lists its sentences (subject included) for the ``sentences`` multivector: a
short query such as a subject line often matches one sentence far better than the averaged
chunk vector, and a MaxSim re-scoring stage over them measurably improves ranking.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from core.types import Message
from retrieval.index.base import MAX_CHUNKS, rfc3339


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of a message: its number, the full text to encode and the body window."""

    no: int
    text: str
    body: str
    sentences: list[str] = field(default_factory=list)
    #: Where each sentence sits in ``text`` (character spans), for vectors pooled from the
    #: chunk's own token states.
    spans: list[tuple[int, int]] = field(default_factory=list)


_SENT_RE = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=[-*•>]|\s*\d+[.)]\s)")
_WORD_SPAN_RE = re.compile(r"\S+")
_MIN_SENT_WORDS = 3
_MAX_SENT_WORDS = 48
MAX_SENTENCES = 16


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (see :func:`split_sentences`).

    A span runs from its first word's first character to its last word's last one, so it
    covers the sentence where it sits in ``text`` (the index pools token vectors over it).
    """
    out: list[list[tuple[int, int]]] = []
    pending: list[tuple[int, int]] = []
    cursor = 0
    cuts = [m.span() for m in _SENT_RE.finditer(text)] + [(len(text), len(text))]
    for cut_start, cut_end in cuts:
        part = [(cursor + a, cursor + b) for a, b in
                (m.span() for m in _WORD_SPAN_RE.finditer(text[cursor:cut_start]))]  # fmt: skip
        cursor = cut_end
        words = pending + part
        if len(words) < _MIN_SENT_WORDS:
            pending = words
            continue
        pending = []
        for first in range(0, len(words), _MAX_SENT_WORDS):
            out.append(words[first : first + _MAX_SENT_WORDS])
    if pending and out:
        out[-1] = out[-1] + pending
    elif pending:
        out.append(pending)
    return [(words[0][0], words[-1][1]) for words in out[:MAX_SENTENCES]]


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: split at ., ! and ?, blank lines and list items.

    Fragments under three words join the next one; over-long ones are cut at 48 words; at most
    ``MAX_SENTENCES`` are kept (the first ones, where email content concentrates). Whitespace
    inside a sentence is folded to single spaces.
    """
    return [" ".join(text[a:b].split()) for a, b in sentence_spans(text)]


def message_text(message: Message) -> str:
    """The searchable body: new text, or the whole body when the parser found no new text."""
    text = message.new_text.strip()
    return text if text else message.body_text.strip()


def sender_line(message: Message) -> str:
    """``Name <address>`` of the sender, or an empty string."""
    return str(message.sender) if message.sender else ""


def split_words(text: str, size: int, overlap: int) -> list[str]:
    """Windows of ``size`` words, consecutive windows sharing ``overlap`` words.

    Windows are slices of the original text, so line breaks survive for sentence splitting.
    """
    spans = [m.span() for m in _WORD_SPAN_RE.finditer(text)]
    if len(spans) <= size:
        return [text.strip()]
    step = max(1, size - min(overlap, size - 1))
    out = []
    for start in range(0, len(spans), step):
        end = min(start + size, len(spans)) - 1
        out.append(text[spans[start][0] : spans[end][1]])
        if start + size >= len(spans):
            break
    return out


def chunk_message(message: Message, size: int = 160, overlap: int = 32) -> list[Chunk]:
    """The chunks of one message (at least one, even for an empty body)."""
    header = "\n".join(part for part in (message.subject.strip(), sender_line(message)) if part)
    chunks = []
    windows = split_words(message_text(message), size, overlap)
    # Point ids keep the chunk number in 16 bits; beyond that (millions of words) is cut.
    for no, window in enumerate(windows[:MAX_CHUNKS]):
        text = f"{header}\n\n{window}" if header else window
        subject = message.subject.strip()
        offset = len(text) - len(window)
        body_spans = sentence_spans(window)
        sentences = ([subject] if subject else []) + [
            " ".join(window[a:b].split()) for a, b in body_spans
        ]
        spans: list[tuple[int, int]] = ([(0, len(subject))] if subject else []) + [
            (offset + a, offset + b) for a, b in body_spans
        ]
        if not sentences:
            sentences, spans = [text], [(0, len(text))]
        chunks.append(Chunk(no=no, text=text, body=window, sentences=sentences, spans=spans))
    return chunks


def message_payload(message: Message) -> dict[str, Any]:
    """Payload fields shared by all chunks of a message (``user`` is added by the index)."""
    recipients_to = sorted({a.email.lower() for a in message.to if a.email})
    recipients_cc = sorted({a.email.lower() for a in message.cc if a.email})
    payload: dict[str, Any] = {
        "message_id": message.id,
        "thread_id": message.thread_id or message.id,
        "from": message.sender.email.lower() if message.sender else "",
        "from_name": message.sender.name if message.sender else "",
        "to": recipients_to,
        "cc": recipients_cc,
        "folder": message.folder or "",
        "has_attachment": int(bool(message.attachments)),
        "subject": message.subject,
    }
    if message.date is not None:
        payload["date"] = rfc3339(message.date)
    return payload


def digest(*parts: str) -> str:
    """Short stable hash of text parts (change detection)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()
