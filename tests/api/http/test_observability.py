"""Tracing and metrics over the real app and the demo data.

* ``GET /metrics`` parses as Prometheus text and holds the request histogram per route template
  and status, retrieval latency, generation queue depth, smart-reply and chip counters/ratios.
* The span tree of one ``POST /v1/chat``: the request span, under it one span per graph node,
  under the ``tools`` node the tool spans (under ``search_mailbox`` the retrieval), under
  generating nodes the GenAI spans - all in one trace.
* The same tree without HTTP, through :func:`agents.assistant.run.ask` under a parent span
  (LangGraph's worker threads must carry the context).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from api.http.app import create_app
from api.http.observability import BoundedSpanExporter, Metrics, build_tracer_provider
from api.services import Services
from core import tracing
from tests.api.http.conftest import Keys, auth

pytestmark = pytest.mark.integration

QUESTION = "What did ACME quote for the housings?"


@pytest.fixture(scope="module")
def obs_app(http_services: Services) -> FastAPI:
    """An app of its own over the shared services, so its metrics and spans are this module's."""
    return create_app(http_services.settings, services=http_services, warm=False)


@pytest.fixture
async def obs_client(obs_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(obs_app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def _value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    for got, value in samples.get(name, []):
        if all(got.get(k) == v for k, v in labels.items()):
            return value
    raise AssertionError(f"no sample {name}{labels}; have {samples.get(name)}")


async def test_metrics_endpoint(
    obs_client: httpx.AsyncClient, obs_app: FastAPI, keys: Keys
) -> None:
    r = await obs_client.get(
        "/v1/search", params={"q": "invoice", "limit": 3}, headers=auth(keys.demo)
    )
    assert r.status_code == 200
    r = await obs_client.get("/v1/messages/m" + "0" * 20, headers=auth(keys.demo))
    assert r.status_code == 404
    assert (await obs_client.get("/healthz")).status_code == 200
    metrics: Metrics = obs_app.state.metrics
    for chosen in (True, False, True):
        metrics.record_chip_feedback(chosen)
    metrics.record_smart_reply(True)
    metrics.record_smart_reply(False)

    r = await obs_client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    s = _samples(r.text)
    hist = "mailmind_http_request_duration_seconds_count"
    assert _value(s, hist, method="GET", route="/v1/search", status="200") == 1
    assert _value(s, hist, method="GET", route="/v1/messages/{message_id}", status="404") == 1
    assert _value(s, hist, method="GET", route="/healthz", status="200") == 1
    # Raw paths never become label values (bounded cardinality, no ids in metrics).
    assert not any("m000" in labels.get("route", "") for labels, _ in s[hist])
    assert _value(s, "mailmind_retrieval_duration_seconds_count") >= 1
    assert _value(s, "mailmind_chip_feedback_total", chosen="true") == 2
    assert _value(s, "mailmind_chip_acceptance_ratio") == pytest.approx(2 / 3)
    assert _value(s, "mailmind_smart_reply_trigger_ratio") == pytest.approx(0.5)
    assert _value(s, "mailmind_generation_queue_depth", state="waiting") == 0
    assert _value(s, "mailmind_generation_queue_depth", state="running") == 0


async def test_smart_reply_and_chip_feedback_routes_feed_the_metrics(
    obs_client: httpx.AsyncClient, keys: Keys
) -> None:
    async def counts() -> tuple[float, float, float]:
        s = _samples((await obs_client.get("/metrics")).text)
        replies = sum(v for _, v in s["mailmind_smart_reply_requests_total"])
        chosen = _value(s, "mailmind_chip_feedback_total", chosen="true")
        none = _value(s, "mailmind_chip_feedback_total", chosen="false")
        return replies, chosen, none

    before = await counts()
    hits = await obs_client.get(
        "/v1/search", params={"q": "meeting", "limit": 1}, headers=auth(keys.demo)
    )
    message_id = hits.json()["results"][0]["message_id"]
    r = await obs_client.post(
        "/v1/smart-reply", json={"message_id": message_id}, headers=auth(keys.demo)
    )
    assert r.status_code == 200, r.text
    for chosen in (1, None):
        r = await obs_client.post(
            "/v1/feedback",
            json={"kind": "chip", "target_id": message_id, "chips_shown": ["Yes", "No"],
                  "chip_chosen": chosen},
            headers=auth(keys.demo),
        )  # fmt: skip
        assert r.status_code == 201, r.text
    after = await counts()
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (1, 1, 1)


async def test_request_id_header(obs_client: httpx.AsyncClient) -> None:
    made = await obs_client.get("/healthz")
    assert len(made.headers["x-request-id"]) >= 16
    given = await obs_client.get("/healthz", headers={"X-Request-ID": "client-id-42"})
    assert given.headers["x-request-id"] == "client-id-42"
    # Anything that is not a plain token is replaced, not echoed.
    odd = await obs_client.get("/healthz", headers={"X-Request-ID": "a b\tc<script>"})
    assert odd.headers["x-request-id"] != "a b\tc<script>"
    problem = await obs_client.get("/v1/search", params={"q": "x"})  # 401
    assert problem.json()["request_id"] == problem.headers["x-request-id"]


def _by_id(spans: Sequence[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans if s.context is not None}


def _parent(span: ReadableSpan, index: dict[int, ReadableSpan]) -> ReadableSpan | None:
    return index.get(span.parent.span_id) if span.parent is not None else None


def _check_agent_tree(spans: Sequence[ReadableSpan], root: ReadableSpan) -> dict[str, Any]:
    """Assert the assistant's spans hang under ``root`` as designed; return what was seen."""
    assert root.context is not None
    trace_id = root.context.trace_id
    in_trace = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
    index = _by_id(in_trace)
    nodes = [s for s in in_trace if (s.attributes or {}).get(tracing.GRAPH_NODE)]
    names = [str((s.attributes or {})[tracing.GRAPH_NODE]) for s in nodes]
    assert names and names[0] == "route", names
    assert {"route", "answer"} <= set(names)
    for node in nodes:
        assert node.parent is not None and node.parent.span_id == root.context.span_id, node.name

    tools = [s for s in in_trace if s.name.startswith("execute_tool ")]
    assert tools, "the question needs a tool"
    for tool in tools:
        parent = _parent(tool, index)
        assert parent is not None and (parent.attributes or {}).get(tracing.GRAPH_NODE) == "tools"
        assert (tool.attributes or {})[tracing.GEN_AI_TOOL_NAME] == tool.name.split(" ", 1)[1]

    generations = [
        s for s in in_trace if (s.attributes or {}).get(tracing.GEN_AI_OPERATION) == "chat"
    ]
    answered = False
    for gen in generations:
        attrs: dict[str, Any] = dict(gen.attributes or {})
        parent = _parent(gen, index)
        where = (parent.attributes or {}).get(tracing.GRAPH_NODE) if parent else None
        assert where in ("route", "plan", "answer"), gen.name
        assert gen.kind == SpanKind.CLIENT
        assert attrs[tracing.GEN_AI_REQUEST_MODEL]
        assert isinstance(attrs[tracing.GEN_AI_INPUT_TOKENS], int)
        assert attrs[tracing.GEN_AI_INPUT_TOKENS] > 0
        if where == "answer":
            answered = True
            assert attrs[tracing.GEN_AI_OUTPUT_TOKENS] > 0
            assert attrs[tracing.GEN_AI_TTFT] > 0
    assert answered, "the answer is generated under the answer node"

    for search in (s for s in in_trace if s.name == tracing.RETRIEVAL_SEARCH):
        parent = _parent(search, index)
        assert parent is not None and parent.name == "execute_tool search_mailbox"
    return {"nodes": names, "tools": [t.name for t in tools], "generations": len(generations)}


@pytest.fixture
def model_written_answers(http_services: Services) -> Iterator[None]:
    """The assistant with the model writing its answers (``compose_answers=False``), so one
    turn has a generation under every kind of node; the composed default is put back after."""
    from agents.assistant.graph import build_graph

    cached = http_services.assistant
    agent = http_services.settings.agent
    http_services.__dict__["assistant"] = build_graph(
        http_services.chat_model, http_services.router, checkpointer=http_services.checkpointer,
        max_steps=agent.max_steps, routing=agent.routing, compose_answers=False,
        context_length=http_services.settings.llm.context_length,
    )  # fmt: skip
    yield
    http_services.__dict__["assistant"] = cached


@pytest.mark.slow
@pytest.mark.usefixtures("model_written_answers")
async def test_chat_request_span_tree(
    obs_client: httpx.AsyncClient, obs_app: FastAPI, keys: Keys
) -> None:
    exporter: BoundedSpanExporter = obs_app.state.span_exporter
    exporter.clear()
    r = await obs_client.post(
        "/v1/chat",
        json={"messages": [{"role": "user", "content": QUESTION}],
              "now": "2026-11-12T09:00:00+01:00"},
        headers=auth(keys.demo),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    spans = exporter.get_finished_spans()
    servers = [
        s for s in spans
        if s.kind == SpanKind.SERVER and (s.attributes or {}).get("http.route") == "/v1/chat"
    ]  # fmt: skip
    assert len(servers) == 1
    seen = _check_agent_tree(spans, servers[0])
    assert "execute_tool search_mailbox" in seen["tools"]
    assert any(s.name == tracing.RETRIEVAL_SEARCH for s in spans)

    # The generations were turned into metrics too.
    s = _samples((await obs_client.get("/metrics")).text)
    assert _value(s, "mailmind_llm_tokens_total", type="output") > 0
    assert _value(s, "mailmind_llm_time_to_first_token_seconds_count") >= 1
    assert sum(v for _, v in s["mailmind_llm_tokens_per_second_count"]) >= 1


@pytest.fixture
def memory_provider() -> Iterator[BoundedSpanExporter]:
    """A provider of our own for code run without the app (restored afterwards)."""
    from core.settings import Settings

    provider, exporter = build_tracer_provider(Settings(_env_file=None))  # type: ignore[call-arg]
    assert exporter is not None
    tracing.use_tracer_provider(provider)
    yield exporter
    tracing.use_tracer_provider(None)


def test_ask_span_tree_without_http(
    http_services: Services, memory_provider: BoundedSpanExporter
) -> None:
    from agents.assistant.graph import build_graph
    from agents.assistant.run import ask
    from agents.llm.chat_model import MailmindChatModel
    from agents.llm.fake import FakeChatRuntime

    model = MailmindChatModel(
        runtime=FakeChatRuntime(["ACME quoted 4.12 per unit."], cycle=True), max_tokens=32
    )
    graph = build_graph(model, http_services.router, compose_answers=False)  # the model answers
    ctx = http_services.agent_context("demo")
    with tracing.span("test.parent") as parent:
        result = ask(graph, ctx, QUESTION)
    assert result.tool_calls
    spans = memory_provider.get_finished_spans()
    root = next(s for s in spans if s.context.span_id == parent.get_span_context().span_id)  # type: ignore[union-attr]
    seen = _check_agent_tree(spans, root)
    assert seen["generations"] >= 1


def test_tracing_is_a_no_op_without_a_provider() -> None:
    tracing.use_tracer_provider(None)
    with tracing.span("nothing", a=1) as s:
        assert not s.get_span_context().is_valid
    assert tracing.current_trace_id() is None


def test_bounded_exporter_keeps_the_last_spans() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = BoundedSpanExporter(maxlen=5)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    t = provider.get_tracer("t")
    for i in range(12):
        with t.start_as_current_span(f"s{i}"):
            pass
    assert [s.name for s in exporter.get_finished_spans()] == [f"s{i}" for i in range(7, 12)]


def test_otlp_endpoint_replaces_the_memory_exporter() -> None:
    from core.settings import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    settings.otel.endpoint = "http://127.0.0.1:4318"
    provider, memory = build_tracer_provider(settings)
    try:
        assert memory is None
        assert provider.resource.attributes["service.name"] == settings.otel.service_name
    finally:
        provider.shutdown()


def test_traced_generation_span_and_close(memory_provider: BoundedSpanExporter) -> None:
    from agents.llm.types import StreamDelta, Usage

    closed: list[str] = []

    def stream(texts: list[str], name: str) -> Iterator[StreamDelta]:
        try:
            for t in texts:
                yield StreamDelta(t)
            yield StreamDelta("", finish_reason="stop", usage=Usage(7, len(texts)))
        finally:
            closed.append(name)

    full = tracing.traced_generation(stream(["a", "b"], "full"), model="m", provider="fake")
    assert [d.text for d in full] == ["a", "b", ""]
    early = tracing.traced_generation(stream(["a", "b"], "early"), model="m", provider="fake")
    next(early)
    early.close()  # type: ignore[attr-defined]

    class Eager:
        """A runtime stream that holds its slot from the call, not from the first next()."""

        def __iter__(self) -> Eager:
            return self

        def __next__(self) -> StreamDelta:
            raise StopIteration

        def close(self) -> None:
            closed.append("eager")

    unstarted = tracing.traced_generation(Eager(), model="m", provider="fake")
    unstarted.close()  # type: ignore[attr-defined]
    assert closed == ["full", "early", "eager"]
    spans = [s for s in memory_provider.get_finished_spans() if s.name == "chat m"]
    assert len(spans) == 2
    attrs: dict[str, Any] = dict(spans[0].attributes or {})
    assert attrs[tracing.GEN_AI_INPUT_TOKENS] == 7 and attrs[tracing.GEN_AI_OUTPUT_TOKENS] == 2
    assert attrs[tracing.GEN_AI_FINISH_REASONS] == ("stop",)
    assert attrs[tracing.GEN_AI_TTFT] >= 0
    assert spans[1].status.is_ok  # a consumer that stopped early is not an error
