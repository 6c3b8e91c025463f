"""Traces and metrics of one app.

:func:`install_observability` (called by ``create_app``) gives the app

* an OpenTelemetry SDK ``TracerProvider``: spans go over OTLP/HTTP when
  ``settings.otel.endpoint`` is set, else to a bounded in-memory exporter kept on
  ``app.state.span_exporter`` (the last :data:`KEEP_SPANS` spans); FastAPI instrumentation makes
  the request span, and :mod:`core.tracing` sends the graph-node, tool, generation and retrieval
  spans to the same provider so they nest under it;
* a :class:`Metrics` on ``app.state.metrics`` with its own Prometheus ``CollectorRegistry`` (not
  the global one: tests build many apps), served by ``GET /metrics``.

Generation and retrieval metrics are derived from their spans by :class:`SpanMetrics`, so the
code that generates or searches is instrumented once (with a span) and both views agree.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from api.event_metrics import EventMetrics
from core import tracing

if TYPE_CHECKING:
    from fastapi import FastAPI

    from core.settings import Settings
    from retrieval.events.base import BusStats

#: Finished spans the in-memory exporter keeps (older ones are dropped).
KEEP_SPANS = 2048

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_RATE_BUCKETS = (1, 2, 5, 10, 20, 40, 80, 160, 320, 640)


class BoundedSpanExporter(SpanExporter):
    """Keeps the last ``maxlen`` finished spans in memory (``InMemorySpanExporter``'s interface,
    bounded so a long-running server without a collector does not grow without limit)."""

    def __init__(self, maxlen: int = KEEP_SPANS) -> None:
        self._spans: deque[ReadableSpan] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._stopped = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Keep ``spans``."""
        if self._stopped:
            return SpanExportResult.FAILURE
        with self._lock:
            self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def get_finished_spans(self) -> tuple[ReadableSpan, ...]:
        """The kept spans, oldest first."""
        with self._lock:
            return tuple(self._spans)

    def clear(self) -> None:
        """Forget the kept spans."""
        with self._lock:
            self._spans.clear()

    def shutdown(self) -> None:
        """Stop accepting spans."""
        self._stopped = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True


