"""``/v1/summarize``, ``/v1/smart-reply`` and ``/v1/drafts``: requests and answers.

The answers extend the agents' own result models (they already are the CLI's ``--json``
output), adding the examples ``/docs`` shows.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.smart_reply.schemas import SmartReplyResult
from agents.summarize.thread import ThreadSummary
from api.http.schemas.chat import check_now, check_text

#: A stable message id (``m`` + hex) as the store makes them.
MESSAGE_ID_PATTERN = r"^m[0-9a-f]{8,64}$"
#: A thread id (``t`` + hex), or a message id standing for its thread.
THREAD_ID_PATTERN = r"^[mt][0-9a-f]{8,64}$"
#: Largest raw message accepted in a JSON body (the body limit caps the total anyway).
MAX_RAW_CHARS = 500_000

_RAW_EXAMPLE = (
    "From: Kenji Watanabe <kenji@example.com>\nTo: you@example.com\nSubject: Site visit\n"
    "Message-ID: <visit-1@example.com>\nDate: Tue, 10 Nov 2026 10:00:00 +0000\n\n"
    "Could we meet on Thursday at 14:00 to walk the site?\n"
)


class SummarizeRequest(BaseModel):
    """A stored thread (``thread_id``) or raw RFC 822 messages (summarised, never stored)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"thread_id": "t0c1d2e3f4a5b6c7d8e9f"}, {"raw_messages": [_RAW_EXAMPLE]}]
        },
    )

    thread_id: str | None = Field(
        None, pattern=THREAD_ID_PATTERN, description="Thread id, or the id of a message in it."
    )
    raw_messages: list[str] | None = Field(
        None, min_length=1, max_length=50, description="RFC 822 messages of one thread."
    )

    @model_validator(mode="after")
    def _one_source(self) -> SummarizeRequest:
        if (self.thread_id is None) == (self.raw_messages is None):
            raise ValueError("give exactly one of thread_id or raw_messages")
        if self.raw_messages and any(len(r) > MAX_RAW_CHARS for r in self.raw_messages):
            raise ValueError(f"a raw message is longer than {MAX_RAW_CHARS} characters")
        return self


class SummaryResponse(ThreadSummary):
    """2-5 cited sentences, action items and dates; ``method`` says whether the model's
    sentences passed the faithfulness check (``abstractive``) or extraction was used."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "thread_id": "t0c1d2e3f4a5b6c7d8e9f",
                    "subject": "Quote for housings",
                    "message_count": 3,
                    "method": "abstractive",
                    "fallback_reason": None,
                    "map_reduce": False,
                    "sentences": [
                        {
                            "text": "ACME quoted 4.12 per unit for 2,000 housings.",
                            "citations": ["m3f9a0c2b7d1e4f5a6b7c"],
                            "similarity": 0.71,
                            "overlap": 0.62,
                        }
                    ],
                    "action_items": [
                        {
                            "text": "Confirm the order by Friday.",
                            "citations": ["m3f9a0c2b7d1e4f5a6b7c"],
                            "due": "Friday",
                        }
                    ],
                    "dates": [],
                    "dropped_sentences": [],
                }
            ]
        }
    )


class SmartReplyRequest(BaseModel):
    """A stored message (``message_id``) or a raw RFC 822 message (not stored)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"message_id": "m3f9a0c2b7d1e4f5a6b7c"},
                {"raw_message": _RAW_EXAMPLE, "now": "2026-11-10T11:00:00+00:00"},
            ]
        },
    )

    message_id: str | None = Field(None, pattern=MESSAGE_ID_PATTERN)
    raw_message: str | None = Field(None, max_length=MAX_RAW_CHARS)
    now: datetime | None = Field(
        None, description="Reference time for calendar checks; default: the clock."
    )

    @field_validator("now")
    @classmethod
    def _sane_now(cls, value: datetime | None) -> datetime | None:
        return check_now(value)

    @model_validator(mode="after")
    def _one_source(self) -> SmartReplyRequest:
        if (self.message_id is None) == (self.raw_message is None):
            raise ValueError("give exactly one of message_id or raw_message")
        return self


class SmartReplyResponse(SmartReplyResult):
    """The trigger decision (``triggered``, ``reason`` code, ``detail``) and up to three chips
    with their intents; meeting chips are checked against the caller's calendar."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "m3f9a0c2b7d1e4f5a6b7c",
                    "triggered": True,
                    "reason": "meeting_request",
                    "detail": "proposes a meeting time",
                    "chips": [
                        {
                            "text": "Thursday at 14:00 works for me.",
                            "intent": "accept",
                            "polarity": "positive",
                            "score": 0.83,
                            "response_id": "meeting_accept",
                        }
                    ],
                    "latency_ms": 18.2,
                    "proposed_time": None,
                    "calendar_check": None,
                }
            ]
        }
    )


class DraftRequest(BaseModel):
    """Draft a full reply to one of the caller's messages."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "message_id": "m3f9a0c2b7d1e4f5a6b7c",
                    "instructions": "Accept, ask for the agenda.",
                }
            ]
        },
    )

    message_id: str = Field(pattern=MESSAGE_ID_PATTERN)
    instructions: str | None = Field(
        None, max_length=500, description="Your direction for the reply, e.g. the chip you chose."
    )

    @field_validator("instructions")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value)


class DraftResponse(BaseModel):
    """The draft and the facts it was grounded in."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "m3f9a0c2b7d1e4f5a6b7c",
                    "draft": "Hi Kenji,\n\nThursday at 14:00 works for me. ...",
                    "calendar_context": "Proposed time: Thu 12 Nov 2026 14:00-15:00 (UTC).",
                    "latency_ms": 2140.5,
                }
            ]
        }
    )

    message_id: str
    draft: str
    calendar_context: str = Field(description="What the calendar said about a proposed time.")
    latency_ms: float
