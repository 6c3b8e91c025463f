"""Spans for agents, tools, retrieval and generations, over ``opentelemetry-api`` only.

Code that wants a span writes ``with span("retrieval.search", mode="hybrid"):`` (or uses
``@span(...)`` as a decorator). Until an SDK ``TracerProvider`` is installed with
:func:`use_tracer_provider` (``create_app`` does it; nothing does at import time) spans go to
OpenTelemetry's global tracer, which is a no-op unless a process configured one, so the CLI and
the tests pay almost nothing.

The provider is held here rather than set globally with ``trace.set_tracer_provider`` because
OpenTelemetry allows the global one to be set once per process, while tests build many apps.

Spans nest through ``contextvars``: LangGraph and ``starlette.concurrency.run_in_threadpool``
copy the context into their worker threads; code that starts a plain ``threading.Thread`` must
run its target under :func:`in_current_context` (or ``contextvars.copy_context().run``).
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

P = ParamSpec("P")
R = TypeVar("R")

#: Instrumentation scope of every mailmind span.
SCOPE = "mailmind"

# GenAI semantic-convention attribute names (OpenTelemetry semconv, gen_ai.*).
GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_PROVIDER = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_FINISH_REASONS = "gen_ai.response.finish_reasons"
#: Seconds until the first generated token (the semconv names the metric so; we also put it on
#: the span so one trace shows it).
GEN_AI_TTFT = "gen_ai.server.time_to_first_token"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
#: Name of every retrieval span (the HTTP metrics time searches from these spans).
RETRIEVAL_SEARCH = "retrieval.search"
#: Attribute naming the assistant-graph node of a node span.
GRAPH_NODE = "mailmind.graph.node"


class _Active:
    """The provider spans go to (a holder rather than a ``global`` statement)."""

    provider: TracerProvider | None = None


AttributeValue = str | bool | int | float | list[str] | list[int] | list[float] | list[bool]


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Send mailmind's spans to ``provider`` (``None``: back to OpenTelemetry's global one)."""
    _Active.provider = provider


def tracer() -> Tracer:
    """The tracer spans are started on now."""
    if _Active.provider is not None:
        return _Active.provider.get_tracer(SCOPE)
    return trace.get_tracer(SCOPE)


def _attributes(attributes: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Attributes OpenTelemetry accepts; ``None`` values are left out."""
    out: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, str | bool | int | float):
            out[key] = value
        elif isinstance(value, list | tuple):
            out[key] = [str(v) for v in value]  # homogeneous, as OpenTelemetry requires
        else:
            out[key] = str(value)
    return out


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    current: bool = True,
    attributes: Mapping[str, Any] | None = None,
    **attrs: Any,
) -> Iterator[Span]:
    """A span around a block (or, as ``@span(name)``, around every call of a function).

    Keyword arguments become attributes (dotted names go in ``attributes={...}``). An exception
    leaving the block is recorded and marks the span as an error. ``current=False`` starts the
    span without making it the current one: use it inside generators, which may be resumed in
    another context than the one they were started in.
    """
    merged = _attributes({**(attributes or {}), **attrs})
    t = tracer()
    if current:
        with t.start_as_current_span(name, kind=kind, attributes=merged) as s:
            yield s
        return
    s = t.start_span(name, kind=kind, attributes=merged)
    try:
        yield s
    except GeneratorExit:
        raise  # a consumer that stopped early is not an error
    except BaseException as exc:
        s.record_exception(exc)
        s.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        s.end()


def traced(
    name: str, fn: Callable[P, R], *, attributes: Mapping[str, Any] | None = None, **attrs: Any
) -> Callable[P, R]:
    """``fn`` running inside a span ``name`` on each call (signature and hints preserved, so
    frameworks that inspect it, such as LangGraph, still see the original)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with span(name, attributes=attributes, **attrs):
            return fn(*args, **kwargs)

    return wrapper


def in_current_context(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` bound to a copy of the caller's context (current span included), for targets of
    plain threads: ``threading.Thread(target=in_current_context(work))``."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.run(fn, *args, **kwargs)

    return run


def current_trace_id() -> str | None:
    """Hex trace id of the current span (for logs), or ``None`` outside a recorded trace."""
    sc = trace.get_current_span().get_span_context()
    return format(sc.trace_id, "032x") if sc.is_valid else None


class _ClosingIterator:
    """An iterator whose ``close()`` also closes the stream it wraps, even if iteration never
    started (closing an unstarted generator would not run its ``finally``)."""

    def __init__(self, outer: Generator[Any, None, None], inner: Iterator[Any]) -> None:
        self._outer = outer
        self._inner = inner

    def __iter__(self) -> _ClosingIterator:
        return self

    def __next__(self) -> Any:
        return next(self._outer)

    def close(self) -> None:
        self._outer.close()
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def traced_generation(
    deltas: Iterator[Any],
    *,
    model: str,
    provider: str,
    max_tokens: int | None = None,
    temperature: float | None = None,
    operation: str = "chat",
) -> Iterator[Any]:
    """Wrap a runtime's stream of deltas in a GenAI span ``"{operation} {model}"``.

    Each delta needs ``text``; the last one carries ``finish_reason`` and ``usage`` (prompt and
    completion tokens), which become ``gen_ai.usage.*`` attributes. Time to first token is
    measured here (first non-empty delta), so it is right for every runtime. The span is not
    made current: the consumer of this iterator may resume it from another context. Closing
    the returned iterator closes ``deltas`` (which frees the runtime's generation slot).
    """
    outer = _traced_generation(
        deltas, model=model, provider=provider, max_tokens=max_tokens,
        temperature=temperature, operation=operation,
    )  # fmt: skip
    return _ClosingIterator(outer, deltas)


def _traced_generation(
    deltas: Iterator[Any],
    *,
    model: str,
    provider: str,
    max_tokens: int | None = None,
    temperature: float | None = None,
    operation: str = "chat",
) -> Generator[Any, None, None]:
    attrs = {
        GEN_AI_OPERATION: operation,
        GEN_AI_REQUEST_MODEL: model,
        GEN_AI_PROVIDER: provider,
        GEN_AI_MAX_TOKENS: max_tokens,
        GEN_AI_TEMPERATURE: temperature,
    }
    started = time.perf_counter()
    with span(f"{operation} {model}", kind=SpanKind.CLIENT, current=False, attributes=attrs) as s:
        first = True
        try:
            for delta in deltas:
                text: str = getattr(delta, "text", "")
                if first and text:
                    first = False
                    s.set_attribute(GEN_AI_TTFT, time.perf_counter() - started)
                finish = getattr(delta, "finish_reason", None)
                if finish is not None:
                    s.set_attribute(GEN_AI_FINISH_REASONS, [str(finish)])
                usage = getattr(delta, "usage", None)
                if usage is not None:
                    s.set_attribute(GEN_AI_INPUT_TOKENS, int(usage.prompt_tokens))
                    s.set_attribute(GEN_AI_OUTPUT_TOKENS, int(usage.completion_tokens))
                yield delta
        finally:
            # Closing this generator early (client gone) must stop the runtime's stream too.
            close = getattr(deltas, "close", None)
            if close is not None:
                close()
