"""Embedding-based intent router: which tool should answer a request.

A 135M model's tool calls parse under constrained decoding but pick badly, so routing is a
classification step of its own: the request is embedded with the same sentence encoder as
retrieval and compared with example requests per tool (``intents.yaml``). A tool's score is the
mean of its ``k`` most similar examples; ``none`` means no tool is needed. A few lexical cues
(the words "free"/"available", "email address", "calendar") add a small bonus, because short
requests differ from examples by exactly those words and MiniLM weighs them weakly.

The router returns a ranking, so the graph can run a second tool when two are close.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from agents.assistant.mail_asks import is_record_question, is_topic_top_senders

if TYPE_CHECKING:
    from retrieval.index.embeddings import Embedder

#: Someone named by their role in an event: the event's organizer.
_EVENT_ROLE = re.compile(
    r"\b(whoever|who)( is|'s)? (running|organi[sz]ing|hosting|leading|chairing|in charge of)\b"
)
#: How far a rule-matched tool is put ahead of the best example-matched one.
RULE_MARGIN = 0.1
INTENTS_FILE = Path(__file__).with_name("intents.yaml")
TOOLS = (
    "search_mailbox", "read_thread", "read_message", "list_events", "find_free_time",
    "lookup_contacts", "list_messages",
)  # fmt: skip

#: Words before "number" that make it a phone number ("his number", "cell number").
_PHONE_WORDS = (
    r"(phone|cell|mobile|contact|direct|fax|office|home|work|his|her|their|my|your|the|a|"
    r"whats|what's|what)"
)
#: (pattern, tool, bonus): cheap features for words MiniLM underweights.
CUES: list[tuple[re.Pattern[str], str, float]] = [
    (re.compile(r"\b(free|availab\w*|open slots?|fit|squeeze|find (a )?(time|slot))\b"),
     "find_free_time", 0.12),
    (re.compile(r"\b(e-?mail address|phone|mobile|cell|role|reach|contact (info|details)|"
                r"works? for|"
                r"job title|who is|who's|birthday)\b|'s e-?mail\s*\??$"), "lookup_contacts", 0.10),
    (re.compile(r"\b(calendar|schedule[d]?|meeting|appointment|standup|interview|offsite|"
                r"webinar|1:1|one on one)\b"), "list_events", 0.06),
    # Who was / is at an event: its attendee list ("who was at the readiness review").
    (re.compile(r"\bwho (was|were|is|are|will be) (at|in|going to|attending|invited to)\b|"
                r"\bwho (attended|came to|went to|showed up|is coming to|organi[sz]es)\b|"
                r"\b(attendees|invitees|participants)\b"), "list_events", 0.12),
    (re.compile(r"\b(summar\w*|recap|thread|catch me up|tl;?dr|back and forth|chain)\b"),
     "read_thread", 0.10),
    (re.compile(r"\b(e-?mails?|mail|wrote|said|sent|quote[d]?|invoice|attachment|message)\b"),
     "search_mailbox", 0.05),
    # Someone reported something ("Sam asked...", "the launch got moved"): that is in mail.
    (_REPORTED := re.compile(r"\b(asked|said|says|wrote|mentioned|told|moved|got moved|"
                              r"announced|replied|forwarded|promised)\b"), "search_mailbox", 0.08),
    # Any "<thing> number" that is not a person's phone ("requisition number", "bridge PIN"):
    # an identifier written in mail, whatever else the question shares with contact examples.
    (re.compile(rf"\b(?!{_PHONE_WORDS}\b)[a-z]{{3,}} (number|no\.?|#|pin)\b"),
     "search_mailbox", 0.2),
    # Ticket, order and invoice numbers ("NW-482", "PO-2026-118") live in mail.
    (re.compile(r"\b[a-z]{2,5}-\d{2,}\b|\b(po|invoice|ticket|order|quote) (number|no|#)"),
     "search_mailbox", 0.08),
]  # fmt: skip

#: Side-effecting tools (``agents/actions``): their examples in ``intents.yaml`` only break ties
#: between actions the request's verbs allow (:meth:`IntentRouter.rank_actions`); they never
#: compete with the read-only tools in :meth:`IntentRouter.route`.
ACTIONS = (
    "save_draft", "send_email", "reply_to_invitation", "create_event", "update_event",
)  # fmt: skip

#: Where a request joins two asks: "..., and am I free then?", "...; also who is ...".
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:[,;]\s*(?:and|also|plus|then)?|\band\b|[?.!]|\s-)\s+"
    r"(?=(?:am i|are|is|do i|does|did|can|could|what|whats|what's|who|who's|whos|when|where|"
    r"which|how|tell|show|give|find|also)\b)",
    re.I,
)
#: Tools that read mail: reading needs a search first, so they count as one intent.
MAIL_TOOLS = frozenset({"search_mailbox", "read_thread", "read_message"})


_ASK = re.compile(
    r"\b(what|whats|what's|who|who's|whos|when|where|which|how|is|are|am|do|does|did|can|could|"
    r"tell|show|find|give|list|open|read|summari[sz]e|recap)\b",
    re.I,
)


def clauses(text: str) -> list[str]:
    """The separate asks of a compound request (one item for a simple request).

    A part that asks nothing ("q1 planning kickoff - what time?") is the topic of the next part,
    not an ask of its own, and is merged into it.
    """
    parts = [p.strip(" ,;?.!-") for p in _CLAUSE_SPLIT.split(text)]
    parts = [p for p in parts if p]
    merged: list[str] = []
    carry = ""
    for raw in parts:
        part = f"{carry} {raw}".strip() if carry else raw
        carry = ""
        # A statement ("elena is out - ...") is the topic of the next ask; a reported event
        # ("Sam asked to meet...") is something to look up first.
        if not _ASK.search(part) and not _REPORTED.search(part) and raw is not parts[-1]:
            carry = part
            continue
        merged.append(part)
    if carry:
        merged.append(carry)
    return [p for p in merged if len(p.split()) >= 2] or [text]


@dataclass(slots=True, frozen=True)
class Route:
    """Tools ranked for a request, best first, with scores."""

    ranking: tuple[tuple[str, float], ...]

    @property
    def tool(self) -> str:
        """Best tool, or ``none``."""
        return self.ranking[0][0]

    def close_second(self, margin: float) -> str | None:
        """The runner-up when it scores within ``margin`` of the best (and is a tool)."""
        if len(self.ranking) < 2:
            return None
        (_, best), (second, score) = self.ranking[0], self.ranking[1]
        return second if second != "none" and best - score <= margin else None


class IntentRouter:
    """k-nearest-example router over tool intents."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        k: int = 3,
        min_score: float = 0.2,
        path: Path = INTENTS_FILE,
    ) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.embedder = embedder
        self.k = k
        self.min_score = min_score
        self.labels: list[str] = []
        texts: list[str] = []
        action_texts: list[str] = []
        self.action_labels: list[str] = []
        for label, examples in data.items():
            if label in ACTIONS:
                action_texts += [str(ex) for ex in examples]
                self.action_labels += [label] * len(examples)
                continue
            for ex in examples:
                self.labels.append(label)
                texts.append(str(ex))
        self.names = sorted(set(self.labels))
        self._vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
        self._label_idx = np.array([self.names.index(lbl) for lbl in self.labels])
        self._action_vectors = (
            np.asarray(embedder.embed(action_texts), dtype=np.float32) if action_texts else None
        )

    def rank_actions(self, text: str, candidates: Sequence[str]) -> str:
        """The action among ``candidates`` whose examples are most similar to ``text``."""
        if self._action_vectors is None or len(candidates) < 2:
            return candidates[0]
        q = np.asarray(self.embedder.embed_query(text), dtype=np.float32)
        sims = self._action_vectors @ q
        labels = np.array(self.action_labels)
        best = {
            c: float(np.sort(sims[labels == c])[::-1][: self.k].mean())
            for c in candidates
            if (labels == c).any()
        }
        return max(best, key=lambda c: best[c]) if best else candidates[0]

    def plan(self, text: str, route: Route | None = None) -> list[str]:
        """Tools for ``text`` in order: one per clause of a compound request, deduplicated.

        ``route`` is the whole request's ranking when the caller already has it (saves an
        embedding per request).
        """
        parts = clauses(text)
        if len(parts) == 1:
            best = (route or self.route(text)).tool
            return [] if best == "none" else [best]
        tools: list[str] = []
        for part in parts:
            best = self.route(part).tool
            if best != "none" and best not in tools:
                tools.append(best)
        return tools

    def route(self, text: str) -> Route:
        """Rank intents for ``text``."""
        q = np.asarray(self.embedder.embed_query(text), dtype=np.float32)
        sims = self._vectors @ q
        lowered = text.lower()
        scores: dict[str, float] = {}
        for i, name in enumerate(self.names):
            own = np.sort(sims[self._label_idx == i])[::-1][: self.k]
            scores[name] = float(own.mean()) if own.size else 0.0
        for pattern, tool, bonus in CUES:
            if pattern.search(lowered):
                scores[tool] += bonus
        # Mail as a record ("when did I last hear from X", "who emails me most") is a listing
        # by sender and date, and "who wrote most about X" a search counted by sender: the
        # question's form decides, whatever words it shares with other tools' examples.
        # (``list_messages`` has no examples: questions of other tools share its words.)
        if is_record_question(text):
            scores["list_messages"] = max(scores.values()) + RULE_MARGIN
        elif _EVENT_ROLE.search(lowered):
            # "The number of whoever is running the review": the event says who that is.
            scores["list_events"] = max(scores.values()) + RULE_MARGIN
        elif is_topic_top_senders(text):
            scores["search_mailbox"] = max(scores.values()) + RULE_MARGIN
        if max(scores.values()) < self.min_score:
            # Nothing matches well: mail is where most facts live, so search it.
            scores["search_mailbox"] = self.min_score
        ranking = tuple(sorted(scores.items(), key=lambda kv: kv[1], reverse=True))
        return Route(ranking)
