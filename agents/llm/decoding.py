"""Pieces the in-process runtimes share: the generation gate, stop sequences, JSON closing bias.

Kept free of torch and llama.cpp imports so both runtimes (and the unit tests) use the same code.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from agents.llm.types import (
    ChatMessage,
    GenerationConfig,
    StreamDelta,
    StreamingRuntime,
    Usage,
)
from core.errors import ModelError

#: Characters whose tokens end a JSON value or container. Past the token budget of a structured
#: generation these tokens get a large logit bonus; the grammar still decides which are legal,
#: so the bias only ever shortens a valid document, never breaks it.
_CLOSING_CHARS = frozenset('"}]')

#: Logit bonus for closing tokens past the budget: large enough to beat any real logit.
CLOSING_BIAS = 100.0


class GenerationGate:
    """A bounded queue in front of the model.

    At most ``max_concurrency`` generations run at once (two cores are not made faster by four
    interleaved decodes, only every caller slower); up to ``max_waiting`` more wait their turn and
    any beyond that are refused at once with :class:`~core.errors.ModelError` instead of piling up.
    """

    def __init__(self, max_concurrency: int = 1, max_waiting: int = 64) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()
        self._waiting = 0
        self.max_concurrency = max_concurrency
        self.max_waiting = max_waiting

    @property
    def waiting(self) -> int:
        """Callers currently queued for a slot."""
        return self._waiting

    @contextmanager
    def slot(self, cancel: threading.Event | None = None) -> Iterator[bool]:
        """Hold a generation slot; yields ``False`` when ``cancel`` was set while queued."""
        acquired = self._slots.acquire(blocking=False)
        if not acquired:
            with self._lock:
                if self._waiting >= self.max_waiting:
                    raise ModelError(
                        f"model busy: {self._waiting} generations already queued; retry later "
                        "or raise MAILMIND_LLM__MAX_CONCURRENCY"
                    )
                self._waiting += 1
            try:
                # Poll so a caller that went away while queued never takes a slot.
                while not (acquired := self._slots.acquire(timeout=0.05)):
                    if cancel is not None and cancel.is_set():
                        break
            finally:
                with self._lock:
                    self._waiting -= 1
        try:
            yield acquired
        finally:
            if acquired:
                self._slots.release()


class StopBuffer:
    """Turns a growing completion text into safe-to-emit deltas, honouring stop sequences.

    Text that could be the start of a stop sequence is held back until it is known not to be one,
    so a streamed stop sequence never leaks to the caller.
    """

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._hold = max((len(s) for s in self.stops), default=1) - 1
        self.emitted = 0
        self.stopped = False

    def feed(self, text: str) -> str:
        """Give the full text so far; returns the new part that can be emitted now."""
        if self.stopped:
            return ""
        # Held-back text guarantees a stop sequence never starts before ``emitted``.
        hits = [i for s in self.stops if (i := text.find(s, self.emitted)) >= 0]
        if hits:
            cut = min(hits)
            self.stopped = True
            delta = text[self.emitted : cut]
            self.emitted = cut
            return delta
        # A trailing U+FFFD is a multi-byte character cut in half by the tokenizer: wait for it.
        safe = len(text.rstrip("\ufffd"))
        if self.stops:
            safe = min(safe, len(text) - self._hold)
        if safe <= self.emitted:
            return ""
        delta = text[self.emitted : safe]
        self.emitted = safe
        return delta

    def flush(self, text: str) -> str:
        """At the end of generation: everything not yet emitted (unless a stop cut it)."""
        if self.stopped:
            return ""
        delta = text[self.emitted :]
        self.emitted = len(text)
        return delta


def closing_token_ids(pieces: Iterable[tuple[int, str]]) -> list[int]:
    """Ids of tokens made only of JSON closing characters (``"``, ``}``, ``]``, maybe spaces)."""
    ids: list[int] = []
    for token_id, piece in pieces:
        stripped = piece.strip()
        if stripped and set(stripped) <= _CLOSING_CHARS:
            ids.append(token_id)
    return ids


def cpu_threads() -> int:
    """Default compute threads: every core this process may use but one.

    Measured on the two-core box while other work ran: llama.cpp decoded SmolLM2 at 62-79 tok/s
    with one thread and 2-11 tok/s with two (its threads spin-wait on each other, and one of them
    is always descheduled); transformers 13 against 2.7 tok/s. Leaving a core free also keeps the
    API's event loop responsive during a generation. ``MAILMIND_LLM__THREADS`` overrides it.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


class GatedRuntime(StreamingRuntime):
    """An in-process runtime: each generation waits for a slot of :attr:`gate`, then decodes."""

    gate: GenerationGate

    def stream(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamDelta]:
        """Stream a completion; waits for a slot of the generation gate first."""
        started = time.perf_counter()
        with self.gate.slot(cancel) as acquired:
            if not acquired:
                yield StreamDelta("", finish_reason="cancelled", usage=Usage())
                return
            yield from self._decode(messages, config, cancel, started)

    def _decode(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        cancel: threading.Event | None,
        started: float,
    ) -> Iterator[StreamDelta]:
        """Decode while holding the slot; ``started`` is when the caller asked (for TTFT)."""
        raise NotImplementedError
