"""OpenAI-compatible wire shapes: ``/v1/chat/completions`` and ``/v1/models``.

Only what OpenAI SDK clients send and read is modelled; unknown request fields (``temperature``,
``max_tokens``, ...) are accepted and ignored, as the assistant decides its own decoding.
mailmind's additions (``citations``, ``conversation_id``) ride along as extra fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.http.schemas.chat import (
    CONVERSATION_ID_PATTERN,
    MAX_CONTENT_CHARS,
    Citation,
    check_text,
)

#: The one model this server offers: the assistant graph.
MODEL_ID = "mailmind-assistant"


class ContentPart(BaseModel):
    """A content part; only text parts are understood."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["text"])
    text: str | None = Field(None, max_length=MAX_CONTENT_CHARS)


class OpenAIMessage(BaseModel):
    """One message of an OpenAI chat request."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"] = Field(examples=["user"])
    content: str | list[ContentPart] | None = Field(
        None, examples=["What did ACME quote for housings?"]
    )

    @property
    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""

    @field_validator("content")
    @classmethod
    def _bounded(cls, value: str | list[ContentPart] | None) -> str | list[ContentPart] | None:
        if isinstance(value, str):
            if len(value) > MAX_CONTENT_CHARS:
                raise ValueError(f"content is longer than {MAX_CONTENT_CHARS} characters")
            check_text(value)
        return value


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``: the last user message is asked."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": MODEL_ID,
                    "messages": [{"role": "user", "content": "What did ACME quote for housings?"}],
                    "stream": False,
                }
            ]
        },
    )

    model: str = Field(examples=[MODEL_ID])
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=50)
    stream: bool = Field(False, description="Stream `chat.completion.chunk` events.")
    conversation_id: str | None = Field(
        None,
        pattern=CONVERSATION_ID_PATTERN,
        description="mailmind extension (SDK: `extra_body`): continue this conversation's memory.",
    )

    @model_validator(mode="after")
    def _last_is_question(self) -> ChatCompletionRequest:
        last = self.messages[-1]
        if last.role != "user":
            raise ValueError("the last message must be the user's question (role 'user')")
        if not last.text.strip():
            raise ValueError("the question is empty")
        check_text(last.text)
        return self

    @property
    def question(self) -> str:
        """The last user message's text."""
        return self.messages[-1].text.strip()


class AssistantMessage(BaseModel):
    """The answer message."""

    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    """The one choice of a completion."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"


class ChatCompletion(BaseModel):
    """A non-streamed completion (``object: chat.completion``) plus mailmind's citations."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "chatcmpl-9f1c2a7b5e3d",
                    "object": "chat.completion",
                    "created": 1794000000,
                    "model": MODEL_ID,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "ACME quoted 4.12 ..."},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": None,
                    "citations": [{"id": "m3f9a0c2b7d1e4f5a6b7c", "kind": "message"}],
                    "conversation_id": "9f1c2a7b5e3d",
                }
            ]
        }
    )

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: dict[str, int] | None = Field(
        default=None, description="Not reported: the assistant runs several generations per answer."
    )
    citations: list[Citation] = Field(default_factory=list)
    conversation_id: str


class ChunkDelta(BaseModel):
    """What a stream chunk adds."""

    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    """The one choice of a stream chunk."""

    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    """One ``data:`` event of a streamed completion; the last carries the citations."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "chatcmpl-9f1c2a7b5e3d",
                    "object": "chat.completion.chunk",
                    "created": 1794000000,
                    "model": MODEL_ID,
                    "choices": [{"index": 0, "delta": {"content": "ACME quoted"}}],
                }
            ]
        }
    )

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    citations: list[Citation] | None = None
    conversation_id: str | None = None


class ModelCard(BaseModel):
    """One model (``GET /v1/models``)."""

    id: str = Field(examples=[MODEL_ID])
    object: Literal["model"] = "model"
    created: int = Field(examples=[1794000000])
    owned_by: str = Field(default="mailmind", examples=["mailmind"])


class ModelList(BaseModel):
    """``GET /v1/models``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "list",
                    "data": [
                        {
                            "id": MODEL_ID,
                            "object": "model",
                            "created": 1794000000,
                            "owned_by": "mailmind",
                        }
                    ],
                }
            ]
        }
    )

    object: Literal["list"] = "list"
    data: list[ModelCard]
