"""Runtime that talks to any OpenAI-compatible chat completions server (vLLM, llama.cpp server,
Ollama, TGI, OpenAI) over httpx, streaming with server-sent events.

Structured output is sent as OpenAI's ``response_format={"type": "json_schema", ...}``. Servers
that only know the older ``{"type": "json_object", "schema": ...}`` form (llama-cpp-python's
server) reject it; the runtime then retries once in that form and remembers the choice.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import httpx

from agents.llm.structured import strict_schema
from agents.llm.types import (
    ChatMessage,
    Completion,
    FinishReason,
    GenerationConfig,
    StreamDelta,
    StreamingRuntime,
    Usage,
)
from core.errors import ConfigError, ModelError
from core.settings import LLMSettings

_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "stop"}


class OpenAIRuntime(StreamingRuntime):
    """:class:`~agents.llm.types.ChatRuntime` over an OpenAI-compatible HTTP server.

    Concurrency is left to the server (it batches); the client only bounds connections.
    """

    kind = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        model_name: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_connections: int = 8,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.model_name = model_name
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=max_connections),
            transport=transport,
        )
        self._schema_style: Literal["json_schema", "json_object"] = "json_schema"
        self.load_info: dict[str, Any] = {"load_s": 0.0, "converted": False}

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> OpenAIRuntime:
        """Build from ``MAILMIND_LLM__BASE_URL`` / ``API_KEY`` / ``SERVER_MODEL``."""
        if not settings.base_url:
            raise ConfigError("the openai runtime needs MAILMIND_LLM__BASE_URL")
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return cls(
            settings.base_url,
            model_name=settings.server_model or settings.model,
            api_key=key,
            timeout_s=settings.request_timeout_s,
            max_connections=max(8, settings.max_concurrency),
        )

    def _payload(self, messages: Sequence[ChatMessage], config: GenerationConfig) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model_name,
            "messages": list(messages),
            "max_tokens": config.token_limit,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "stream": True,
            # Ask for usage in the last chunk (OpenAI, vLLM); servers that ignore it are fine.
            "stream_options": {"include_usage": True},
        }
        if config.top_k > 0:
            payload["top_k"] = config.top_k
        if config.seed is not None:
            payload["seed"] = config.seed
        if config.stop:
            payload["stop"] = list(config.stop)
        if config.json_schema is not None:
            schema = strict_schema(config.json_schema)
            if self._schema_style == "json_schema":
                payload["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": str(schema.get("title", "output"))[:64],
                        "schema": schema,
                        "strict": True,
                    },
                }
            else:
                payload["response_format"] = {"type": "json_object", "schema": schema}
        return payload

    def stream(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamDelta]:
        """Stream a completion from the server; closing the iterator closes the connection."""
        started = time.perf_counter()
        for attempt in range(2):
            payload = self._payload(messages, config)
            try:
                with self._client.stream("POST", "/chat/completions", json=payload) as response:
                    if response.status_code >= 400:
                        body = response.read().decode("utf-8", errors="replace")
                        # Some servers reject the json_schema form with a 4xx, some (llama-cpp-
                        # python) with a 500 naming the field: retry once in the older form.
                        if (
                            attempt == 0
                            and config.json_schema is not None
                            and self._schema_style == "json_schema"
                            and (response.status_code in (400, 422) or "response_format" in body)
                        ):
                            self._schema_style = "json_object"
                            continue
                        raise ModelError(
                            f"{self.base_url} answered {response.status_code}: {body[:500]}"
                        )
                    yield from self._read_sse(response, config, cancel, started)
                    return
            except httpx.HTTPError as exc:
                raise ModelError(f"OpenAI-compatible server {self.base_url} failed: {exc}") from exc

    def _read_sse(
        self,
        response: httpx.Response,
        config: GenerationConfig,
        cancel: threading.Event | None,
        started: float,
    ) -> Iterator[StreamDelta]:
        usage = Usage()
        finish: FinishReason = "stop"
        first_at = 0.0
        pieces = 0
        for line in response.iter_lines():
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ModelError(f"bad SSE chunk from {self.base_url}: {data[:200]!r}") from exc
            if "error" in chunk:
                raise ModelError(f"{self.base_url} stream error: {chunk['error']}")
            if chunk.get("usage"):
                usage.prompt_tokens = int(chunk["usage"].get("prompt_tokens") or 0)
                usage.completion_tokens = int(chunk["usage"].get("completion_tokens") or 0)
            for choice in chunk.get("choices") or []:
                text = (choice.get("delta") or {}).get("content") or ""
                if text:
                    if not first_at:
                        first_at = time.perf_counter()
                        usage.time_to_first_token_s = first_at - started
                        usage.prefill_s = usage.time_to_first_token_s
                    pieces += 1
                    yield StreamDelta(text)
                reason = choice.get("finish_reason")
                if reason:
                    finish = _FINISH.get(reason, "stop")
        if first_at:
            usage.decode_s = time.perf_counter() - first_at
        if not usage.completion_tokens:
            # Servers without usage in streams: one content chunk is (about) one token.
            usage.completion_tokens = pieces
        yield StreamDelta("", finish_reason=finish, usage=usage)

    def generate(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """The whole completion. A server that accepts the ``json_schema`` form but ignores it
        (llama-cpp-python's server validates ``response_format`` loosely) is caught here: when
        the text is not JSON, the ``json_object`` form is tried once and kept if it is."""
        done = super().generate(messages, config, cancel=cancel)
        if config.json_schema is None or self._schema_style != "json_schema" or _is_json(done.text):
            return done
        self._schema_style = "json_object"
        try:
            retry = super().generate(messages, config, cancel=cancel)
        except ModelError:
            retry = None
        if retry is None or not _is_json(retry.text):
            self._schema_style = "json_schema"  # no better: keep the standard form
            return done
        return retry

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
