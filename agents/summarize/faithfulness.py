"""Is a summary sentence supported by the messages it cites?

Two signals, both cheap: the sentence's embedding similarity to the best-matching sentence of the
cited messages, and the overlap of its numbers and named entities (capitalised words, ids like
NW-482, amounts) with the cited text. A sentence passes when the similarity clears
``min_similarity`` and at least ``min_overlap`` of its numbers/entities occur in the sources —
invented figures and names are the typical failure of small models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from retrieval.index.embeddings import Embedder

_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n{2,}|\n(?=[-*•]\s)")
_NUMBER = re.compile(r"\d[\d,./:-]*\d|\d")
_ENTITY = re.compile(r"\b[A-Z][a-zA-Z]+(?:[- ][A-Z][a-zA-Z]+)*\b|\b[A-Z]{2,}[-\d]*\d\b")
_STARTERS = frozenset(
    "The A An This That It We They He She I You Our Their His Her Its There Please Thanks "
    "Hi Hello Dear Re Fw Fwd Yes No Also And But So Then".split()
)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (keeps bullet lines separate, drops empty ones)."""
    parts = (p.strip(" \n-*•\t") for p in _SENT_SPLIT.split(text.replace("\r\n", "\n")))
    return [" ".join(p.split()) for p in parts if len(p.strip()) > 2]


def key_terms(text: str) -> set[str]:
    """Numbers and named entities of ``text``, normalised for comparison."""
    nums = {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}
    ents = {e.lower() for e in _ENTITY.findall(text) if e not in _STARTERS}
    return nums | ents


@dataclass(slots=True, frozen=True)
class Support:
    """How well one sentence is supported by its cited sources."""

    similarity: float
    overlap: float
    supported: bool


class FaithfulnessChecker:
    """Scores sentences against source texts with an embedder and term overlap."""

    def __init__(
        self, embedder: Embedder, *, min_similarity: float = 0.45, min_overlap: float = 0.5
    ) -> None:
        self.embedder = embedder
        self.min_similarity = min_similarity
        self.min_overlap = min_overlap

    def check(self, sentence: str, sources: list[str]) -> Support:
        """Support of ``sentence`` by ``sources`` (the cited messages' texts)."""
        if not sources:
            return Support(0.0, 0.0, False)
        source_sentences = [s for text in sources for s in split_sentences(text)][:200]
        if not source_sentences:
            return Support(0.0, 0.0, False)
        vecs = np.asarray(self.embedder.embed([sentence, *source_sentences]), dtype=np.float32)
        similarity = float((vecs[1:] @ vecs[0]).max())
        terms = key_terms(sentence)
        joined = " ".join(sources)
        source_terms = key_terms(joined) | {w.lower() for w in re.findall(r"\w+", joined)}
        overlap = len(terms & source_terms) / len(terms) if terms else 1.0
        ok = similarity >= self.min_similarity and overlap >= self.min_overlap
        return Support(round(similarity, 3), round(overlap, 3), ok)
