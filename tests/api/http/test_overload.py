"""The generation gate: bounded queue (503 + Retry-After), timeouts (504), cancellation.

The app here runs a one-node graph over a deliberately slow fake chat model (no weights, no
index), so a generation takes a known time and the gate, not the model, is under test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from agents.assistant.state import AssistantState
from agents.llm.fake import FakeChatModel
from api.http.app import create_app
from api.http.errors import ProblemError
from api.http.generation import GenerationCancelled, GenerationGate
from api.services import Services
from core.settings import ServerSettings, Settings
from tests.api.http.conftest import LiveServer, auth, free_port

#: Words per scripted answer and the pause after each: one answer takes WORDS * DELAY_S.
WORDS = 10
DELAY_S = 0.1
#: A long answer for the disconnect test (would take 20 s if nobody stopped it).
LONG_WORDS = 200


class SlowChatModel(FakeChatModel):
    """The fake chat model, pausing after every streamed word and counting the words sent."""

    delay_s: float = DELAY_S
    emitted: int = 0

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in super()._stream(messages, stop, run_manager, **kwargs):
            time.sleep(self.delay_s)
            self.emitted += 1
            yield chunk


def one_node_graph(model: FakeChatModel) -> Any:
    """The assistant's state and stream shape, one ``answer`` node calling ``model``."""

    def answer(state: AssistantState) -> dict[str, Any]:
        question = next(m for m in reversed(state["messages"]) if isinstance(m, HumanMessage))
        text = str(model.invoke([question]).content)
        return {"messages": [AIMessage(content=text)], "answer": text, "citations": []}

    graph = StateGraph(AssistantState)
    graph.add_node("answer", answer)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    return graph.compile(checkpointer=InMemorySaver())


