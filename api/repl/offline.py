"""The scripted model behind ``mailmind repl --offline``: no weights, deterministic output.

Built on :class:`agents.llm.fake.FakeChatRuntime`. Free-text requests get a fixed-form echo of
what the model was given (so edits to a prompt visibly change the output); constrained requests
get the smallest JSON document valid against the schema, so structured agent nodes still parse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.llm.fake import FakeChatRuntime
    from agents.llm.types import ChatMessage, GenerationConfig

OFFLINE_MODEL = "offline-scripted"


def minimal_instance(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The smallest value valid against a (pydantic-generated) JSON schema."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return minimal_instance(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return minimal_instance(options[0], defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {
            k: minimal_instance(props[k], defs) for k in schema.get("required", []) if k in props
        }
    if kind == "array":
        item = schema.get("items", {})
        return [minimal_instance(item, defs) for _ in range(int(schema.get("minItems", 0)))]
    if kind == "string":
        return "offline".ljust(int(schema.get("minLength", 0)), ".")
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        return int(low) + (1 if "exclusiveMinimum" in schema else 0) if kind == "integer" else low
    if kind == "boolean":
        return False
    return None


def scripted_reply(messages: Sequence[ChatMessage], config: GenerationConfig) -> str:
    """What the offline model says to ``messages``."""
    if config.json_schema is not None:
        return json.dumps(minimal_instance(config.json_schema))
    text = messages[-1]["content"] if messages else ""
    words = len(" ".join(m["content"] for m in messages).split())
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"[offline] read {words} words; the prompt begins: {first[:60]}"


def offline_runtime() -> FakeChatRuntime:
    """A runtime answering every request with :func:`scripted_reply`."""
    from agents.llm.fake import FakeChatRuntime

    return FakeChatRuntime([scripted_reply], model_name=OFFLINE_MODEL, cycle=True)
