"""Structured output: JSON schemas from Python types, and the grammar side of constrained decoding.

Every runtime constrains decoding with a JSON schema, so a structured result is always a JSON
document that validates against the schema, even from a 135M-parameter model:

* transformers: :class:`JsonConstraint` (llguidance), a token mask applied to the logits each step.
  llguidance was chosen for speed and weight: measured here it wraps the 49k-token SmolLM2
  vocabulary in 0.3 s (once per model), compiles a schema in ~1 ms and computes a mask in
  ~1 ms or less, with no torch dependency; outlines needed ~20 s to compile a schema on first use
  and 2-3 s per short call on this machine, and xgrammar pulls triton into a CPU-only install.
* llama.cpp: the same llguidance mask, applied in llama.cpp's sampler chain through a logits
  processor; llama.cpp's own GBNF grammar (``LlamaGrammar.from_json_schema``) is the fallback
  when llguidance is missing. Measured here, the GBNF sampler spent 0.1-2 s per token inside JSON
  strings (it walks the whole 49k vocabulary through the grammar stacks) and allows whitespace
  runs; llguidance masks in well under a millisecond and emits compact JSON.
* OpenAI-compatible servers: ``response_format={"type": "json_schema", ...}``.

llguidance is imported lazily: importing this module stays cheap.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from typing import Any, cast

import numpy as np
from pydantic import BaseModel, TypeAdapter

from core.errors import ModelError


def json_schema_for(schema: type[Any] | dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of a pydantic model, a TypedDict/dataclass, or a schema dict.

    OpenAI-style function dicts (``{"name": ..., "parameters": {...}}``) give their parameters.
    """
    if isinstance(schema, dict):
        if "parameters" in schema and "name" in schema:
            return cast(dict[str, Any], schema["parameters"])
        if schema.get("type") == "function" and "function" in schema:
            return cast(dict[str, Any], schema["function"].get("parameters", {}))
        return schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    return TypeAdapter(schema).json_schema()


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy where every object without ``additionalProperties`` forbids extra keys.

    Pydantic schemas leave extra keys open; a small model then invents keys like ``""``. Closing
    the objects (as OpenAI's strict mode does) keeps the output to the fields that were asked for.
    """

    def close(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: close(v) for k, v in node.items()}
            if out.get("type") == "object" and "properties" in out:
                out.setdefault("additionalProperties", False)
            return out
        if isinstance(node, list):
            return [close(v) for v in node]
        return node

    return cast(dict[str, Any], close(schema))


def schema_name(schema: type[Any] | dict[str, Any]) -> str:
    """A short name for a schema (used in ``response_format`` and tool names)."""
    if isinstance(schema, dict):
        name = schema.get("title") or schema.get("name") or "output"
        return str(name)
    return getattr(schema, "__name__", "output")


def tool_call_schema(tools: list[dict[str, Any]], name: str | None = None) -> dict[str, Any]:
    """Schema of one tool call ``{"name": ..., "arguments": {...}}`` over OpenAI-format tools.

    With ``name`` only that tool may be called (``tool_choice`` naming a tool).
    """
    variants: list[dict[str, Any]] = []
    for tool in tools:
        fn = tool.get("function", tool)
        if name is not None and fn["name"] != name:
            continue
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        variants.append(
            {
                "type": "object",
                "properties": {"name": {"const": fn["name"]}, "arguments": params},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    if not variants:
        raise ModelError(f"tool_choice names {name!r}, which is not among the bound tools")
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _json_options() -> dict[str, Any]:
    # Compact JSON: no whitespace runs for a small model to loop in, fewer tokens to decode.
    return {"whitespace_flexible": False}


@lru_cache(maxsize=128)
def _grammar_for(schema_json: str) -> str:
    import llguidance

    grammar = llguidance.LLMatcher.grammar_from_json_schema(schema_json, overrides=_json_options())  # type: ignore[arg-type]
    error = llguidance.LLMatcher.validate_grammar(grammar)
    if error and not error.startswith("WARNING"):
        raise ModelError(f"JSON schema cannot be used for constrained decoding: {error}")
    return grammar


class JsonConstraint:
    """Per-tokenizer factory of llguidance matchers, one per generation.

    Grammars are cached by schema (an LRU over the canonical JSON of the schema), so a schema is
    compiled once per process; a matcher per request costs well under a millisecond.
    """

    def __init__(self, ll_tokenizer: Any, vocab_size: int) -> None:
        self._tokenizer = ll_tokenizer
        self.vocab_size = vocab_size
        self._lock = threading.Lock()

    @classmethod
    def from_hf_tokenizer(cls, tokenizer: Any, vocab_size: int) -> JsonConstraint:
        """Wrap a fast Hugging Face tokenizer (about a second; do it once per model)."""
        import llguidance.hf

        return cls(llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size), vocab_size)

    @classmethod
    def from_llamacpp(cls, llm: Any) -> JsonConstraint:
        """Wrap the vocabulary of a loaded ``llama_cpp.Llama`` (about a second; once per model)."""
        import llama_cpp
        import llguidance.llamacpp

        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        n_vocab = int(llm.n_vocab())
        return cls(llguidance.llamacpp.lltokenizer_from_vocab(vocab, n_vocab=n_vocab), n_vocab)

    def matcher(self, schema: dict[str, Any]) -> Any:
        """A fresh ``llguidance.LLMatcher`` for ``schema``."""
        import llguidance

        grammar = _grammar_for(json.dumps(strict_schema(schema)))
        matcher = llguidance.LLMatcher(self._tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise ModelError(f"JSON schema rejected by llguidance: {matcher.get_error()}")
        return matcher


def allowed_tokens(matcher: Any, vocab_size: int) -> np.ndarray:
    """Boolean mask over the vocabulary of the tokens ``matcher`` accepts next."""
    bits = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8)
    allowed = np.unpackbits(bits, bitorder="little")[:vocab_size].astype(bool)
    if allowed.shape[0] < vocab_size:
        # Padded vocab rows past the tokenizer's vocabulary are never legal.
        allowed = np.pad(allowed, (0, vocab_size - allowed.shape[0]))
    return allowed


def parse_json(text: str) -> Any:
    """Parse model output as JSON, with an error that says what came back."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"model output is not valid JSON ({exc}): {text[:200]!r}") from exc
