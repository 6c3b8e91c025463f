"""The bounded generation gate: every route running the LLM or the assistant graph passes it.

Two cores are not made faster by eight interleaved decodes, only every caller slower. So at most
``max_running`` generations run at once, at most ``max_waiting`` more wait (FIFO) for a slot, and
any request beyond that is answered **503 + Retry-After at once** instead of joining a queue whose
latency grows without bound.

The work itself runs in a worker thread (the graph, the model and the encoder are synchronous and
CPU-bound; the event loop stays free) and owns its slot until it has really stopped, so a client
that goes away or a request past ``timeout_s`` (504) frees capacity only once its decode has ended.
Stopping is cooperative, through a :class:`CancelToken` the worker checks:

* between the events of a streamed graph run (the producer loop checks ``token.cancelled``);
* inside LangChain: a callback handler, installed for the worker's context through LangChain's
  configure hook, raises :class:`GenerationCancelled` at the next token, the next LLM call or
  the next graph node. Chat models stream token by token while that handler is attached (it is a
  streaming handler), so :class:`~agents.llm.chat_model.MailmindChatModel` stops mid-decode and
  closes its runtime stream, which frees the runtime's own slot.

Typical use in a route::

    result = await gate.run(lambda token: summarize(...), request=request)      # JSON routes
    job = await gate.start(lambda token: produce_events(token))                 # streaming
    async for event in job.events(request): ...
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Request
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.context import register_configure_hook

from api.http.errors import ProblemError

T = TypeVar("T")
log = logging.getLogger("mailmind.http")

#: How often a waiting route checks whether its client is still there (seconds).
POLL_S = 0.25


class GenerationCancelled(Exception):  # noqa: N818 - it is a signal, not a failure
    """Raised inside a worker when its request was cancelled (client gone, timeout)."""


class CancelToken:
    """A cancellation flag with a deadline, shared by a route and its worker thread."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.reason: str | None = None
        self._event = threading.Event()

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the worker to stop (idempotent; the first reason wins)."""
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether the worker should stop now (a passed deadline counts as a cancel)."""
        if not self._event.is_set() and time.monotonic() > self.deadline:
            self.cancel("timeout")
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`GenerationCancelled` if the work should stop."""
        if self.cancelled:
            raise GenerationCancelled(self.reason or "cancelled")


# -- stopping LangChain work at the next token --------------------------------------------------


class _CancelOnEvent(BaseCallbackHandler):
    """Raises :class:`GenerationCancelled` from LangChain callbacks once its token is cancelled.

    ``raise_error`` makes LangChain propagate the exception instead of logging it. Defining the
    two ``tap_output_*`` methods makes it a streaming handler in LangChain's eyes, so chat models
    stream (and report each token) while it is attached, which is what lets a decode stop early.
    """

    raise_error = True
    run_inline = True

    def __init__(self, token: CancelToken) -> None:
        self.token = token

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.token.check()

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, **kwargs: Any) -> None:
        self.token.check()

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        self.token.check()

    def on_chain_start(self, serialized: dict[str, Any], inputs: Any, **kwargs: Any) -> None:
        self.token.check()

    def on_tool_start(self, serialized: dict[str, Any], input_str: str, **kwargs: Any) -> None:
        self.token.check()

    # LangChain's ``_StreamingCallbackHandler`` protocol: pass outputs through unchanged.
    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        return output

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        return output


_cancel_handler: contextvars.ContextVar[_CancelOnEvent | None] = contextvars.ContextVar(
    "mailmind_cancel_handler", default=None
)
_hook_lock = threading.Lock()
_hook_registered = threading.Event()


def _register_hook() -> None:
    """Attach the context's cancel handler to every LangChain run (once per process)."""
    with _hook_lock:
        if not _hook_registered.is_set():
            register_configure_hook(_cancel_handler, inheritable=True)
            _hook_registered.set()


