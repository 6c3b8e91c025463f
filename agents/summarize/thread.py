"""Thread and message summaries with citations, checked for faithfulness.

``summarize_thread``:

1. Number the thread's messages (their own new text, quotes removed) and ask the model for
   2-5 sentences and action items as JSON (schema-constrained), each citing message numbers.
   Threads longer than ``max_chars`` are summarised map-reduce: slices first, then the slices'
   sentences are merged, keeping their citations.
2. Map numbers back to message ids (unknown numbers are dropped) and check every sentence
   against the messages it cites (:class:`FaithfulnessChecker`); unsupported sentences are
   dropped and reported.
3. If fewer than two sentences survive, fall back to an extractive summary (sentences ranked by
   closeness to the thread's centroid, earliest first on ties) and say so in the result.

Dates and deadlines are found in the summary and action items by rule, each with its citation.

Mail text is sanitised (:mod:`agents.safety.sanitize`), and a sentence or action item that
instructs the reader is attributed to its sender ("Greg asks you to wire ...",
:mod:`.attribution`) so it never reads as the assistant's advice; text aimed at an AI assistant
is quoted, never an action item. Likely phishing in the thread is listed in ``warnings``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

from agents.safety.phishing import SafetyWarning, assess, frequent_domains
from agents.safety.sanitize import sanitize_text
from agents.summarize.attribution import attribute, is_injection, sender_label
from agents.summarize.faithfulness import FaithfulnessChecker, split_sentences
from core.errors import NotFoundError
from core.types import Message
from prompts import render

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.index.embeddings import Embedder
    from retrieval.store.base import Store


# -- what the model writes (constrained) ------------------------------------------------------


class DraftSentence(BaseModel):
    """A summary sentence as the model writes it."""

    text: str = Field(description="One sentence.")
    sources: list[int] = Field(description="Numbers of the messages it comes from.")


class DraftAction(BaseModel):
    """An action item as the model writes it."""

    text: str = Field(description="Who must do what.")
    sources: list[int] = Field(description="Numbers of the messages it comes from.")
    due: str | None = Field(None, description="Deadline if one is stated.")


class ThreadSummaryDraft(BaseModel):
    """The model's JSON output for a thread (or a slice of one)."""

    sentences: list[DraftSentence] = Field(max_length=6)
    action_items: list[DraftAction] = Field(default_factory=list, max_length=6)


class MessageSummaryDraft(BaseModel):
    """The model's JSON output for one message."""

    summary: str
    subject: str


# -- results ------------------------------------------------------------------------------------


class SummarySentence(BaseModel):
    """A sentence of the summary with the message ids it comes from."""

    text: str
    citations: list[str]
    similarity: float | None = None
    overlap: float | None = None


class ActionItem(BaseModel):
    """Something someone has to do."""

    text: str
    citations: list[str]
    due: str | None = None


class DateMention(BaseModel):
    """A date or deadline mentioned in the thread."""

    text: str
    date: str
    citations: list[str]


class ThreadSummary(BaseModel):
    """``mailmind summarize --json``."""

    thread_id: str
    subject: str
    message_count: int
    method: Literal["abstractive", "extractive"]
    fallback_reason: str | None = None
    map_reduce: bool = False
    sentences: list[SummarySentence]
    action_items: list[ActionItem]
    dates: list[DateMention]
    dropped_sentences: list[SummarySentence] = Field(default_factory=list)
    warnings: list[SafetyWarning] = Field(
        default_factory=list, description="Messages of the thread that look like phishing."
    )


class MessageSummary(BaseModel):
    """A single message's summary and suggested subject line."""

    message_id: str
    summary: str
    subject: str
    method: Literal["abstractive", "extractive"]


# -- thread summary -----------------------------------------------------------------------------

_ACTION_CUE = re.compile(
    r"\b(please|can you|could you|need(s)? to|must|action|todo|to-do|deadline|due|by (mon|tue|wed|"
    r"thu|fri|sat|sun|end of|eod|\d))",
    re.I,
)
_DATE_TEXT = re.compile(
    r"\b(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?(?:\d{1,2}(?:st|nd|rd|th)?\s+"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\s+\d{4})?|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?"
    r"(?:,?\s+\d{4})?|\d{4}-\d{2}-\d{2})\b",
    re.I,
)


