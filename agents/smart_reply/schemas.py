"""Result types of the smart-reply path (pydantic: they go straight onto the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agents.safety.phishing import PhishingSignal
from agents.smart_reply.responses import Intent, Polarity

TriggerReason = Literal[
    "own_message",
    "auto_reply",
    "automated",
    "mailing_list",
    "bulk",
    "no_reply_sender",
    "no_ask",
    "meeting_request",
    "question",
    "request",
    "thanks",
    "news",
    "likely_phish",
    "learned",
]
CalendarStatus = Literal["free", "tentative", "busy", "on_calendar", "past", "no_calendar"]


class TriggerDecision(BaseModel):
    """Whether to suggest replies at all, and why (``reason`` is a stable code)."""

    triggered: bool
    reason: TriggerReason
    detail: str = Field(description="Human-readable explanation, e.g. the header that decided.")


class Chip(BaseModel):
    """One suggested short reply."""

    text: str
    intent: Intent
    polarity: Polarity
    score: float = Field(description="Retrieval similarity (plus calendar boost), higher first.")
    response_id: str = Field(description="Id of the curated response in responses.yaml.")


class ProposedTime(BaseModel):
    """A meeting time found in the message text."""

    start: datetime
    end: datetime
    text: str = Field(description="The phrase it was read from.")


class CalendarCheck(BaseModel):
    """What the user's calendar says about a proposed time."""

    status: CalendarStatus
    conflicts: list[str] = Field(default_factory=list, description="Overlapping events.")
    alternative: datetime | None = Field(
        default=None, description="Best free slot from find_free_time."
    )


class SmartReplyResult(BaseModel):
    """What :func:`agents.smart_reply.suggest` returns."""

    message_id: str
    triggered: bool
    reason: TriggerReason
    detail: str = ""
    trigger_probability: float | None = Field(
        None,
        description="The learned trigger's calibrated probability that the user replies "
        "(null when no trigger model is trained, or a header rule decided first).",
    )
    priority: float | None = Field(
        None,
        description="The learned priority model's calibrated probability that the message is "
        "important to the user (null when no priority model is trained).",
    )
    chips: list[Chip] = Field(default_factory=list)
    latency_ms: float = 0.0
    proposed_time: ProposedTime | None = None
    calendar_check: CalendarCheck | None = None
    phishing: PhishingSignal | None = Field(
        default=None,
        description="Phishing/scam signal when any feature fired; a likely phish gets no chips.",
    )
