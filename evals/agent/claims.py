"""Unsupported-claim rate of an answer: the share of its checkable claims - numbers with two or
more digits, amounts, decimals and clock times - that occur nowhere in what the tools returned
in that run (:func:`unsupported_in`) nor in the question: an answer may only state what a tool
put there (a count, a free slot and a date the code computed included). Systems that call no
tools are checked against the user's whole data instead (:func:`unsupported`, the demo mailbox,
calendar and contacts). Small numbers (one digit) are skipped: they occur everywhere and prove
nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from evals.agent.metrics import normalise

# After normalise(): "3,800" -> "3800", "2pm" -> "14:00", "555-0111" -> "555 0111".
_CLAIM = re.compile(r"(?<![\w.])\d+(?:[.:]\d+)*(?![\w])")


def claims(text: str) -> list[str]:
    """The checkable claims of ``text`` (normalised), in order, without repeats."""
    found = [c.rstrip(".") for c in _CLAIM.findall(normalise(text))]
    return list(dict.fromkeys(c for c in found if sum(ch.isdigit() for ch in c) >= 2))


@lru_cache(maxsize=4)
def _corpus(demo_dir: Path) -> str:
    from evals.agent.runner import _demo_passages

    passages = _demo_passages(demo_dir)
    return normalise("\n".join(text for part in passages.values() for _, text in part))


def unsupported(text: str, question: str, demo_dir: Path) -> tuple[int, int]:
    """(unsupported claims, checkable claims) of an answer."""
    from evals.agent.metrics import contains_fact

    corpus = _corpus(demo_dir) + "\n" + normalise(question)
    found = claims(text)
    return sum(1 for c in found if not contains_fact(corpus, c)), len(found)


def unsupported_in(text: str, question: str, evidence: str) -> tuple[int, int]:
    """(unsupported claims, checkable claims) of an answer against the run's tool results."""
    from evals.agent.metrics import contains_fact

    reference = normalise(evidence) + "\n" + normalise(question)
    found = claims(text)
    return sum(1 for c in found if not contains_fact(reference, c)), len(found)
