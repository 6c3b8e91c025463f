"""``/trace``: the spans of the last ``/run``, ``/chat`` or ``/eval``, kept in memory.

The REPL installs an OpenTelemetry SDK provider with an in-memory exporter for its lifetime
(:func:`core.tracing.use_tracer_provider`), so the agents', tools' and runtimes' own spans are
what ``/trace`` shows; nothing is exported anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core.tracing import use_tracer_provider


@dataclass(frozen=True)
class SpanRecord:
    """One finished span, relative to the first span of its command."""

    name: str
    depth: int
    start_ms: float
    duration_ms: float
    status: str
    attributes: dict[str, Any]


class SpanRecorder:
    """Collects the spans of one command at a time."""

    def __init__(self) -> None:
        self._exporter = InMemorySpanExporter()
        self._provider = TracerProvider()
        self._provider.add_span_processor(SimpleSpanProcessor(self._exporter))
        self.last: list[SpanRecord] = []

    def install(self) -> None:
        """Send mailmind's spans here."""
        use_tracer_provider(self._provider)

    def uninstall(self) -> None:
        """Back to OpenTelemetry's global provider."""
        use_tracer_provider(None)
        self._provider.shutdown()

    def begin(self) -> None:
        """Forget spans finished before the command that starts now."""
        self._exporter.clear()

    def collect(self) -> list[SpanRecord]:
        """The spans finished since :meth:`begin`, parents before children, as :attr:`last`."""
        spans = sorted(self._exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
        self._exporter.clear()
        if not spans:
            return self.last
        origin = spans[0].start_time or 0
        ids = {s.context.span_id: s for s in spans if s.context is not None}

        def depth(s: Any) -> int:
            n, parent = 0, s.parent
            while parent is not None and parent.span_id in ids:
                n, parent = n + 1, ids[parent.span_id].parent
            return n

        self.last = [
            SpanRecord(
                name=s.name,
                depth=depth(s),
                start_ms=((s.start_time or origin) - origin) / 1e6,
                duration_ms=((s.end_time or 0) - (s.start_time or 0)) / 1e6,
                status=s.status.status_code.name,
                attributes=dict(s.attributes or {}),
            )
            for s in _tree_order(spans, ids)
        ]
        return self.last


def _tree_order(spans: list[Any], ids: dict[int, Any]) -> list[Any]:
    """Spans depth-first: each parent followed by its children in start order."""
    children: dict[int | None, list[Any]] = {}
    for s in spans:
        parent = s.parent.span_id if s.parent is not None and s.parent.span_id in ids else None
        children.setdefault(parent, []).append(s)
    out: list[Any] = []

    def walk(key: int | None) -> None:
        for s in children.get(key, []):
            out.append(s)
            walk(s.context.span_id)

    walk(None)
    return out