@pytest.fixture(scope="module")
def slow_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Services over an empty data dir whose assistant is the one-node graph (slow model)."""
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("overload")), _env_file=None)  # type: ignore[call-arg]
    services = Services(settings)
    model = SlowChatModel(responses=[" ".join(["word"] * WORDS)], cycle=True)
    # Services caches built collaborators in its __dict__ (cached_property): replace them.
    services.__dict__["chat_model"] = model
    services.__dict__["assistant"] = one_node_graph(model)
    services.__dict__["searcher"] = None  # no tool runs: no encoder, no index
    yield services
    services.close()


@pytest.fixture(scope="module")
def slow_key(slow_services: Services) -> str:
    """A user key on the slow services."""
    return slow_services.keys.create("demo", name="overload")[1]


def make_app(services: Services, **server: Any) -> FastAPI:
    """An app over ``services`` with its own server settings (queue size, timeout)."""
    settings = Settings(
        data_dir=services.settings.data_dir,
        server=ServerSettings(**server),
        _env_file=None,  # type: ignore[call-arg]
    )
    return create_app(settings, services=services, warm=False)


@asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def _wait_idle(gate: GenerationGate, within_s: float) -> float:
    """Seconds until the gate holds no slot, failing after ``within_s``."""
    started = time.monotonic()
    while gate.depth() != (0, 0):
        assert time.monotonic() - started < within_s, f"gate still busy: {gate.depth()}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def _chat(question: str = "hello there") -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}]}


# -- the gate on its own ------------------------------------------------------------------------


async def test_gate_refuses_beyond_running_plus_waiting() -> None:
    gate = GenerationGate(max_running=1, max_waiting=1, retry_after_s=7, timeout_s=10)
    first = await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0.01)
    assert gate.depth() == (1, 1)
    with pytest.raises(ProblemError) as refused:
        await gate.acquire()
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "7"}
    first.release()
    first.release()  # idempotent: the slot is not given back twice
    second = await asyncio.wait_for(waiter, 1)
    assert gate.depth() == (1, 0)
    second.release()
    assert gate.depth() == (0, 0)
    assert gate.rejected == 1


async def test_gate_serves_waiters_in_order_and_drops_those_that_left() -> None:
    gate = GenerationGate(max_running=1, max_waiting=3, retry_after_s=1, timeout_s=10)
    held = await gate.acquire()
    order: list[str] = []

    async def take(name: str) -> None:
        ticket = await gate.acquire()
        order.append(name)
        ticket.release()

    a = asyncio.create_task(take("a"))
    await asyncio.sleep(0.01)
    gone = asyncio.create_task(take("gone"))
    await asyncio.sleep(0.01)
    b = asyncio.create_task(take("b"))
    await asyncio.sleep(0.01)
    gone.cancel()  # a client that disconnects while queued never takes a slot
    await asyncio.sleep(0.01)
    assert gate.depth() == (1, 2)
    held.release()
    await asyncio.wait_for(asyncio.gather(a, b), 1)
    assert order == ["a", "b"]
    assert gate.depth() == (0, 0)


async def test_gate_times_out_a_waiter_with_504() -> None:
    gate = GenerationGate(max_running=1, max_waiting=1, retry_after_s=1, timeout_s=0.2)
    held = await gate.acquire()
    with pytest.raises(ProblemError) as late:
        await gate.acquire(deadline=time.monotonic() + 0.1)
    assert late.value.status == 504
    assert gate.depth() == (1, 0)
    held.release()
    assert gate.depth() == (0, 0)


async def test_gate_run_returns_result_and_cancelled_work_frees_its_slot() -> None:
    gate = GenerationGate(max_running=1, max_waiting=0, retry_after_s=1, timeout_s=0.3)
    assert await gate.run(lambda token: 41 + 1) == 42
    steps: list[int] = []

    def endless(token: Any) -> int:
        while True:  # cooperative work: checks its token between steps
            token.check()
            steps.append(1)
            time.sleep(0.01)

    with pytest.raises(ProblemError) as late:
        await gate.run(endless)
    assert late.value.status == 504
    await _wait_idle(gate, 2)
    done = len(steps)
    await asyncio.sleep(0.1)
    assert len(steps) == done  # the worker really stopped
    assert issubclass(GenerationCancelled, Exception)


# -- over HTTP ----------------------------------------------------------------------------------


async def test_overload_answers_200_or_503_never_hangs(
    slow_services: Services, slow_key: str
) -> None:
    app = make_app(slow_services, generation_queue=1, retry_after_s=3)
    async with _client(app) as client:
        started = time.monotonic()
        replies = await asyncio.wait_for(
            asyncio.gather(
                *(client.post("/v1/chat", json=_chat(), headers=auth(slow_key)) for _ in range(8))
            ),
            timeout=30,
        )
        elapsed = time.monotonic() - started
        statuses = sorted(r.status_code for r in replies)
        assert set(statuses) <= {200, 503}, statuses
        # One running plus one waiting are served; the other six are refused at once.
        assert statuses.count(200) == 2
        assert statuses.count(503) == 6
        for r in replies:
            if r.status_code == 503:
                assert r.headers["Retry-After"] == "3"
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["status"] == 503
            else:
                assert r.json()["answer"].split() == ["word"] * WORDS
        # Two generations back to back, not eight.
        assert elapsed < 2 * WORDS * DELAY_S + 10
        assert app.state.generation.depth() == (0, 0)


async def test_request_past_timeout_gets_504_and_stops(
    slow_services: Services, slow_key: str
) -> None:
    app = make_app(slow_services, request_timeout_s=0.3)
    model = slow_services.chat_model
    assert isinstance(model, SlowChatModel)
    async with _client(app) as client:
        before = model.emitted
        r = await client.post("/v1/chat", json=_chat(), headers=auth(slow_key))
        assert r.status_code == 504
        assert r.headers["content-type"].startswith("application/problem+json")
        await _wait_idle(app.state.generation, 2)
        # Stopped at the next token: far fewer words than the answer has.
        assert model.emitted - before < WORDS


@pytest.fixture(scope="module")
def slow_live(slow_services: Services) -> Iterator[tuple[LiveServer, FastAPI]]:
    """A real uvicorn over the slow app (disconnects need a real socket)."""
    app = make_app(slow_services)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", server=server), app
    server.should_exit = True
    thread.join(timeout=30)


@pytest.mark.server
async def test_client_disconnect_cancels_generation(
    slow_services: Services, slow_key: str, slow_live: tuple[LiveServer, FastAPI]
) -> None:
    live, app = slow_live
    model = slow_services.chat_model
    assert isinstance(model, SlowChatModel)
    # The next answer is long: 200 words, 20 s if nobody stopped it.
    model.responses = [" ".join(["long"] * LONG_WORDS)]
    model.reset()
    gate = app.state.generation
    headers = {**auth(slow_key), "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(base_url=live.url, timeout=10) as client,
        client.stream("POST", "/v1/chat", json=_chat(), headers=headers) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        tokens = 0
        async for line in r.aiter_lines():
            if line.startswith("data:") and "text" in json.loads(line[5:]):
                tokens += 1
            if tokens == 3:
                break  # leave: closing the stream closes the connection
    assert gate.depth()[0] <= 1
    await _wait_idle(gate, 10)
    assert model.emitted < LONG_WORDS // 2
    model.responses = [" ".join(["word"] * WORDS)]
    model.reset()
