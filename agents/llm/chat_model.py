"""LangChain ``BaseChatModel`` over any :class:`~agents.llm.types.ChatRuntime`.

LangGraph nodes take :class:`MailmindChatModel` as is: ``invoke``/``stream``/``ainvoke``/
``astream``, ``bind_tools`` and ``with_structured_output`` all work, on every runtime.

Tools are rendered into the system prompt (small open models have no native tool API, and one
format keeps the runtimes interchangeable) and a call is written as
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``. With ``tool_choice`` ``"any"``/
``"required"`` or a tool name, decoding is constrained to that JSON shape, so the call is always
well-formed; with ``"auto"`` the model may answer in prose and calls are parsed from the text.

``with_structured_output`` defaults to ``method="json_schema"``: decoding is constrained by the
schema underneath, so the result always parses and validates.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, Literal, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field

from agents.llm.structured import json_schema_for, tool_call_schema
from agents.llm.types import ChatMessage, ChatRuntime, GenerationConfig, StreamDelta, Usage
from core.tracing import in_current_context, traced_generation

ToolLike = dict[str, Any] | type | Callable[..., Any] | BaseTool
ToolChoice = Literal["auto", "any", "required", "none"] | str | bool | dict[str, Any] | None

_TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)

_TOOLS_PROMPT = """You can call these tools (JSON schemas):
<tools>
{tools}
</tools>
To call a tool, answer with only:
<tool_call>{{"name": "<tool name>", "arguments": {{...}}}}</tool_call>"""

_SCHEMA_PROMPT = "Answer with one JSON object that matches this JSON schema:\n{schema}"


# -- message conversion -------------------------------------------------------------------------


def _text(content: str | list[str | dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def render_tool_call(call: ToolCall) -> str:
    """The text form of a tool call the model is taught (and parsed back from)."""
    payload = {"name": call["name"], "arguments": call["args"]}
    return f"<tool_call>{json.dumps(payload, ensure_ascii=False)}</tool_call>"


def to_chat_messages(
    messages: Sequence[BaseMessage],
    *,
    tools: list[dict[str, Any]] | None = None,
    json_schema: dict[str, Any] | None = None,
    schema_in_prompt: bool = True,
) -> list[ChatMessage]:
    """Flatten LangChain messages into role/content turns for a chat template."""
    out: list[ChatMessage] = []
    for msg in messages:
        text = _text(msg.content)
        if isinstance(msg, SystemMessage):
            out.append({"role": "system", "content": text})
        elif isinstance(msg, AIMessage):
            calls = "\n".join(render_tool_call(c) for c in msg.tool_calls)
            out.append({"role": "assistant", "content": "\n".join(p for p in (text, calls) if p)})
        elif isinstance(msg, ToolMessage):
            # Tool results go back as a user turn: chat templates of small models know no
            # "tool" role, and the tag keeps the result marked as data.
            name = msg.name or "tool"
            out.append(
                {
                    "role": "user",
                    "content": f"<tool_response name={name!r}>\n{text}\n</tool_response>",
                }
            )
        elif isinstance(msg, HumanMessage):
            out.append({"role": "user", "content": text})
        else:
            out.append({"role": "user", "content": text})
    extra: list[str] = []
    if tools:
        specs = "\n".join(json.dumps(t.get("function", t), ensure_ascii=False) for t in tools)
        extra.append(_TOOLS_PROMPT.format(tools=specs))
    if json_schema is not None and schema_in_prompt:
        extra.append(_SCHEMA_PROMPT.format(schema=json.dumps(json_schema, ensure_ascii=False)))
    if extra:
        addition = "\n\n".join(extra)
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{addition}"}
        else:
            out.insert(0, {"role": "system", "content": addition})
    return out


def _new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def parse_tool_calls(text: str, tools: list[dict[str, Any]]) -> tuple[str, list[ToolCall]]:
    """Split model text into prose and calls to bound tools (unknown names stay text)."""
    names = {t.get("function", t)["name"] for t in tools}
    calls: list[ToolCall] = []

    def as_call(raw: str) -> ToolCall | None:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict) or data.get("name") not in names:
            return None
        args = data.get("arguments", data.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                return None
        if not isinstance(args, dict):
            return None
        return ToolCall(name=data["name"], args=args, id=_new_call_id(), type="tool_call")

    def replace(match: re.Match[str]) -> str:
        call = as_call(match.group(1))
        if call is None:
            return match.group(0)
        calls.append(call)
        return ""

    prose = _TOOL_CALL_RE.sub(replace, text).strip()
    if not calls and prose.startswith("{"):
        # Some models answer with the bare JSON object instead of the tag.
        call = as_call(prose)
        if call is not None:
            return "", [call]
    return prose, calls


def _forced_tool(tool_choice: ToolChoice, tools: list[dict[str, Any]]) -> tuple[bool, str | None]:
    """(constrain to a tool call?, only this tool name)."""
    if tool_choice in (None, "auto", False, "none"):
        return False, None
    if tool_choice in ("any", "required", True):
        return True, None
    if isinstance(tool_choice, dict):
        return True, str(tool_choice.get("function", tool_choice)["name"])
    if isinstance(tool_choice, str):
        return True, tool_choice
    return False, None


# -- the chat model -----------------------------------------------------------------------------


class StructuredChatMixin:
    """``bind_tools`` and ``with_structured_output`` shared by the real and the fake chat model."""

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: ToolChoice = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, pydantic models, functions or OpenAI dicts)."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        model = cast(BaseChatModel, self)
        return model.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema",
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable returning ``schema`` instances (pydantic) or dicts, decoded under the schema.

        ``method="function_calling"`` goes through ``bind_tools`` with a forced tool call
        (also constrained); ``json_schema``/``json_mode`` constrain the answer text itself.
        """
        model = cast(BaseChatModel, self)
        if method == "function_calling":
            return BaseChatModel.with_structured_output(
                model, schema, include_raw=include_raw, **kwargs
            )
        js = json_schema_for(schema)
        llm = model.bind(
            json_schema=js,
            ls_structured_output_format={"kwargs": {"method": method}, "schema": js},
        )
        parser: Runnable[Any, Any]
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            parser = PydanticOutputParser(pydantic_object=schema)
        else:
            parser = JsonOutputParser()
        if not include_raw:
            return llm | parser
        parser_assign = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
        with_fallback = parser_assign.with_fallbacks([parser_none], exception_key="parsing_error")
        return RunnableMap(raw=llm) | with_fallback


