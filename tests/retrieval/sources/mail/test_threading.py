"""JWZ threading: parent links, phantom roots, subject fallback, order independence."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from retrieval.sources.mail.threading import ThreadInput, thread

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def msg(
    mid: str, refs: tuple[str, ...] = (), irt: str | None = None, subject: str = "s",
    reply: bool = False, days: float = 0,
) -> ThreadInput:  # fmt: skip
    return ThreadInput(mid, refs, irt, subject, reply, T0 + timedelta(days=days))


def test_references_chain_and_phantom_root() -> None:
    items = [
        msg("a"),
        msg("b", ("a",), "a", reply=True, days=1),
        msg("c", ("a", "b"), "b", reply=True, days=2),
        # replies to a message we never saw share a thread through the phantom
        msg("x", ("missing",), "missing", subject="other", reply=True, days=3),
        msg("y", ("missing",), "missing", subject="other", reply=True, days=4),
        msg("z", subject="unrelated", days=5),
    ]
    t = thread(items)
    assert t["a"] == t["b"] == t["c"]
    assert t["x"] == t["y"] != t["a"]
    assert len(set(t.values())) == 3


def test_subject_fallback_only_for_replies_within_window() -> None:
    items = [
        msg("orig", subject="west position"),
        msg("re1", subject="west position", reply=True, days=2),
        msg("late", subject="west position", reply=True, days=90),
        msg("other", subject="weekly report"),
        msg("other2", subject="weekly report", days=7),  # no Re: prefix: separate thread
    ]
    t = thread(items)
    assert t["orig"] == t["re1"]
    assert t["late"] != t["orig"]
    assert t["other"] != t["other2"]


def test_thread_ids_do_not_depend_on_order() -> None:
    items = [msg(f"m{i}", (f"m{i - 1}",) if i % 3 else (), None, f"s{i // 3}", bool(i % 3), i)
             for i in range(60)]  # fmt: skip
    expected = thread(items)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = items[:]
        rng.shuffle(shuffled)
        assert thread(shuffled) == expected


def test_reference_loops_do_not_hang() -> None:
    items = [msg("a", ("b",), "b"), msg("b", ("a",), "a", days=1)]
    t = thread(items)
    assert t["a"] == t["b"]
