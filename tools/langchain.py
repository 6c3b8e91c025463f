"""The tools as LangChain tools, usable by any LangGraph / LangChain agent.

Each tool takes its typed arguments plus ``runtime: ToolRuntime[AgentContext]``, which LangGraph
injects and hides from the schema the model sees: the user always comes from the runtime context.
Results go back as compact JSON (``content``) plus the result model (``artifact``), so graph
code can check citations against the ids the tools actually returned. Errors the model can act on
(bad id, bad date) come back as a tool message starting with ``error:``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel

from core.errors import InputError
from core.tracing import GEN_AI_OPERATION, GEN_AI_TOOL_NAME, span
from tools.context import AgentContext
from tools.impl import TOOL_FUNCTIONS

#: What the model reads about each tool: when to use it, what it returns.
DESCRIPTIONS: dict[str, str] = {
    "search_mailbox": (
        "Search the user's email by meaning and keywords. Use it for questions about what "
        "someone wrote, quotes, invoices, bugs, dates mentioned in mail. Returns message ids, "
        "thread ids, senders, subjects and snippets."
    ),
    "read_message": (
        "Read one email in full (its own text, quotes removed) by a message id from search_mailbox."
    ),
    "read_thread": (
        "Read a whole email conversation, oldest first, by a thread id (or any message id in "
        "it). Use it to summarise a discussion or follow how something changed."
    ),
    "list_events": (
        "List the user's calendar events in a period (meetings, appointments, all-day events), "
        "recurring events expanded. Use it for 'what is on my calendar', 'when is my next "
        "meeting with X'."
    ),
    "find_free_time": (
        "Find free slots in the user's working hours for a meeting of a given length, avoiding "
        "busy events. Use it for 'when am I free', 'find time to meet'."
    ),
    "lookup_contacts": (
        "Look up people in the user's contacts and correspondents by name, email or company. "
        "Returns emails, phones, organisation, title and how often they correspond."
    ),
    "list_messages": (
        "List the user's mail by sender, recipient and date, newest first, with exact counts "
        "and the most frequent senders. Use it for 'when did I last hear from X', 'how many "
        "emails did X send this week', 'who emails me most'."
    ),
}


_TOOL_SPAN = {
    name: {GEN_AI_OPERATION: "execute_tool", GEN_AI_TOOL_NAME: name} for name in DESCRIPTIONS
}


def _make(name: str) -> BaseTool:
    args_model, fn = TOOL_FUNCTIONS[name]

    def run(runtime: ToolRuntime[AgentContext], **kwargs: Any) -> tuple[str, BaseModel | None]:
        # GenAI semconv tool span; arguments stay out of it (they can quote mail).
        with span(f"execute_tool {name}", attributes=_TOOL_SPAN[name]) as s:
            try:
                result = fn(args_model(**kwargs), runtime.context)
            except InputError as exc:
                s.set_attribute("error.type", type(exc).__name__)
                return f"error: {exc}", None
            return result.model_dump_json(exclude_none=True), result

    # StructuredTool needs the injected parameter in the signature to detect it.
    def call(runtime: ToolRuntime[AgentContext], **kwargs: Any) -> tuple[str, BaseModel | None]:
        return run(runtime, **kwargs)

    call.__name__ = name
    return StructuredTool.from_function(
        func=call,
        name=name,
        description=DESCRIPTIONS[name],
        args_schema=args_model,
        response_format="content_and_artifact",
    )


def build_tools(names: list[str] | None = None) -> list[BaseTool]:
    """LangChain tools for ``names`` (default: all of them, read-only)."""
    return [_make(n) for n in (names or list(TOOL_FUNCTIONS))]


def tool_schemas() -> dict[str, type[BaseModel]]:
    """Argument model of each tool, by name."""
    return {name: model for name, (model, _fn) in TOOL_FUNCTIONS.items()}


ToolFn = Callable[[BaseModel, AgentContext], BaseModel]
