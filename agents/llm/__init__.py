"""LLM runtimes, the model registry and the LangChain adapter.

Typical use::

    from agents.llm import get_chat_model
    model = get_chat_model(settings)                 # BaseChatModel, runtime chosen by settings
    model.invoke("Summarise: ...")
    model.with_structured_output(Summary).invoke(...)  # always a valid Summary

    from agents.llm import load_runtime, GenerationConfig
    runtime = load_runtime(settings)                 # the raw ChatRuntime (no LangChain)

Submodules are imported lazily, so ``import agents.llm`` loads neither torch nor LangChain.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.llm.chat_model import MailmindChatModel
    from agents.llm.fake import FakeChatModel, FakeChatRuntime
    from agents.llm.registry import DEFAULT_MODEL, ModelRegistry, ModelSpec, ResolvedModel
    from agents.llm.runtimes import choose_runtime, load_runtime
    from agents.llm.structured import json_schema_for
    from agents.llm.types import ChatMessage, ChatRuntime, Completion, GenerationConfig, StreamDelta
    from core.settings import Settings

_EXPORTS = {
    "MailmindChatModel": "agents.llm.chat_model",
    "FakeChatModel": "agents.llm.fake",
    "FakeChatRuntime": "agents.llm.fake",
    "DEFAULT_MODEL": "agents.llm.registry",
    "ModelRegistry": "agents.llm.registry",
    "ModelSpec": "agents.llm.registry",
    "ResolvedModel": "agents.llm.registry",
    "choose_runtime": "agents.llm.runtimes",
    "load_runtime": "agents.llm.runtimes",
    "json_schema_for": "agents.llm.structured",
    "ChatMessage": "agents.llm.types",
    "ChatRuntime": "agents.llm.types",
    "Completion": "agents.llm.types",
    "GenerationConfig": "agents.llm.types",
    "StreamDelta": "agents.llm.types",
}

__all__ = [
    "DEFAULT_MODEL",
    "ChatMessage",
    "ChatRuntime",
    "Completion",
    "FakeChatModel",
    "FakeChatRuntime",
    "GenerationConfig",
    "MailmindChatModel",
    "ModelRegistry",
    "ModelSpec",
    "ResolvedModel",
    "StreamDelta",
    "choose_runtime",
    "get_chat_model",
    "json_schema_for",
    "load_runtime",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agents.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def get_chat_model(
    settings: Settings, *, runtime: ChatRuntime | None = None, **defaults: Any
) -> MailmindChatModel:
    """A LangChain chat model over the runtime ``settings`` choose (or the one given).

    ``defaults`` set decoding defaults (``max_tokens``, ``temperature``, ``stop``...). Loading is
    the expensive part: build this once (e.g. in the API lifespan) and share it; it is thread-safe
    and queues generations behind ``settings.llm.max_concurrency``.
    """
    from agents.llm.chat_model import MailmindChatModel
    from agents.llm.runtimes import load_runtime

    return MailmindChatModel(runtime=runtime or load_runtime(settings), **defaults)
