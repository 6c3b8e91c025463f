"""Scoring for the agent eval: fact recall over a free-text answer, tool-choice scores, aggregates.

Fact matching is a substring test on *normalised* text, made robust to the ways a model writes
the same fact:

* case, Unicode accents (``José`` == ``Jose``), curly quotes, dash variants, ``&`` == ``and``;
* thousands separators (``20,600`` == ``20600``) and ordinals (``12th`` == ``12``);
* times: ``2pm``, ``2:00 PM``, ``2 p.m.`` and ``14:00`` all become ``14:00``; ``09:30`` == ``9:30``;
  ``noon`` == ``12:00``;
* hyphens or spaces between digits are one separator (``555-0111`` == ``555 0111``);
* a fact that starts (ends) with a digit must not be preceded (followed) by another digit, so
  ``4.12`` does not match inside ``24.12`` and ``2 dec`` does not match inside ``12 dec``.

Dates are written in the task file as ``{date: 2027-01-12}`` and expand to the usual spellings
(:func:`date_variants`).
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_ABBR = tuple(m[:3] for m in _MONTHS)

_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−"), "-")
_QUOTES = {ord("‘"): "'", ord("’"): "'", ord("“"): '"', ord("”"): '"'}
_WS = re.compile(r"\s+")
_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_MONTH_DOT = re.compile(r"\b(" + "|".join((*_MONTH_ABBR, "sept")) + r")\.")
_AMPM = re.compile(r"(?<![\d:.])(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?")
_NOON = re.compile(r"\bnoon\b|\bmidday\b")
_LEADING_ZERO = re.compile(r"(?<![\d:.])0(\d:\d{2})")
_DIGIT_SEP = re.compile(r"(?<=\d)[ \-]+(?=\d)")


def _ampm(match: re.Match[str]) -> str:
    hour, minute, half = int(match.group(1)), match.group(2) or "00", match.group(3)
    if hour > 12:  # "14pm": leave it to the 24h reading
        return f"{hour}:{minute}"
    hour = hour % 12 + (12 if half == "p" else 0)
    return f"{hour}:{minute}"


def normalise(text: str) -> str:
    """Canonical form used on both sides of a fact match (see the module docstring)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().translate(_DASHES).translate(_QUOTES)
    text = text.replace("&", " and ")
    text = _WS.sub(" ", text)
    text = _ORDINAL.sub(r"\1", text)
    text = _THOUSANDS.sub("", text)
    text = _MONTH_DOT.sub(r"\1", text)
    text = _NOON.sub("12:00", text)
    text = _AMPM.sub(_ampm, text)
    text = _LEADING_ZERO.sub(r"\1", text)
    text = _DIGIT_SEP.sub(" ", text)
    return text.strip()


def date_variants(day: date) -> list[str]:
    """Usual spellings of a calendar date: ISO, ``12 Jan``, ``Jan 12``, ``January 12``, ``1/12``."""
    month, abbr, d = _MONTHS[day.month - 1], _MONTH_ABBR[day.month - 1], day.day
    variants = [
        day.isoformat(),
        f"{d} {abbr}",
        f"{abbr} {d}",
        f"{d} {month}",
        f"{month} {d}",
        f"{d} of {month}",
        f"{day.month}/{d}",
    ]
    if month == "september":
        variants += [f"{d} sept", f"sept {d}"]
    return variants


def contains_fact(normalised_answer: str, alternative: str) -> bool:
    """Whether one spelling of a fact occurs in an already-normalised answer."""
    needle = normalise(alternative)
    if not needle:
        return False
    pattern = re.escape(needle)
    if needle[0].isdigit():
        pattern = r"(?<!\d)" + pattern
    if needle[-1].isdigit():
        pattern += r"(?!\d)"
    return re.search(pattern, normalised_answer) is not None


class FactLike(Protocol):
    """Anything with spellings to look for (``evals.agent.dataset.Fact``, or a test double)."""

    def alternatives(self) -> list[str]:
        """All accepted spellings; the fact is present when any one occurs."""
        ...


def fact_hits(answer: str, facts: Sequence[str | FactLike]) -> list[bool]:
    """For each fact, whether any of its spellings occurs in ``answer``."""
    norm = normalise(answer)
    hits = []
    for fact in facts:
        alts = [fact] if isinstance(fact, str) else fact.alternatives()
        hits.append(any(contains_fact(norm, alt) for alt in alts))
    return hits


def fact_recall(answer: str, facts: Sequence[str | FactLike]) -> float:
    """Fraction of ``facts`` present in ``answer`` (1.0 when there are no facts)."""
    if not facts:
        return 1.0
    hits = fact_hits(answer, facts)
    return sum(hits) / len(hits)


def first_tool_correct(expected: Sequence[str], called: Sequence[str]) -> bool:
    """Whether the first tool the agent called is the task's expected first tool."""
    return bool(expected) and bool(called) and called[0] == expected[0]


def first_tool_accuracy(pairs: Iterable[tuple[Sequence[str], Sequence[str]]]) -> float:
    """Share of ``(expected, called)`` pairs whose first call is the expected first tool."""
    scores = [first_tool_correct(exp, got) for exp, got in pairs]
    return sum(scores) / len(scores) if scores else 0.0


def tool_set_recall(expected: Sequence[str], called: Sequence[str]) -> float:
    """Share of the expected tools that were called at some step (order and repeats ignored)."""
    wanted = set(expected)
    if not wanted:
        return 1.0
    return len(wanted & set(called)) / len(wanted)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def median(values: Sequence[float]) -> float:
    """Median of ``values``; NaN when empty."""
    return float(statistics.median(values)) if values else math.nan


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean of ``values``; NaN when empty."""
    return float(statistics.fmean(values)) if values else math.nan
