"""Render a prompt and generate from it: the one code path of ``/run`` and ``mailmind prompt run``.

The prompt is rendered strictly, split into chat messages the way the agents split it (a
``separator`` line in the front-matter divides system from user text), and streamed from the raw
:class:`~agents.llm.types.ChatRuntime` so time to first token and token counts are measured on
the generation itself. With ``constrained`` on and an ``output`` model the prompt names, decoding
is constrained to that model's JSON schema, as the agents' structured calls are.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import ModelError
from core.tracing import span, traced_generation
from prompts.render import Prompt, render_prompt

if TYPE_CHECKING:
    from agents.llm.types import ChatMessage, ChatRuntime

#: Modules whose pydantic models a prompt's ``output`` may name (the agents' structured outputs).
SCHEMA_MODULES = (
    "agents.summarize.thread",
    "agents.smart_reply.schemas",
    "agents.actions.schemas",
    "agents.assistant.state",
)


@dataclass
class ModelOptions:
    """Decoding options the REPL's ``/model`` shows and changes."""

    temperature: float = 0.0
    max_tokens: int = 256
    seed: int | None = 0
    #: Constrain decoding to the JSON schema of the prompt's ``output`` model when it has one.
    constrained: bool = True


@dataclass
class RunResult:
    """One generation from a rendered prompt, with its measurements."""

    prompt_id: str
    prompt_text: str
    values: dict[str, Any]
    rendered: str
    output: str
    finish_reason: str
    runtime: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_s: float
    tokens_per_s: float
    total_s: float
    schema: str | None = None
    number: int = 0
    sample: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: Whether the prompt was an unsaved working copy (its text differs from the file).
    draft: bool = False

    @property
    def prompt_version(self) -> str:
        """``name@version``, plus ``+edit <hash>`` for an unsaved working copy, so two runs
        of different drafts of one version are told apart (``/diff``, ``/runs``)."""
        if not self.draft:
            return self.prompt_id
        digest = hashlib.sha256(self.prompt_text.encode()).hexdigest()[:7]
        return f"{self.prompt_id}+edit {digest}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``mailmind prompt run --json``); the prompt file text is left out."""
        out = asdict(self)
        del out["prompt_text"]
        out["prompt_version"] = self.prompt_version
        return out


def output_schema(prompt: Prompt) -> tuple[str, dict[str, Any]] | None:
    """``(model name, JSON schema)`` of the pydantic model the prompt's ``output`` names, if any
    of :data:`SCHEMA_MODULES` defines it (free-text outputs have none)."""
    from pydantic import BaseModel

    name = (prompt.output or "").strip()
    if not name.isidentifier():
        return None
    for module in SCHEMA_MODULES:
        try:
            candidate = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return name, candidate.model_json_schema()
    return None


def build_messages(prompt: Prompt, rendered: str) -> list[ChatMessage]:
    """Chat messages from rendered text: system and user parts when the prompt declares a
    ``separator`` line (as ``draft_reply`` does), else one user message."""
    separator = prompt.meta.get("separator")
    if separator:
        system, found, user = rendered.partition(f"\n{separator}\n")
        if not found:
            raise ModelError(f"prompt {prompt.id} lacks its {separator!r} line")
        return [
            {"role": "system", "content": system.strip()},
            {"role": "user", "content": user.strip()},
        ]
    return [{"role": "user", "content": rendered}]


def run_prompt(
    prompt: Prompt,
    values: Mapping[str, Any],
    runtime: ChatRuntime,
    options: ModelOptions,
    *,
    prompt_text: str = "",
    on_token: Callable[[str], None] | None = None,
) -> RunResult:
    """Render ``prompt`` with ``values`` and generate from it with ``runtime``.

    Raises :class:`~prompts.render.PromptError` for a template problem and
    :class:`~core.errors.ModelError` when generation fails (any runtime error is wrapped so the
    caller shows its cause)."""
    from agents.llm.types import GenerationConfig

    rendered = render_prompt(prompt, **values)
    messages = build_messages(prompt, rendered)
    schema = output_schema(prompt) if options.constrained else None
    config = GenerationConfig(
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        seed=options.seed,
        json_schema=schema[1] if schema else None,
    )
    parts: list[str] = []
    finish, usage, ttft = "stop", None, 0.0
    started = time.perf_counter()
    with span("repl.run", attributes={"mailmind.prompt": prompt.id}):
        try:
            deltas = traced_generation(
                runtime.stream(messages, config), model=runtime.model_name,
                provider=runtime.kind, max_tokens=config.max_tokens,
                temperature=config.temperature,
            )  # fmt: skip
            for delta in deltas:
                if delta.text:
                    if not parts:
                        ttft = time.perf_counter() - started
                    parts.append(delta.text)
                    if on_token is not None:
                        on_token(delta.text)
                if delta.finish_reason is not None:
                    finish = delta.finish_reason
                if delta.usage is not None:
                    usage = delta.usage
        except ModelError:
            raise
        except Exception as exc:  # a runtime failure of any kind is a model error to the user
            raise ModelError(f"generation failed ({runtime.kind}): {exc}") from exc
    total = time.perf_counter() - started
    completion = usage.completion_tokens if usage else len(parts)
    decode = usage.decode_tokens_per_s if usage else 0.0
    return RunResult(
        prompt_id=prompt.id,
        prompt_text=prompt_text,
        values=dict(values),
        rendered=rendered,
        output="".join(parts),
        finish_reason=str(finish),
        runtime=runtime.kind,
        model=runtime.model_name,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=completion,
        time_to_first_token_s=round(
            usage.time_to_first_token_s if usage and usage.time_to_first_token_s else ttft, 4
        ),
        tokens_per_s=round(decode or (completion / total if total > 0 else 0.0), 2),
        total_s=round(total, 4),
        schema=schema[0] if schema else None,
        options=asdict(options),
    )
