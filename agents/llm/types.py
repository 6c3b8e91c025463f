"""The one interface every chat runtime implements, and the plain data it exchanges.

A runtime turns chat messages (role/content dicts, already rendered from LangChain messages by
:mod:`agents.llm.chat_model`) into text. Everything LangChain-shaped lives in the adapter, so a
runtime stays small: transformers, llama.cpp and an OpenAI-compatible server each implement
:class:`ChatRuntime` and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "cancelled"]

#: Extra tokens a structured (JSON-schema) generation may spend past ``max_tokens`` to close the
#: JSON it has started. Past ``max_tokens`` the runtimes bias decoding towards closing quotes and
#: brackets, so this is rarely used up; it exists so a truncated, invalid document is never the
#: silent result of a short budget.
STRUCTURED_OVERRUN_TOKENS = 192


class ChatMessage(TypedDict):
    """One chat turn as the runtimes see it (the chat template renders it)."""

    role: Role
    content: str


@dataclass(frozen=True)
class GenerationConfig:
    """How to decode one completion.

    ``temperature == 0`` means greedy decoding. ``json_schema`` switches on constrained decoding:
    the output is then a JSON document valid against that schema.
    """

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None

    @property
    def greedy(self) -> bool:
        """Whether decoding picks the most likely token each step."""
        return self.temperature <= 0.0

    @property
    def token_limit(self) -> int:
        """Hard cap on generated tokens (structured output may overrun ``max_tokens`` to close)."""
        if self.json_schema is not None:
            return self.max_tokens + STRUCTURED_OVERRUN_TOKENS
        return self.max_tokens

    def with_overrides(self, **changes: Any) -> GenerationConfig:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass
class Usage:
    """Token counts and timings of one generation."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Seconds from the call until the first generated token was known (prefill + one step).
    time_to_first_token_s: float = 0.0
    #: Seconds spent on the prompt (prefill); equals TTFT minus one sampling step in practice.
    prefill_s: float = 0.0
    #: Seconds spent generating tokens after the first one.
    decode_s: float = 0.0

    @property
    def decode_tokens_per_s(self) -> float:
        """Generated tokens per second after the first token."""
        n = self.completion_tokens - 1
        return n / self.decode_s if n > 0 and self.decode_s > 0 else 0.0

    @property
    def prompt_tokens_per_s(self) -> float:
        """Prompt tokens processed per second during prefill."""
        return self.prompt_tokens / self.prefill_s if self.prefill_s > 0 else 0.0


@dataclass
class StreamDelta:
    """A piece of a streamed completion; the last one has ``finish_reason`` and ``usage`` set."""

    text: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


@dataclass
class Completion:
    """A whole completion."""

    text: str
    finish_reason: FinishReason
    usage: Usage = field(default_factory=Usage)


@runtime_checkable
class ChatRuntime(Protocol):
    """A loaded chat model that can stream completions.

    Implementations must be safe to call from several threads: they queue generations behind a
    bounded gate (``settings.llm.max_concurrency``) instead of running them all at once.
    ``cancel`` is checked between tokens; closing the iterator returned by :meth:`stream` also
    stops the generation and frees its slot.
    """

    #: Runtime kind: ``transformers``, ``llamacpp``, ``openai`` or ``fake``.
    kind: str
    #: Registered model name (or the server-side model name for ``openai``).
    model_name: str

    def stream(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamDelta]:
        """Yield text deltas; the last delta carries the finish reason and usage."""
        ...

    def generate(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """Return the whole completion."""
        ...

    def close(self) -> None:
        """Free the model (weights, sockets). The runtime is unusable afterwards."""
        ...


def collect(deltas: Iterator[StreamDelta]) -> Completion:
    """Join a delta stream into one :class:`Completion`."""
    parts: list[str] = []
    finish: FinishReason = "stop"
    usage = Usage()
    for delta in deltas:
        parts.append(delta.text)
        if delta.finish_reason is not None:
            finish = delta.finish_reason
        if delta.usage is not None:
            usage = delta.usage
    return Completion(text="".join(parts), finish_reason=finish, usage=usage)


class StreamingRuntime:
    """Base of the runtimes: :meth:`generate` is :meth:`stream` collected, so cancellation and
    usage accounting behave the same either way."""

    def stream(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamDelta]:
        """Yield text deltas; the last delta carries the finish reason and usage."""
        raise NotImplementedError

    def generate(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """The whole completion (streamed underneath)."""
        return collect(self.stream(messages, config, cancel=cancel))