def _numbered(messages: list[Message], start: int = 1, chars: int = 1200) -> list[str]:
    out = []
    for i, m in enumerate(messages, start):
        who = str(m.sender) if m.sender else "unknown"
        when = m.date.strftime("%d %b %Y") if m.date else "no date"
        text = (m.new_text or m.body_text).strip()[:chars]
        out.append(f"[{i}] From: {who}, {when}\n{text}")
    return out


def _ids(sources: list[int], messages: list[Message]) -> list[str]:
    out: list[str] = []
    for n in sources:
        if 1 <= n <= len(messages) and messages[n - 1].id not in out:
            out.append(messages[n - 1].id)
    return out


def _draft(model: BaseChatModel, prompt: str) -> ThreadSummaryDraft | None:
    try:
        out = model.with_structured_output(ThreadSummaryDraft).invoke(prompt)
    except Exception:  # noqa: BLE001 - any model failure leads to the extractive fallback
        return None
    return out if isinstance(out, ThreadSummaryDraft) else None


def summarize_messages(
    thread_id: str,
    subject: str,
    messages: list[Message],
    *,
    model: BaseChatModel | None,
    embedder: Embedder,
    max_sentences: int = 5,
    max_chars: int = 6000,
    known_domains: Collection[str] = (),
) -> ThreadSummary:
    """Summarise ``messages`` (one thread, oldest first); see the module docstring.

    ``known_domains`` are the user's correspondents' domains (look-alikes of them are flagged)."""
    checker = FaithfulnessChecker(embedder)
    by_id = {m.id: m for m in messages}
    texts = {m.id: (m.new_text or m.body_text) for m in messages}
    drafts: list[tuple[DraftSentence | DraftAction, list[str]]] = []
    map_reduce = sum(len(t) for t in texts.values()) > max_chars
    reason: str | None = None
    if model is None:
        reason = "no language model configured"
    elif map_reduce:
        # Map: slices that fit the context, each summarised with its own numbering.
        size = max(2, len(messages) // max(1, sum(len(t) for t in texts.values()) // max_chars + 1))
        for start in range(0, len(messages), size):
            part = messages[start : start + size]
            draft = _draft(model, render("summarize_partial", messages=_numbered(part)))
            if draft is None:
                continue
            for s in draft.sentences:
                drafts.append((s, _ids(s.sources, part)))
            for a in draft.action_items:
                drafts.append((a, _ids(a.sources, part)))
        if not drafts:
            reason = "the model produced no usable output for any slice"
    else:
        prompt = render(
            "summarize_thread", subject=subject, messages=_numbered(messages),
            max_sentences=max_sentences,
        )  # fmt: skip
        draft = _draft(model, prompt)
        if draft is None:
            reason = "the model's output could not be parsed"
        else:
            drafts = [(s, _ids(s.sources, messages)) for s in draft.sentences]
            drafts += [(a, _ids(a.sources, messages)) for a in draft.action_items]

    kept: list[SummarySentence] = []
    dropped: list[SummarySentence] = []
    actions: list[ActionItem] = []
    unsupported = 0
    for item, cites in drafts:
        support = checker.check(item.text, [texts[c] for c in cites])
        sentence = SummarySentence(
            text=item.text.strip(), citations=cites, similarity=support.similarity,
            overlap=support.overlap,
        )  # fmt: skip
        if not support.supported or not cites:
            dropped.append(sentence)
            unsupported += isinstance(item, DraftSentence)
            continue
        who = sender_label(by_id.get(cites[0]))
        sentence.text = sanitize_text(sentence.text)
        if isinstance(item, DraftAction):
            # Text aimed at an AI assistant is something the email says, not a task.
            if is_injection(item.text):
                dropped.append(sentence)
                continue
            text = attribute(sentence.text, who, questions=True)
            actions.append(ActionItem(text=text, citations=cites, due=item.due))
            continue
        sentence.text = attribute(sentence.text, who)
        if len(kept) < max_sentences and sentence.text not in {k.text for k in kept}:
            kept.append(sentence)
    method: Literal["abstractive", "extractive"] = "abstractive"
    if len(kept) < 2:
        if reason is None:
            written = sum(1 for item, _ in drafts if isinstance(item, DraftSentence))
            reason = _fallback_reason(written, len(kept), unsupported)
        kept = extractive_summary(messages, embedder, max_sentences=min(4, max_sentences))
        method = "extractive"
        if not actions:
            actions = _rule_actions(messages)
    return ThreadSummary(
        thread_id=thread_id, subject=subject, message_count=len(messages), method=method,
        fallback_reason=reason if method == "extractive" else None, map_reduce=map_reduce,
        sentences=kept, action_items=actions[:6], dates=_dates(kept, actions, messages),
        dropped_sentences=dropped, warnings=_warnings(messages, known_domains),
    )  # fmt: skip


def _warnings(messages: list[Message], known_domains: Collection[str]) -> list[SafetyWarning]:
    out: list[SafetyWarning] = []
    for m in messages:
        signal = assess(m, known_domains=known_domains)
        if signal.likely_phish:
            out.append(SafetyWarning(message_id=m.id, score=signal.score, reasons=signal.reasons))
    return out


def _fallback_reason(written: int, kept: int, unsupported: int) -> str:
    """Why the model's summary was not used, stated plainly (2 supported sentences are needed).

    The old wording, "0 of 1 model sentences failed the faithfulness check", read as a
    contradiction when the model simply wrote too few sentences."""
    if written == 0:
        return "the model wrote no summary sentences"
    if unsupported:
        return (
            f"{unsupported} of the model's {written} sentences cited no message or were not "
            f"supported by the messages they cite, leaving {kept}; at least 2 are needed"
        )
    if written >= 2:
        return f"the model's {written} sentences repeat each other, leaving {kept} different one"
    return "the model wrote only 1 sentence; at least 2 are needed"


def summarize_thread(
    store: Store,
    user: str,
    thread_id: str,
    *,
    model: BaseChatModel | None,
    embedder: Embedder,
    max_sentences: int = 5,
) -> ThreadSummary:
    """Summarise one of ``user``'s threads (by thread id or the id of a message in it)."""
    if thread_id.startswith("m"):
        msg = store.get_message(user, thread_id)
        thread_id = msg.thread_id if msg is not None and msg.thread_id else thread_id
    found = store.get_thread(user, thread_id)
    if found is None:
        raise NotFoundError(f"no thread {thread_id!r} for user {user!r}")
    thread, messages = found
    known = frequent_domains(store.list_messages(user, limit=300))
    return summarize_messages(
        thread.id, thread.subject, messages, model=model, embedder=embedder,
        max_sentences=max_sentences, known_domains=known,
    )  # fmt: skip


def extractive_summary(
    messages: list[Message], embedder: Embedder, *, max_sentences: int = 4
) -> list[SummarySentence]:
    """Sentences closest to the thread's centroid, in thread order, each citing its message."""
    candidates: list[tuple[str, str, int]] = []
    for order, m in enumerate(messages):
        for s in split_sentences(sanitize_text(m.new_text or m.body_text)):
            if 4 <= len(s.split()) <= 60:
                candidates.append((s, m.id, order))
    if not candidates:
        return []
    vecs = np.asarray(embedder.embed([c[0] for c in candidates]), dtype=np.float32)
    centroid = vecs.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    scores = vecs @ centroid
    chosen: list[int] = []
    for i in np.argsort(-scores):
        # Skip near-duplicates of sentences already chosen (quoted or repeated text).
        if any(float(vecs[i] @ vecs[j]) > 0.9 for j in chosen):
            continue
        chosen.append(int(i))
        if len(chosen) >= max_sentences:
            break
    chosen.sort(key=lambda i: (candidates[i][2], i))
    senders = {m.id: sender_label(m) for m in messages}
    return [
        SummarySentence(text=attribute(candidates[i][0], senders[candidates[i][1]]),
                        citations=[candidates[i][1]], similarity=round(float(scores[i]), 3))
        for i in chosen
    ]  # fmt: skip


def _rule_actions(messages: list[Message]) -> list[ActionItem]:
    out: list[ActionItem] = []
    for m in messages:
        for s in split_sentences(sanitize_text(m.new_text or m.body_text)):
            # A fake SYSTEM line or "ignore previous instructions" is not a task for the user.
            if _ACTION_CUE.search(s) and len(s.split()) <= 40 and not is_injection(s):
                found = _DATE_TEXT.search(s)
                due = found.group(0) if found else None
                text = attribute(s, sender_label(m), questions=True)
                out.append(ActionItem(text=text, citations=[m.id], due=due))
    return out[-5:]


def _dates(
    sentences: list[SummarySentence], actions: list[ActionItem], messages: list[Message]
) -> list[DateMention]:
    from tools.when import find_date

    ref = next((m.date for m in reversed(messages) if m.date), None) or datetime.now()
    out: list[DateMention] = []
    seen: set[str] = set()
    items: list[SummarySentence | ActionItem] = [*sentences, *actions]
    for item in items:
        for match in _DATE_TEXT.finditer(item.text):
            d = find_date(match.group(0), ref)
            if d is None or d.isoformat() in seen:
                continue
            seen.add(d.isoformat())
            out.append(DateMention(text=item.text, date=d.isoformat(), citations=item.citations))
    return out


# -- single message -----------------------------------------------------------------------------


def summarize_message(
    message: Message, *, model: BaseChatModel | None, embedder: Embedder
) -> MessageSummary:
    """One message's summary and a subject line (what AESLC measures)."""
    text = (message.new_text or message.body_text).strip()
    if model is not None:
        try:
            out = model.with_structured_output(MessageSummaryDraft).invoke(
                render("summarize_message", text=text[:4000])
            )
        except Exception:  # noqa: BLE001 - fall back to extraction
            out = None
        if isinstance(out, MessageSummaryDraft) and out.summary.strip():
            support = FaithfulnessChecker(embedder).check(out.summary, [text])
            if support.supported:
                # The subject line is extracted even here: on AESLC dev the 135M model's
                # subjects score far below the email's own opening words (README, evals).
                return MessageSummary(
                    message_id=message.id, summary=out.summary.strip(),
                    subject=extractive_subject(text, embedder), method="abstractive",
                )  # fmt: skip
    best = extractive_summary([message], embedder, max_sentences=2)
    summary = " ".join(s.text for s in best) or text[:200]
    return MessageSummary(
        message_id=message.id, summary=summary, subject=extractive_subject(text, embedder),
        method="extractive",
    )  # fmt: skip


_GREETING = re.compile(
    r"^(hi|hello|hey|dear|good (morning|afternoon|evening)|all|team|folks)\b"
    r"[^.!?\n]{0,40}[,!:.\n]\s*",
    re.I,
)
_FILLER = re.compile(
    r"^(i (just )?wanted to (let you know|say|follow up)( that)?|"
    r"just (a )?(quick )?(note|fyi)( that)?|"
    r"fyi[,:]?|please (note|see)( that)?|as (you know|discussed)[,]?|attached (is|are)|"
    r"here (is|are))\s*",
    re.I,
)


def extractive_subject(text: str, embedder: Embedder, *, max_words: int = 12) -> str:
    """A subject line: the opening of the first informative sentence, greeting and filler
    phrases removed, cut to ``max_words`` words. (Emails state their point first; on AESLC this
    beats picking the most central sentence. 12 words: on AESLC dev, ROUGE-L 24.0 vs 21.1 at 8
    words and 23.0 for the whole lead sentence; see ``mailmind eval subject-lines``.)"""
    del embedder  # kept in the signature: a learned ranker would use it
    for sentence in split_sentences(text):
        cleaned = _FILLER.sub("", _GREETING.sub("", sentence)).strip(" -,:;")
        if len(cleaned.split()) >= 3:
            words = cleaned.split()[:max_words]
            return " ".join(words).rstrip(".,;:")
    return " ".join(text.split()[:max_words])