def _usage_metadata(usage: Usage) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.prompt_tokens + usage.completion_tokens,
    )


class MailmindChatModel(StructuredChatMixin, BaseChatModel):  # type: ignore[misc]
    """A LangChain chat model backed by a mailmind :class:`ChatRuntime`.

    Build it with :func:`agents.llm.get_chat_model` (from settings) or directly:
    ``MailmindChatModel(runtime=my_runtime, max_tokens=128)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    runtime: Any = Field(exclude=True)
    """The :class:`~agents.llm.types.ChatRuntime` doing the work."""
    max_tokens: int = 256
    """Tokens to generate at most (structured output may overrun a little to close the JSON)."""
    temperature: float = 0.0
    """0 = greedy decoding."""
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: list[str] | None = None
    """Default stop sequences (merged with per-call ``stop``)."""
    schema_in_prompt: bool = True
    """Also describe the JSON schema in the system prompt for structured output (helps content;
    validity comes from constrained decoding either way)."""

    @property
    def _llm_type(self) -> str:
        return f"mailmind-{getattr(self.runtime, 'kind', 'runtime')}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "runtime": getattr(self.runtime, "kind", None),
            "model_name": getattr(self.runtime, "model_name", None),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def _config(self, stop: list[str] | None, kwargs: dict[str, Any]) -> GenerationConfig:
        stops = tuple(dict.fromkeys([*(self.stop or []), *(stop or []), *kwargs.get("stop", [])]))
        return GenerationConfig(
            max_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
            temperature=float(kwargs.get("temperature", self.temperature)),
            top_p=float(kwargs.get("top_p", self.top_p)),
            top_k=int(kwargs.get("top_k", self.top_k)),
            seed=kwargs.get("seed", self.seed),
            stop=stops,
            json_schema=kwargs.get("json_schema"),
        )

    def _chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        cancel: threading.Event | None,
        kwargs: dict[str, Any],
    ) -> Iterator[ChatGenerationChunk]:
        """The one generation path behind invoke/stream/ainvoke/astream."""
        tools: list[dict[str, Any]] = list(kwargs.get("tools") or [])
        tool_choice: ToolChoice = kwargs.get("tool_choice")
        if tool_choice == "none":
            tools = []
        config = self._config(stop, kwargs)
        forced, only = _forced_tool(tool_choice, tools) if tools else (False, None)
        if forced:
            config = config.with_overrides(json_schema=tool_call_schema(tools, only), stop=())
        chat = to_chat_messages(
            messages,
            tools=tools or None,
            json_schema=config.json_schema if not forced else None,
            schema_in_prompt=self.schema_in_prompt,
        )
        runtime = cast(ChatRuntime, self.runtime)
        meta = {"model_name": runtime.model_name, "runtime": runtime.kind}
        deltas = traced_generation(
            runtime.stream(chat, config, cancel=cancel), model=runtime.model_name,
            provider=runtime.kind, max_tokens=config.max_tokens, temperature=config.temperature,
        )  # fmt: skip
        try:
            if not tools:
                for delta in deltas:
                    yield self._chunk(delta, meta)
                return
            # With tools the text must be seen whole before it is known to be a call.
            parts: list[str] = []
            last = StreamDelta("")
            for delta in deltas:
                parts.append(delta.text)
                last = delta
            text = "".join(parts)
            if forced:
                data = json.loads(text)
                calls = [
                    ToolCall(
                        name=data["name"],
                        args=data["arguments"],
                        id=_new_call_id(),
                        type="tool_call",
                    )
                ]
                prose = ""
            else:
                prose, calls = parse_tool_calls(text, tools)
            usage = last.usage or Usage()
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content=prose,
                    tool_call_chunks=[
                        tool_call_chunk(
                            name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i
                        )
                        for i, c in enumerate(calls)
                    ],
                    usage_metadata=_usage_metadata(usage),
                    response_metadata={
                        **meta,
                        "finish_reason": "tool_calls" if calls else last.finish_reason,
                    },
                    chunk_position="last",
                )
            )
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _chunk(delta: StreamDelta, meta: dict[str, Any]) -> ChatGenerationChunk:
        if delta.finish_reason is None:
            return ChatGenerationChunk(message=AIMessageChunk(content=delta.text))
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content=delta.text,
                usage_metadata=_usage_metadata(delta.usage or Usage()),
                response_metadata={**meta, "finish_reason": delta.finish_reason},
                chunk_position="last",
            )
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._chunks(messages, stop, None, kwargs))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, stop, None, kwargs):
            if run_manager is not None and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # The runtime is synchronous: drive it from a worker thread and hand chunks over through
        # a queue. If the consumer goes away (task cancelled, generator closed) the cancel event
        # stops the decode at the next token and frees the generation slot.
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ChatGenerationChunk | BaseException | None] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: ChatGenerationChunk | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # loop already closed: nobody is listening
                cancel.set()

        def worker() -> None:
            try:
                for chunk in self._chunks(messages, stop, cancel, kwargs):
                    if cancel.is_set():
                        break
                    put(chunk)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
                put(exc)
            finally:
                put(None)

        # In the caller's context, so the generation span nests under the caller's span.
        thread = threading.Thread(
            target=in_current_context(worker), name="mailmind-llm-astream", daemon=True
        )
        thread.start()
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                if run_manager is not None and item.text:
                    await run_manager.on_llm_new_token(item.text, chunk=item)
                yield item
        finally:
            cancel.set()

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = [c async for c in self._astream(messages, stop, None, **kwargs)]
        return generate_from_stream(iter(chunks))
