"""Choosing and loading a chat runtime from settings.

``auto`` (the default) picks, in order:

1. ``openai`` when ``MAILMIND_LLM__BASE_URL`` is set: a server was configured on purpose;
2. ``llamacpp`` for a GGUF model when llama-cpp-python is installed and either the device is the
   CPU or llama.cpp was built with GPU offload. Measured with ``mailmind bench llm`` on the two-core
   CPU box: llama.cpp decodes SmolLM2-135M Q4_1 at ~98 tok/s against ~23 tok/s for transformers
   in bf16 (16 in fp32), and loads in ~0.1 s;
3. ``transformers`` otherwise (Hugging Face folders, no llama.cpp, or a GPU llama.cpp can't use).

Runtime modules are imported only when chosen, so importing this package is cheap.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

from agents.llm.registry import ModelRegistry, ResolvedModel
from agents.llm.types import ChatRuntime
from core.errors import ConfigError
from core.settings import Settings

RuntimeKind = Literal["transformers", "llamacpp", "openai"]


def _llamacpp_can_use_device(device: str) -> bool:
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    if device == "cpu":
        return True
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def choose_runtime(settings: Settings, model_format: str | None = None) -> RuntimeKind:
    """The runtime ``settings`` asks for, resolving ``auto`` as the module docstring says."""
    wanted = settings.llm.runtime
    if wanted != "auto":
        return wanted
    if settings.llm.base_url:
        return "openai"
    if model_format is None:
        model_format = ModelRegistry(settings).spec().format
    if model_format == "gguf" and _llamacpp_can_use_device(settings.llm.device):
        return "llamacpp"
    return "transformers"


def load_runtime(
    settings: Settings,
    *,
    runtime: RuntimeKind | None = None,
    registry: ModelRegistry | None = None,
) -> ChatRuntime:
    """Load the configured model in the configured (or given) runtime.

    Raises :class:`~core.errors.ModelNotFoundError` (naming the pull command) when the weights
    are not cached, and :class:`~core.errors.ConfigError` for impossible combinations.
    """
    kind = runtime or choose_runtime(settings)
    if kind == "openai":
        from agents.llm.runtimes.openai import OpenAIRuntime

        return OpenAIRuntime.from_settings(settings.llm)
    registry = registry or ModelRegistry(settings)
    resolved: ResolvedModel = registry.resolve()
    if kind == "llamacpp":
        from agents.llm.runtimes.llamacpp import LlamaCppRuntime

        return LlamaCppRuntime.load(resolved, settings.llm)
    if kind == "transformers":
        from agents.llm.runtimes.transformers import TransformersRuntime

        return TransformersRuntime.load(resolved, settings.llm)
    raise ConfigError(f"unknown runtime {kind!r} (MAILMIND_LLM__RUNTIME)")