class Metrics:
    """The service's Prometheus metrics, in a registry of their own.

    Hooks for routes (call them through ``request.app.state.metrics``):

    * :meth:`record_smart_reply` ``(triggered: bool)`` - once per ``POST /v1/smart-reply``;
    * :meth:`record_chip_feedback` ``(chosen: bool)`` - once per chip feedback, ``chosen`` when
      the user picked one of the chips rather than none;
    * :meth:`observe_generation` / :meth:`observe_retrieval` - fed by :class:`SpanMetrics`;
    * :meth:`record_thumbs`, :meth:`record_summary`, :meth:`record_answer` - the online quality
      signals (thumbs ratio, summary fallback and citation-drop rates, answer length, tool
      errors) that ``mailmind eval feedback`` and ``eval drift`` report offline.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        #: Event pipeline metrics (counters, latency, queue gauges): see api/event_metrics.py.
        self.events: EventMetrics | None = None
        self.request_latency = Histogram(
            "mailmind_http_request_duration_seconds",
            "Time from request to the end of its response, per route template and status.",
            ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.llm_tokens_per_s = Histogram(
            "mailmind_llm_tokens_per_second",
            "Generated tokens per second of one generation (after the first token).",
            ["model"], buckets=_RATE_BUCKETS, registry=r,
        )  # fmt: skip
        self.llm_ttft = Histogram(
            "mailmind_llm_time_to_first_token_seconds",
            "Seconds from the start of a generation to its first token.",
            ["model"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.llm_tokens = Counter(
            "mailmind_llm_tokens", "Tokens processed by the chat model.",
            ["model", "type"], registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "mailmind_generation_queue_depth",
            "Generation requests holding a slot (`running`) or queued for one (`waiting`).",
            ["state"], registry=r,
        )  # fmt: skip
        self.retrieval_latency = Histogram(
            "mailmind_retrieval_duration_seconds", "Time of one hybrid search.",
            buckets=_FAST_BUCKETS, registry=r,
        )  # fmt: skip
        self.smart_reply = Counter(
            "mailmind_smart_reply_requests", "Smart-reply requests, by trigger decision.",
            ["triggered"], registry=r,
        )  # fmt: skip
        self.chip_feedback = Counter(
            "mailmind_chip_feedback", "Chip feedback, by whether a chip was chosen.",
            ["chosen"], registry=r,
        )  # fmt: skip
        ratio = Gauge(
            "mailmind_smart_reply_trigger_ratio",
            "Share of smart-reply requests that showed chips (since start).", registry=r,
        )  # fmt: skip
        ratio.set_function(lambda: _ratio(self.smart_reply, "triggered"))
        accept = Gauge(
            "mailmind_chip_acceptance_ratio",
            "Share of chip feedback where a chip was chosen (since start).", registry=r,
        )  # fmt: skip
        accept.set_function(lambda: _ratio(self.chip_feedback, "chosen"))
        for flag in ("true", "false"):  # export both series from the start, at 0
            self.smart_reply.labels(triggered=flag)
            self.chip_feedback.labels(chosen=flag)
        self._quality_signals(r)

    def _quality_signals(self, r: CollectorRegistry) -> None:
        # Online quality signals (issue 15): thumbs, summary fallbacks, citation drops, answer
        # length, tool errors; each ratio is also exported as a gauge computed at scrape time.
        self.thumbs = Counter(
            "mailmind_feedback_thumbs", "Thumbs up/down feedback, by target kind and rating.",
            ["kind", "rating"], registry=r,
        )  # fmt: skip
        self.summaries = Counter(
            "mailmind_summaries", "Thread summaries served, by method (extractive = fallback).",
            ["method"], registry=r,
        )  # fmt: skip
        self.summary_sentences = Counter(
            "mailmind_summary_sentences",
            "Model summary sentences kept, or dropped by the citation/faithfulness check.",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.answer_chars = Histogram(
            "mailmind_answer_length_chars", "Characters of the assistant's final answers.",
            buckets=(50, 100, 200, 400, 800, 1600, 3200, 6400), registry=r,
        )  # fmt: skip
        self.tool_calls = Counter(
            "mailmind_tool_calls", "Tool calls of the assistant, by tool and outcome.",
            ["tool", "ok"], registry=r,
        )  # fmt: skip
        gauges: list[tuple[str, str, Callable[[], float]]] = [
            ("mailmind_thumbs_up_ratio", "Share of thumbs feedback that is up (since start).",
             lambda: _share(self.thumbs, "rating", "up")),
            ("mailmind_summary_fallback_ratio",
             "Share of summaries where the faithfulness check forced the extractive fallback.",
             lambda: _share(self.summaries, "method", "extractive")),
            ("mailmind_citation_drop_ratio",
             "Share of model summary sentences dropped for missing or unsupported citations.",
             lambda: _share(self.summary_sentences, "outcome", "dropped")),
            ("mailmind_tool_error_ratio", "Share of the assistant's tool calls that failed.",
             lambda: _share(self.tool_calls, "ok", "false")),
        ]  # fmt: skip
        for name, doc, fn in gauges:
            Gauge(name, doc, registry=r).set_function(fn)
        for method in ("abstractive", "extractive"):
            self.summaries.labels(method=method)
        for outcome in ("kept", "dropped"):
            self.summary_sentences.labels(outcome=outcome)

    def record_thumbs(self, kind: str, rating: str) -> None:
        """One thumbs up/down on an answer, summary, chip or draft."""
        self.thumbs.labels(kind=kind, rating=rating).inc()

    def record_summary(self, method: str, *, kept: int, dropped: int) -> None:
        """One summary served: its method and how many model sentences were kept/dropped."""
        self.summaries.labels(method=method).inc()
        self.summary_sentences.labels(outcome="kept").inc(kept)
        self.summary_sentences.labels(outcome="dropped").inc(dropped)

    def record_answer(self, chars: int, tool_calls: Sequence[tuple[str, bool]]) -> None:
        """One assistant answer: its length and its tool calls' ``(name, ok)``."""
        self.answer_chars.observe(chars)
        for tool, ok in tool_calls:
            self.tool_calls.labels(tool=tool, ok=str(bool(ok)).lower()).inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One finished HTTP request."""
        self.request_latency.labels(method=method, route=route, status=str(status)).observe(seconds)

    def observe_generation(
        self, model: str, *, input_tokens: int, output_tokens: int, seconds: float,
        ttft_s: float | None,
    ) -> None:  # fmt: skip
        """One finished generation (tokens/s is over the time after the first token)."""
        self.llm_tokens.labels(model=model, type="input").inc(input_tokens)
        self.llm_tokens.labels(model=model, type="output").inc(output_tokens)
        if ttft_s is not None:
            self.llm_ttft.labels(model=model).observe(ttft_s)
        decode = seconds - (ttft_s or 0.0)
        if output_tokens > 1 and decode > 0:
            self.llm_tokens_per_s.labels(model=model).observe((output_tokens - 1) / decode)

    def observe_retrieval(self, seconds: float) -> None:
        """One finished search."""
        self.retrieval_latency.observe(seconds)

    def record_smart_reply(self, triggered: bool) -> None:
        """One smart-reply decision (chips shown or not)."""
        self.smart_reply.labels(triggered=str(bool(triggered)).lower()).inc()

    def record_chip_feedback(self, chosen: bool) -> None:
        """One chip feedback: a chip was chosen (``True``) or none was (``False``)."""
        self.chip_feedback.labels(chosen=str(bool(chosen)).lower()).inc()

    def track_queue(self, depth: Callable[[], tuple[int, int]]) -> None:
        """Read ``(running, waiting)`` from ``depth()`` at every scrape."""
        self.queue_depth.labels(state="running").set_function(lambda: float(depth()[0]))
        self.queue_depth.labels(state="waiting").set_function(lambda: float(depth()[1]))


def _ratio(counter: Counter, label: str) -> float:
    yes = counter.labels(**{label: "true"})._value.get()
    no = counter.labels(**{label: "false"})._value.get()
    return float(yes / (yes + no)) if yes + no else 0.0


def _share(counter: Counter, label: str, value: str) -> float:
    """Share of ``counter``'s total whose ``label`` is ``value`` (0 before any observation)."""
    total = hit = 0.0
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                total += sample.value
                hit += sample.value if sample.labels.get(label) == value else 0.0
    return hit / total if total else 0.0


