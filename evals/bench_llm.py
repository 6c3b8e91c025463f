"""Benchmark of the chat runtimes on the same model and prompts: ``mailmind bench llm``.

For each runtime variant (e.g. ``transformers:bfloat16``, ``transformers:float32``, ``llamacpp``,
``openai`` when a server is configured) it measures, in one process and one run:

* load time cold (transformers: GGUF -> safetensors conversion into a scratch cache) and warm;
* per prompt (greedy): time to first token, prompt tokens/s (prefill), decode tokens/s;
* structured output: seconds per schema-constrained call and the share of schema-valid results.

Medians are reported. Numbers depend on what else runs on the machine: compare rows of one run.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from agents.llm.registry import ModelRegistry, ResolvedModel
from agents.llm.types import ChatMessage, ChatRuntime, GenerationConfig
from core.settings import Settings

DEFAULT_VARIANTS = ("llamacpp", "transformers:bfloat16", "transformers:float32")

PROMPTS: tuple[str, ...] = (
    "Write a polite email to a colleague asking to move tomorrow's meeting to Friday.",
    "Explain in a few sentences why backups matter for a small company.",
    "Summarise: The quarterly report is due on March 3rd. Finance needs the numbers from every "
    "team by February 25th so they can consolidate them. Please send yours early.",
    "List three tips for writing clear email subject lines.",
    "Describe a productive morning routine for someone who works from home.",
)


class _BenchReply(BaseModel):
    """Schema used for the structured-output timing."""

    intent: str = Field(description="What the email wants, in a few words.")
    urgent: bool
    action_items: list[str] = Field(max_length=3)


@dataclass
class VariantResult:
    """Measurements of one runtime variant."""

    variant: str
    runtime: str
    available: bool = True
    error: str | None = None
    load_cold_s: float | None = None
    load_warm_s: float | None = None
    ttft_s: float | None = None
    prompt_tokens_per_s: float | None = None
    decode_tokens_per_s: float | None = None
    structured_s: float | None = None
    structured_valid: float | None = None
    samples: list[dict[str, float]] = field(default_factory=list)


def _median(values: Sequence[float]) -> float | None:
    values = [v for v in values if v > 0]
    return round(statistics.median(values), 3) if values else None


def _load(
    settings: Settings, kind: str, dtype: str | None, resolved: ResolvedModel | None
) -> tuple[ChatRuntime, float, bool]:
    started = time.perf_counter()
    runtime: ChatRuntime
    if kind in ("transformers", "llamacpp") and resolved is None:
        raise ValueError(f"{kind} needs a local model")
    if kind == "transformers":
        from agents.llm.runtimes.transformers import TransformersRuntime

        llm = settings.llm.model_copy(update={"dtype": dtype or settings.llm.dtype})
        tr = TransformersRuntime.load(resolved, llm)  # type: ignore[arg-type]
        converted = bool(tr.load_info.get("converted"))
        runtime = tr
    elif kind == "llamacpp":
        from agents.llm.runtimes.llamacpp import LlamaCppRuntime

        runtime, converted = LlamaCppRuntime.load(resolved, settings.llm), False  # type: ignore[arg-type]
    else:
        from agents.llm.runtimes.openai import OpenAIRuntime

        runtime, converted = OpenAIRuntime.from_settings(settings.llm), False
    return runtime, time.perf_counter() - started, converted


def bench_variant(
    settings: Settings,
    variant: str,
    *,
    prompts: Sequence[str] = PROMPTS,
    max_tokens: int = 64,
    structured_calls: int = 3,
    progress: Callable[[str], None] | None = None,
) -> VariantResult:
    """Measure one variant (``kind`` or ``kind:dtype``)."""
    kind, _, dtype = variant.partition(":")
    result = VariantResult(variant=variant, runtime=kind)
    say = progress or (lambda _msg: None)
    try:
        resolved = ModelRegistry(settings).resolve() if kind != "openai" else None
        with tempfile.TemporaryDirectory(prefix="mailmind-bench-") as scratch:
            if resolved is not None and kind == "transformers" and resolved.format == "gguf":
                # Cold = conversion from the GGUF, in a scratch cache so the real one is untouched.
                resolved = replace(resolved, cache_dir=Path(scratch))
            say(f"{variant}: loading (cold)")
            runtime, cold, _ = _load(settings, kind, dtype or None, resolved)
            result.load_cold_s = round(cold, 3)
            runtime.close()
            del runtime
            gc.collect()
            say(f"{variant}: loading (warm)")
            runtime, warm, _ = _load(settings, kind, dtype or None, resolved)
            result.load_warm_s = round(warm, 3)
            try:
                _measure(
                    runtime,
                    result,
                    prompts=prompts,
                    max_tokens=max_tokens,
                    structured_calls=structured_calls,
                    say=say,
                )
            finally:
                runtime.close()
    except ImportError as exc:
        result.available, result.error = False, f"not installed: {exc.name}"
    except Exception as exc:  # noqa: BLE001 - one failing variant must not sink the whole table
        result.available, result.error = False, f"{type(exc).__name__}: {exc}"
    return result


def _measure(
    runtime: ChatRuntime,
    result: VariantResult,
    *,
    prompts: Sequence[str],
    max_tokens: int,
    structured_calls: int,
    say: Callable[[str], None],
) -> None:
    config = GenerationConfig(max_tokens=max_tokens)
    # One untimed call: first-call costs (allocations, thread pools) are not per-request costs.
    runtime.generate([{"role": "user", "content": "Hi"}], GenerationConfig(max_tokens=4))
    for i, prompt in enumerate(prompts):
        say(f"{result.variant}: prompt {i + 1}/{len(prompts)}")
        messages: list[ChatMessage] = [{"role": "user", "content": prompt}]
        usage = runtime.generate(messages, config).usage
        result.samples.append(
            {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "ttft_s": round(usage.time_to_first_token_s, 4),
                "prompt_tokens_per_s": round(usage.prompt_tokens_per_s, 2),
                "decode_tokens_per_s": round(usage.decode_tokens_per_s, 2),
            }
        )
    result.ttft_s = _median([s["ttft_s"] for s in result.samples])
    result.prompt_tokens_per_s = _median([s["prompt_tokens_per_s"] for s in result.samples])
    result.decode_tokens_per_s = _median([s["decode_tokens_per_s"] for s in result.samples])
    if structured_calls <= 0:
        return
    schema = _BenchReply.model_json_schema()
    times: list[float] = []
    valid = 0
    for i in range(structured_calls):
        say(f"{result.variant}: structured {i + 1}/{structured_calls}")
        prompt = prompts[i % len(prompts)]
        messages = [
            {"role": "system", "content": "Reply with JSON: " + json.dumps(schema)},
            {"role": "user", "content": prompt},
        ]
        started = time.perf_counter()
        try:
            text = runtime.generate(
                messages, GenerationConfig(max_tokens=48, json_schema=schema)
            ).text
            _BenchReply.model_validate_json(text)
            valid += 1
        except (ValidationError, ValueError):
            pass
        times.append(time.perf_counter() - started)
    result.structured_s = _median(times)
    result.structured_valid = round(valid / structured_calls, 3)


def run_bench(
    settings: Settings,
    variants: Sequence[str] | None = None,
    *,
    max_tokens: int = 64,
    prompts: Sequence[str] = PROMPTS,
    structured_calls: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run all variants; returns the JSON-able report."""
    chosen = list(variants or DEFAULT_VARIANTS)
    if not variants and settings.llm.base_url:
        chosen.append("openai")
    results = [
        bench_variant(
            settings,
            v,
            prompts=prompts,
            max_tokens=max_tokens,
            structured_calls=structured_calls,
            progress=progress,
        )
        for v in chosen
    ]
    from agents.llm.runtimes import choose_runtime

    auto = settings.model_copy(update={"llm": settings.llm.model_copy(update={"runtime": "auto"})})
    return {
        "benchmark": "llm",
        "model": settings.llm.model,
        "device": settings.llm.device,
        "default_runtime": choose_runtime(auto),
        "max_tokens": max_tokens,
        "prompts": len(prompts),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": [asdict(r) for r in results],
    }


def format_table(report: dict[str, Any]) -> list[list[str]]:
    """Rows (header first) for printing the report as a table."""

    def cell(value: Any, fmt: str = "{:.2f}") -> str:
        return "-" if value is None else fmt.format(value)

    rows = [
        [
            "variant",
            "cold s",
            "warm s",
            "TTFT s",
            "prompt t/s",
            "decode t/s",
            "json s",
            "json ok",
            "note",
        ]
    ]
    for r in report["results"]:
        rows.append(
            [
                r["variant"],
                cell(r["load_cold_s"]),
                cell(r["load_warm_s"]),
                cell(r["ttft_s"], "{:.3f}"),
                cell(r["prompt_tokens_per_s"], "{:.0f}"),
                cell(r["decode_tokens_per_s"], "{:.1f}"),
                cell(r["structured_s"]),
                cell(r["structured_valid"], "{:.0%}"),
                r["error"] or "",
            ]
        )
    return rows
