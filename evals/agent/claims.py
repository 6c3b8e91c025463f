"""Unsupported-claim rate of an answer: the share of its checkable claims - numbers with two or
more digits, amounts, decimals and clock times - that occur nowhere in the user's data (the demo
mailbox, calendar and contacts) nor in the question. A number the data does not contain was made
up by the model. Small numbers (one digit) are skipped: they occur everywhere and prove nothing.
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
