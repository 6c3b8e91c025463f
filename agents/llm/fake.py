"""Scripted stand-ins for unit tests and offline demos: no weights, no threads, deterministic.

* :class:`FakeChatModel` — a LangChain chat model that returns scripted ``AIMessage`` s (tool calls
  included) and records what it was asked. Use it wherever a graph takes a chat model::

      model = FakeChatModel(responses=[
          AIMessage("", tool_calls=[{"name": "search_mailbox", "args": {"query": "invoice"},
                                     "id": "call_1"}]),
          "Found 2 invoices from ACME.",
      ])
      graph = build_graph(model, tools)
      ...
      assert model.calls[1][-1].type == "tool"   # the second call saw the tool result

* :class:`FakeChatRuntime` — a :class:`~agents.llm.types.ChatRuntime` that streams scripted texts;
  wrap it in :class:`~agents.llm.chat_model.MailmindChatModel` to test the adapter itself.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from agents.llm.chat_model import StructuredChatMixin
from agents.llm.types import (
    ChatMessage,
    GenerationConfig,
    StreamDelta,
    StreamingRuntime,
    Usage,
)

#: A scripted response: a message, plain text, or a function of the conversation.
Scripted = AIMessage | str | Callable[[list[BaseMessage]], AIMessage | str]


class FakeChatModel(StructuredChatMixin, BaseChatModel):  # type: ignore[misc]
    """Chat model that replies from a script, in order.

    * ``responses``: ``AIMessage`` (tool calls allowed; missing ids are filled in), ``str`` (becomes
      ``AIMessage(content=...)``), or a callable taking the messages and returning either.
    * ``cycle``: start over when the script runs out (default: raise ``IndexError``).
    * ``calls`` / ``call_kwargs``: what each call received (messages; bound tools, schema...).

    ``with_structured_output`` parses the scripted content as JSON into the schema (or takes the
    first tool call's args), so scripts for structured nodes are JSON strings or dicts' dumps.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responses: list[Any] = Field(default_factory=list)
    cycle: bool = False
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    call_kwargs: list[dict[str, Any]] = Field(default_factory=list)
    _index: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "mailmind-fake"

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        with self._lock:
            self.calls.append(list(messages))
            self.call_kwargs.append(dict(kwargs))
            if self._index >= len(self.responses):
                if not self.cycle or not self.responses:
                    raise IndexError(
                        f"FakeChatModel script exhausted after {len(self.responses)} responses"
                    )
                self._index = 0
            item = self.responses[self._index]
            self._index += 1
        if callable(item) and not isinstance(item, AIMessage):
            item = item(list(messages))
        if isinstance(item, str):
            return AIMessage(content=item)
        if not isinstance(item, AIMessage):
            raise TypeError(f"scripted response must be AIMessage or str, got {type(item)!r}")
        calls = [
            {**c, "id": c.get("id") or f"call_{uuid.uuid4().hex[:12]}"} for c in item.tool_calls
        ]
        msg = item.model_copy(update={"tool_calls": calls})
        if "json_schema" in kwargs and not msg.content and calls:
            # A structured call scripted as a tool call: its args are the answer.
            msg = AIMessage(content=json.dumps(calls[0]["args"]))
        return msg

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        msg = self._next(messages, kwargs)
        text = msg.content if isinstance(msg.content, str) else json.dumps(msg.content)
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == len(words) - 1 else word + " "
            if piece:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager is not None:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                tool_call_chunks=[
                    tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
                    for i, c in enumerate(msg.tool_calls)
                ],
                chunk_position="last",
            )
        )

    def reset(self) -> None:
        """Rewind the script and forget recorded calls."""
        with self._lock:
            self._index = 0
            self.calls.clear()
            self.call_kwargs.clear()


class FakeChatRuntime(StreamingRuntime):
    """A :class:`~agents.llm.types.ChatRuntime` streaming scripted texts, one per generation.

    ``texts`` items may be callables of ``(messages, config)``. Each text is streamed in pieces
    of ``chunk_chars`` characters. ``requests`` records what each call received. With
    ``honour_stop`` the scripted text is cut at the first stop sequence, like a real runtime.
    """

    kind = "fake"

    def __init__(
        self,
        texts: Sequence[str | Callable[[Sequence[ChatMessage], GenerationConfig], str]],
        *,
        model_name: str = "fake",
        chunk_chars: int = 4,
        cycle: bool = False,
        honour_stop: bool = True,
    ) -> None:
        self.texts = list(texts)
        self.model_name = model_name
        self.chunk_chars = chunk_chars
        self.cycle = cycle
        self.honour_stop = honour_stop
        self.requests: list[tuple[list[ChatMessage], GenerationConfig]] = []
        self.cancelled = 0
        self._index = 0
        self._lock = threading.Lock()

    def _script(self, messages: Sequence[ChatMessage], config: GenerationConfig) -> str:
        with self._lock:
            self.requests.append((list(messages), config))
            if self._index >= len(self.texts):
                if not self.cycle or not self.texts:
                    raise IndexError(f"FakeChatRuntime script exhausted after {len(self.texts)}")
                self._index = 0
            item = self.texts[self._index]
            self._index += 1
        return item(messages, config) if callable(item) else item

    def stream(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamDelta]:
        """Stream the next scripted text."""
        text = self._script(messages, config)
        finish: Any = "stop"
        if self.honour_stop:
            cuts = [i for s in config.stop if s and (i := text.find(s)) >= 0]
            if cuts:
                text = text[: min(cuts)]
        sent = 0
        for start in range(0, len(text), self.chunk_chars):
            if cancel is not None and cancel.is_set():
                self.cancelled += 1
                finish = "cancelled"
                break
            piece = text[start : start + self.chunk_chars]
            sent += 1
            yield StreamDelta(piece)
        usage = Usage(
            prompt_tokens=sum(len(m["content"].split()) for m in messages), completion_tokens=sent
        )
        yield StreamDelta("", finish_reason=finish, usage=usage)

    def close(self) -> None:
        """Nothing to free."""