class SpanMetrics(SpanProcessor):
    """Turns finished generation and retrieval spans into Prometheus observations."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_end(self, span: ReadableSpan) -> None:
        """Observe ``span`` if it is a generation or a retrieval."""
        attrs = span.attributes or {}
        if span.start_time is None or span.end_time is None:
            return
        seconds = (span.end_time - span.start_time) / 1e9
        if span.name == tracing.RETRIEVAL_SEARCH:
            self.metrics.observe_retrieval(seconds)
        elif attrs.get(tracing.GEN_AI_OPERATION) == "chat":
            ttft = attrs.get(tracing.GEN_AI_TTFT)
            self.metrics.observe_generation(
                str(attrs.get(tracing.GEN_AI_REQUEST_MODEL, "unknown")),
                input_tokens=_int(attrs.get(tracing.GEN_AI_INPUT_TOKENS)),
                output_tokens=_int(attrs.get(tracing.GEN_AI_OUTPUT_TOKENS)),
                seconds=seconds,
                ttft_s=float(ttft) if isinstance(ttft, int | float) else None,
            )

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Nothing to do at start."""

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def build_tracer_provider(
    settings: Settings, metrics: Metrics | None = None
) -> tuple[TracerProvider, BoundedSpanExporter | None]:
    """An SDK provider exporting over OTLP/HTTP (``settings.otel.endpoint``) or to memory.

    Returns the provider and the in-memory exporter (``None`` when exporting over OTLP).
    """
    resource = Resource.create({"service.name": settings.otel.service_name})
    provider = TracerProvider(resource=resource)
    memory: BoundedSpanExporter | None = None
    if settings.otel.endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel.endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    else:
        memory = BoundedSpanExporter()
        # Synchronous: a span is readable the moment it ends (tests, debugging endpoints).
        provider.add_span_processor(SimpleSpanProcessor(memory))
    if metrics is not None:
        provider.add_span_processor(SpanMetrics(metrics))
    return provider, memory


def install_observability(app: FastAPI, settings: Settings) -> Metrics:
    """Tracing and metrics for ``app`` (see the module docstring). Returns the metrics."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    metrics = Metrics()
    provider, memory = build_tracer_provider(settings, metrics)
    app.state.metrics = metrics
    app.state.tracer_provider = provider
    app.state.span_exporter = memory
    tracing.use_tracer_provider(provider)
    metrics.track_queue(lambda: _queue_depth(app))
    metrics.events = EventMetrics(metrics.registry, lambda: _bus_stats(app))
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls="healthz,readyz,metrics",
        # One span per ASGI message would mean one per SSE token: keep the request span only.
        exclude_spans=["receive", "send"],
    )
    return metrics


def activate(app: FastAPI) -> None:
    """Make ``app``'s provider the one :mod:`core.tracing` uses (the lifespan calls this: with
    several apps in one process, the one started last gets the spans)."""
    provider = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        tracing.use_tracer_provider(provider)


def flush(app: FastAPI) -> None:
    """Export ``app``'s pending spans (lifespan end). The provider is not shut down: an app may
    be started again (tests), and the SDK shuts providers down at process exit."""
    provider: TracerProvider | None = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        provider.force_flush()


def _bus_stats(app: FastAPI) -> BusStats | None:
    # Only once the lifespan built the bus: a scrape never opens a connection to the queue.
    services = getattr(app.state, "services", None)
    if services is None or "event_bus" not in services.__dict__:
        return None
    stats: BusStats = services.event_bus.stats()
    return stats


def _queue_depth(app: FastAPI) -> tuple[int, int]:
    # Read at scrape time: the generation gate (api/http/generation.py) may be built after us.
    generation = getattr(app.state, "generation", None)
    depth = getattr(generation, "depth", None)
    if not callable(depth):
        return 0, 0
    running, waiting = depth()
    return int(running), int(waiting)