# -- the gate -----------------------------------------------------------------------------------


class Ticket:
    """One held slot; :meth:`release` is idempotent and safe from any thread."""

    def __init__(self, gate: GenerationGate) -> None:
        self._gate = gate
        self._lock = threading.Lock()
        self._released = False

    def release(self) -> None:
        """Give the slot back (to the next waiter, if any)."""
        with self._lock:
            if self._released:
                return
            self._released = True
        self._gate._release()


class GenerationGate:
    """At most ``max_running`` generations at once, ``max_waiting`` queued, the rest 503.

    ``retry_after_s`` is the ``Retry-After`` of a refusal; ``timeout_s`` bounds a request from
    the moment it asks for a slot (queueing included) and answers 504 when exceeded.
    Thread-safe and not bound to an event loop (the app may be served from several loops in
    tests).
    """

    def __init__(
        self, max_running: int, max_waiting: int, retry_after_s: int, timeout_s: float
    ) -> None:
        if max_running < 1 or max_waiting < 0:
            raise ValueError("max_running must be >= 1 and max_waiting >= 0")
        self.max_running = max_running
        self.max_waiting = max_waiting
        self.retry_after_s = retry_after_s
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._running = 0
        self._waiters: deque[tuple[asyncio.Future[None], asyncio.AbstractEventLoop]] = deque()
        #: Requests refused with 503 and requests that ran past the timeout (504), since start.
        self.rejected = 0
        self.timed_out = 0
        _register_hook()

    # -- metrics ---------------------------------------------------------------------------

    @property
    def running(self) -> int:
        """Generations holding a slot (their worker threads have not ended yet)."""
        return self._running

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return len(self._waiters)

    def depth(self) -> tuple[int, int]:
        """``(running, waiting)`` for the queue-depth gauges."""
        with self._lock:
            return self._running, len(self._waiters)

    # -- slots -----------------------------------------------------------------------------

    def _busy(self) -> ProblemError:
        self.rejected += 1
        return ProblemError(
            503, "model busy",
            f"{self.max_running} generation(s) running and {self.max_waiting} waiting; "
            f"retry in {self.retry_after_s} s",
            code="overloaded", headers={"Retry-After": str(self.retry_after_s)},
        )  # fmt: skip

    def timeout_error(self) -> ProblemError:
        """The 504 answered when a request runs past ``timeout_s``."""
        self.timed_out += 1
        return ProblemError(
            504, "request timed out",
            f"the request took longer than {self.timeout_s:g} s and was cancelled",
            code="timeout",
        )  # fmt: skip

    async def acquire(self, deadline: float | None = None) -> Ticket:
        """A slot now, or after waiting in line; 503 at once when the line is full, 504 when
        ``deadline`` (``time.monotonic()``) passes while waiting."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._running < self.max_running and not self._waiters:
                self._running += 1
                return Ticket(self)
            if len(self._waiters) >= self.max_waiting:
                raise self._busy()
            fut: asyncio.Future[None] = loop.create_future()
            entry = (fut, loop)
            self._waiters.append(entry)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            await asyncio.wait_for(fut, remaining)
        except BaseException as exc:
            with self._lock:
                queued = entry in self._waiters
                if queued:
                    self._waiters.remove(entry)
            if not queued and fut.done() and not fut.cancelled():
                # The slot was handed over just as we gave up: pass it on.
                self._release()
            if isinstance(exc, TimeoutError):
                raise self.timeout_error() from None
            raise
        return Ticket(self)

    def _release(self) -> None:
        with self._lock:
            if self._waiters:
                # Hand the slot straight to the next waiter: ``running`` stays the same.
                fut, loop = self._waiters.popleft()
            else:
                self._running -= 1
                return
        try:
            loop.call_soon_threadsafe(self._wake, fut)
        except RuntimeError:  # that waiter's loop is gone: nobody will take the slot there
            self._release()

    def _wake(self, fut: asyncio.Future[None]) -> None:
        if fut.done():  # the waiter gave up (timeout, disconnect) meanwhile
            self._release()
        else:
            fut.set_result(None)

    # -- running work ----------------------------------------------------------------------

    async def start(self, produce: Callable[[CancelToken], Iterator[T]]) -> Job[T]:
        """Take a slot (or raise 503/504) and start ``produce`` in a worker thread.

        The worker holds the slot until ``produce`` is exhausted, raises or notices its token
        is cancelled; the items it yields come out of :meth:`Job.events`.
        """
        token = CancelToken(time.monotonic() + self.timeout_s)
        ticket = await self.acquire(token.deadline)
        return Job(self, ticket, token, produce, asyncio.get_running_loop())

    async def run(self, fn: Callable[[CancelToken], T], *, request: Request | None = None) -> T:
        """Run ``fn`` under a slot in a worker thread and return its result (503/504 as above;
        a disconnected ``request`` cancels it)."""

        def produce(token: CancelToken) -> Iterator[T]:
            yield fn(token)

        job = await self.start(produce)
        # Read to the end: the worker gives its slot back before its end marker, so the next
        # request this client sends finds the slot free.
        results = [item async for item in job.events(request)]
        if not results:
            # Only when the client went away: nobody reads this answer (nginx's 499).
            raise ProblemError(499, "client closed request", code="client_closed")
        return results[0]


_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Job(Generic[T]):
    """Work running in its own thread under a gate slot; items reach the loop through a queue."""

    def __init__(
        self,
        gate: GenerationGate,
        ticket: Ticket,
        token: CancelToken,
        produce: Callable[[CancelToken], Iterator[T]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.gate = gate
        self.token = token
        self.finished = threading.Event()
        self._ticket = ticket
        self._produce = produce
        self._loop = loop
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        # The worker runs in a copy of the route's context: spans it opens nest under the
        # request's span, and the cancel handler it sets stays private to this job.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._work,), name="mailmind-generation", daemon=True
        )
        self._thread.start()

    def _put(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.token.cancel("event loop closed")

    def _work(self) -> None:
        # Attach this job's cancel handler to every LangChain run started from here
        # (LangGraph copies the context to its own workers).
        _cancel_handler.set(_CancelOnEvent(self.token))
        try:
            items = self._produce(self.token)
            try:
                for item in items:
                    self._put(item)
                    if self.token.cancelled:
                        break
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()  # stops a graph stream between events
        except GenerationCancelled:
            log.info("generation stopped: %s", self.token.reason)
        except BaseException as exc:  # noqa: BLE001 - handed to the route, which re-raises
            if self.token.cancelled:
                log.info("generation stopped: %s", self.token.reason)
            else:
                self._put(_Failure(exc))
        finally:
            self._ticket.release()
            self.finished.set()
            self._put(_END)

    async def events(self, request: Request | None = None) -> AsyncGenerator[T, None]:
        """The worker's items as they come. Leaving the loop early, a client disconnect or the
        deadline cancels the worker; the deadline also raises 504."""
        try:
            while True:
                try:
                    item = await asyncio.wait_for(self._queue.get(), POLL_S)
                except TimeoutError:
                    if request is not None and await request.is_disconnected():
                        self.token.cancel("client disconnected")
                        return
                    if self.token.cancelled:
                        if self.token.reason == "timeout":
                            raise self.gate.timeout_error() from None
                        return
                    continue
                if item is _END:
                    if self.token.reason == "timeout":
                        raise self.gate.timeout_error()
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            self.token.cancel("consumer left")


async def get_gate(request: Request) -> GenerationGate:
    """The app's :class:`GenerationGate` (made in ``create_app``)."""
    return request.app.state.generation  # type: ignore[no-any-return]


#: The app's generation gate.
GateDep = Annotated[GenerationGate, Depends(get_gate)]
