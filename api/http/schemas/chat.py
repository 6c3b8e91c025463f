"""``POST /v1/chat``: the request, the JSON answer, and the Server-Sent Events it can stream."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Conversation ids: what a client may safely choose (they become part of a checkpoint key).
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: Longest message the assistant accepts (the small model's context is far shorter anyway).
MAX_CONTENT_CHARS = 8000
#: Control characters other than tab and newlines, and lone surrogates (JSON can carry them,
#: no encoder or tokenizer wants them), have no place in client text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
#: Times the clock override may take (astimezone() overflows near year 1 and 9999).
_EARLIEST, _LATEST = datetime(1971, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)

CitationKind = Literal["message", "thread", "event", "contact"]


def check_text(value: str) -> str:
    """Reject control characters (other than tab and newlines) in client text."""
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def check_now(value: datetime | None) -> datetime | None:
    """A clock override between 1971 and 2200 (naive times are read as UTC)."""
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not _EARLIEST <= aware <= _LATEST:
        raise ValueError("must lie between 1971 and 2200")
    return aware


def check_timezone(value: str | None) -> str | None:
    """An IANA zone name that exists here, or ``None``."""
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}, e.g. 'Europe/Berlin'") from None
    return value


class ChatMessage(BaseModel):
    """One turn sent by the client."""

    role: Literal["system", "user", "assistant"] = Field(examples=["user"])
    content: str = Field(
        max_length=MAX_CONTENT_CHARS, examples=["When is the site visit with Kenji?"]
    )

    @field_validator("content")
    @classmethod
    def _no_control(cls, value: str) -> str:
        return check_text(value)


class ChatRequest(BaseModel):
    """A question for the assistant.

    Only the last message (which must be the user's) is asked: earlier turns live in the
    server's conversation memory, keyed by ``conversation_id`` under the caller's user.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "messages": [{"role": "user", "content": "What did ACME quote for housings?"}],
                    "conversation_id": "kitchen-42",
                    "now": "2026-11-12T09:00:00+01:00",
                    "timezone": "Europe/Berlin",
                }
            ]
        },
    )

    messages: list[ChatMessage] = Field(min_length=1, max_length=50)
    conversation_id: str | None = Field(
        None,
        pattern=CONVERSATION_ID_PATTERN,
        description="Continue this conversation (letters, digits, `.`, `_`, `-`; at most 64). "
        "A new id is made when absent and returned in the answer.",
        examples=["kitchen-42"],
    )
    now: datetime | None = Field(
        None, description="Pretend it is this time (demos, evals); default: the clock."
    )
    timezone: str | None = Field(
        None, description="Your IANA time zone for dates in answers.", examples=["Europe/Berlin"]
    )

    @field_validator("now")
    @classmethod
    def _sane_now(cls, value: datetime | None) -> datetime | None:
        return check_now(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return check_timezone(value)

    @model_validator(mode="after")
    def _last_is_question(self) -> ChatRequest:
        last = self.messages[-1]
        if last.role != "user":
            raise ValueError("the last message must be the user's question (role 'user')")
        if not last.content.strip():
            raise ValueError("the question is empty")
        return self

    @property
    def question(self) -> str:
        """The user's question: the last message."""
        return self.messages[-1].content.strip()


class Citation(BaseModel):
    """A source the answer cites: an id of the caller's own data and what it is."""

    id: str = Field(examples=["m3f9a0c2b7d1e4f5a6b7c"])
    kind: CitationKind = Field(examples=["message"])
    description: str = Field(
        "", examples=["Re: Quote — José Martínez, Tue 04 Nov 2026: housings at 4.12 per unit"]
    )


class ToolCallView(BaseModel):
    """One tool the assistant called for this answer."""

    name: str = Field(examples=["search_mailbox"])
    args: dict[str, Any] = Field(examples=[{"query": "housing quote"}])
    ok: bool = Field(examples=[True])
    result_chars: int = Field(examples=[812])


class ChatResponse(BaseModel):
    """The assistant's answer (also the data of the final ``done`` event of a stream)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answer": "ACME quoted 4.12 per unit [m3f9a0c2b7d1e4f5a6b7c].",
                    "citations": [
                        {
                            "id": "m3f9a0c2b7d1e4f5a6b7c",
                            "kind": "message",
                            "description": "Re: Quote — José Martínez, Tue 04 Nov 2026: ...",
                        }
                    ],
                    "tool_calls": [
                        {
                            "name": "search_mailbox",
                            "args": {"query": "housing quote"},
                            "ok": True,
                            "result_chars": 812,
                        }
                    ],
                    "conversation_id": "kitchen-42",
                    "steps": 1,
                    "latency_s": 2.41,
                }
            ]
        }
    )

    answer: str
    citations: list[Citation]
    tool_calls: list[ToolCallView]
    conversation_id: str
    steps: int
    latency_s: float


#: The ``event:`` names of a chat stream, in the order they can appear.
ChatEventName = Literal["node", "tool_call", "tool_result", "token", "done", "error"]

#: Documented in the route's OpenAPI entry: what a ``text/event-stream`` answer looks like.
SSE_EXAMPLE = (
    'event: node\ndata: {"node": "route"}\n\n'
    'event: tool_call\ndata: {"name": "search_mailbox", "args": {"query": "quote"}}\n\n'
    'event: tool_result\ndata: {"name": "search_mailbox", "chars": 812, "ok": true}\n\n'
    'event: token\ndata: {"text": "ACME"}\n\n'
    'event: done\ndata: {"answer": "...", "citations": [...], "conversation_id": "kitchen-42"}\n\n'
)
