"""Hybrid search over the vector index: dense + sparse candidates, exact re-scoring, fusion.

One query runs as follows (every index call names the user, and the backend confines it to
that user's points: their own shard on Qdrant Edge, the mandatory user filter on a server):

1. **Prefetch** - one batched round trip: the ``prefetch`` nearest chunks by the dense vector and
   the ``prefetch`` best chunks by the sparse (BM25) vector, both under the caller's filters.
2. **Re-score** - the union of candidates gets *both* scores exactly: the dense cosine of a
   sparse-only candidate is computed here from its returned vector, and the BM25 score of a
   dense-only candidate comes from a second sparse query restricted to those point ids. Rank
   fusion on incomplete lists is what makes plain RRF lose to BM25 alone (a candidate missing
   from one list is treated as the worst there); complete scores remove that error.
3. **Aggregate** - chunks to messages: a message's score per signal is its best chunk's. Point
   ids carry their message (:func:`~retrieval.index.base.message_key`), so no payload is read
   until the final hits.
4. **Re-rank** - a MaxSim stage over the sentence vectors (the ``sentences`` multivector) of
   the ``sentence_pool`` best chunks by a first fusion of the prefetch scores, sent in the same
   round trip as step 2's queries: a subject-like query often matches one sentence much better
   than a whole chunk. On AESLC (prefetch 100), scoring 30 chunks instead of all candidates
   changed MRR@10 by -0.0003 and took a query from 4.4 to 3.4 ms.
5. **Fuse** - ``minmax`` (default): each signal min-max normalised over the candidates, then
   ``(1 - c) * (w * dense + (1 - w) * sparse) + c * sentences``. ``zscore`` and (weighted)
   ``rrf`` are kept for comparison; ``evals/retrieval`` measures all of them.
6. Optional **MMR** diversity over the messages' best-chunk vectors, then snippets around the
   matched query terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.errors import InputError
from core.tracing import RETRIEVAL_SEARCH, span
from retrieval.index.base import (
    DENSE,
    SENTENCES,
    SPARSE,
    PointId,
    SearchFilters,
    VectorIndex,
    VectorQuery,
    message_key,
)
from retrieval.index.embeddings import Embedder
from retrieval.index.indexer import IndexingConfig
from retrieval.index.sparse import light_stem, words

if TYPE_CHECKING:
    from core.settings import IndexSettings

Mode = Literal["hybrid", "dense", "sparse"]
FusionMethod = Literal["minmax", "zscore", "rrf"]
_SNIPPET_WORDS = 32
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """How hybrid scores are combined (defaults measured on AESLC, see evals/retrieval)."""

    method: FusionMethod = "minmax"
    #: Weight of dense in score fusion; sparse gets ``1 - dense_weight``. For RRF, the two
    #: lists get ``2 * w`` and ``2 * (1 - w)`` so 0.5 is plain RRF.
    dense_weight: float = 0.4
    rrf_k: int = 60
    prefetch: int = 50
    #: Fill in each candidate's missing score exactly (step 2 of the module docstring).
    rescore: bool = True
    #: Share of the sentence MaxSim score (re-scoring stage); 0 turns the stage off.
    sentence_weight: float = 0.3
    #: Sentence-score only this many chunks, the best by a first fusion of the prefetch
    #: scores (0 = every candidate chunk). Chunks outside it count as sentence score 0.
    sentence_pool: int = 30

    @classmethod
    def from_settings(cls, settings: IndexSettings) -> FusionConfig:
        """Config from ``Settings.index``."""
        return cls(
            method=settings.fusion,
            dense_weight=settings.dense_weight,
            prefetch=settings.prefetch,
            sentence_weight=settings.sentence_weight if settings.sentence_vectors else 0.0,
            sentence_pool=settings.sentence_pool,
        )


@dataclass(slots=True)
class SearchHit:
    """One message found: ids, fused score, the per-method scores and a snippet."""

    message_id: str
    thread_id: str
    score: float
    date: str | None
    sender: str
    sender_name: str
    subject: str
    folder: str
    snippet: str
    matched_terms: list[str] = field(default_factory=list)
    dense_score: float | None = None
    sparse_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "message_id": self.message_id,
            "thread_id": self.thread_id,
            "score": round(self.score, 6),
            "date": self.date,
            "from": self.sender,
            "from_name": self.sender_name,
            "subject": self.subject,
            "folder": self.folder,
            "snippet": self.snippet,
            "matched_terms": self.matched_terms,
            "dense_score": self.dense_score,
            "sparse_score": self.sparse_score,
        }


@dataclass(slots=True)
class Candidate:
    """A message in the running for one query, with its best chunk's score per signal."""

    #: The message part of its chunks' point ids (see ``message_key``).
    key: int
    #: Best chunk scores; NaN = not scored by that method (only without re-scoring).
    dense: float = float("nan")
    sparse: float = float("nan")
    sentences: float = float("nan")
    dense_chunk: PointId | None = None
    sparse_chunk: PointId | None = None
    vector: np.ndarray | None = None
    fused: float = 0.0
    #: The best chunk's payload once resolved (:meth:`Searcher.resolve`).
    payload: dict[str, Any] | None = None

    @property
    def best_chunk(self) -> PointId | None:
        # Show the chunk whose words matched, else the semantically closest one.
        if self.sparse_chunk is not None and self.sparse > 0:
            return self.sparse_chunk
        return self.dense_chunk if self.dense_chunk is not None else self.sparse_chunk

    @property
    def message_id(self) -> str:
        """The message id (empty until resolved)."""
        return str(self.payload.get("message_id", "")) if self.payload else ""


def _normalise(values: np.ndarray, method: FusionMethod) -> np.ndarray:
    """Min-max or z-score normalisation; NaN (unscored) becomes the method's floor."""
    out = np.zeros_like(values, dtype=np.float64)
    known = ~np.isnan(values)
    if not known.any():
        return out
    v = values[known]
    if method == "zscore":
        std = float(v.std())
        z = (v - v.mean()) / std if std > 0 else np.zeros_like(v)
        out[known] = z
        out[~known] = float(z.min())
        return out
    lo, hi = float(v.min()), float(v.max())
    out[known] = (v - lo) / (hi - lo) if hi > lo else np.ones_like(v)
    return out


def _rrf_part(values: np.ndarray, k: int) -> np.ndarray:
    # Rank among scored items; unscored (NaN) or zero-BM25 items get no contribution.
    scored = ~np.isnan(values)
    out = np.zeros(len(values), dtype=np.float64)
    idx = np.flatnonzero(scored)
    order = idx[np.argsort(-values[idx], kind="stable")]
    out[order] = 1.0 / (k + np.arange(1, len(order) + 1))
    return out


def fuse(
    dense: np.ndarray,
    sparse: np.ndarray,
    config: FusionConfig,
    *,
    dense_weight: float,
    sentences: np.ndarray | None = None,
) -> np.ndarray:
    """Fused scores of message candidates from their dense, sparse and sentence scores.

    ``(1 - c) * (w * dense + (1 - w) * sparse) + c * sentences`` over normalised scores, with
    ``w = dense_weight`` and ``c = config.sentence_weight`` (0 when no sentence scores exist).
    """
    w = dense_weight
    c = config.sentence_weight
    if sentences is None or np.isnan(sentences).all():
        c = 0.0
    if config.method == "rrf":
        sparse = np.where(sparse > 0, sparse, np.nan)
        fused = 2 * w * _rrf_part(dense, config.rrf_k) + 2 * (1 - w) * _rrf_part(
            sparse, config.rrf_k
        )
        if c > 0 and sentences is not None:
            fused = (1 - c) * fused + 2 * c * _rrf_part(sentences, config.rrf_k)
        return fused
    # A missing BM25 score is a real zero (no query term in the chunk).
    sparse = np.nan_to_num(sparse, nan=0.0)
    fused = w * _normalise(dense, config.method) + (1 - w) * _normalise(sparse, config.method)
    if c > 0 and sentences is not None:
        fused = (1 - c) * fused + c * _normalise(sentences, config.method)
    return fused


def mmr(vectors: np.ndarray, relevance: np.ndarray, k: int, lambda_: float = 0.7) -> list[int]:
    """Maximal marginal relevance: indexes of ``k`` items trading relevance for novelty."""
    if len(relevance) == 0:
        return []
    rel = _normalise(relevance.astype(np.float64), "minmax")
    chosen: list[int] = [int(np.argmax(rel))]
    max_sim = vectors @ vectors[chosen[0]]
    while len(chosen) < min(k, len(rel)):
        score = lambda_ * rel - (1 - lambda_) * max_sim
        score[chosen] = -np.inf
        nxt = int(np.argmax(score))
        chosen.append(nxt)
        max_sim = np.maximum(max_sim, vectors @ vectors[nxt])
    return chosen


def _sentence_pool(
    dense: dict[PointId, float], sparse: dict[PointId, float], cfg: FusionConfig
) -> list[PointId]:
    """Chunks worth a sentence score: the best ``cfg.sentence_pool`` by first-pass fusion.

    Scores here are the prefetch ones (a chunk missing from one list counts 0 there); the
    sentence stage only re-orders near the top, so scoring every candidate is wasted work.
    """
    ids = list(dict.fromkeys([*dense, *sparse]))
    if not cfg.sentence_pool or len(ids) <= cfg.sentence_pool:
        return ids
    d = np.array([dense.get(i, np.nan) for i in ids], dtype=np.float64)
    s = np.array([sparse.get(i, 0.0) for i in ids], dtype=np.float64)
    w = cfg.dense_weight
    first = w * _normalise(d, "minmax") + (1 - w) * _normalise(s, "minmax")
    top = np.argsort(-first, kind="stable")[: cfg.sentence_pool]
    return [ids[i] for i in top]


def _check(user: str, limit: int, filters: SearchFilters | None) -> None:
    if not user:
        raise InputError("search needs a user")
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT}")
    if filters is not None and not isinstance(filters, SearchFilters):
        raise InputError("filters must be a SearchFilters (use SearchFilters.from_mapping)")


_TERMS_CACHE: dict[bool, dict[str, frozenset[str]]] = {True: {}, False: {}}
_TERMS_CACHE_MAX = 200_000


def _token_terms(token: str, stem: bool) -> frozenset[str]:
    # A plain dict per stem flag: snippets look up every word of every hit, and a dict hit
    # is cheaper than an lru_cache keyed on (token, stem).
    cache = _TERMS_CACHE[stem]
    found = cache.get(token)
    if found is None:
        if len(cache) >= _TERMS_CACHE_MAX:
            cache.clear()
        found = cache[token] = frozenset(light_stem(w) if stem else w for w in words(token))
    return found


def make_snippet(
    text: str, terms: set[str], *, stem: bool, width: int = _SNIPPET_WORDS
) -> tuple[str, list[str]]:
    """A window of ``width`` words of ``text`` holding the most distinct query terms.

    Returns the snippet and the surface forms of the query terms found in it.
    """
    tokens = text.split()
    if not tokens:
        return "", []
    found: dict[int, frozenset[str]] = {}
    cache = _TERMS_CACHE[stem]
    for i, tok in enumerate(tokens):
        token_terms = cache.get(tok) or _token_terms(tok, stem)
        if not token_terms.isdisjoint(terms):
            found[i] = token_terms & terms
    hits = list(found)
    best_start, best_distinct = 0, 0
    for h in hits:
        # Put the match a quarter into the window so the reader gets some context first.
        start = max(0, min(h - width // 4, len(tokens) - width))
        distinct = len(frozenset().union(*(found[i] for i in hits if start <= i < start + width)))
        if distinct > best_distinct:
            best_start, best_distinct = start, distinct
    window = tokens[best_start : best_start + width]
    matched: list[str] = []
    for offset, tok in enumerate(window):
        if best_start + offset in found:
            surface = tok.strip(".,;:!?()[]{}\"'<>")
            if surface and surface.lower() not in (m.lower() for m in matched):
                matched.append(surface)
    prefix = "… " if best_start > 0 else ""
    suffix = " …" if best_start + width < len(tokens) else ""
    return prefix + " ".join(window) + suffix, matched


class Searcher:
    """Hybrid search for one index and embedder; every call names the user."""

    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        *,
        indexing: IndexingConfig | None = None,
        fusion: FusionConfig | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.indexing = indexing or IndexingConfig()
        self.fusion = fusion or FusionConfig()

    @span(RETRIEVAL_SEARCH)
    def search(
        self,
        user: str,
        query: str,
        *,
        filters: SearchFilters | None = None,
        limit: int = 10,
        mode: Mode = "hybrid",
        diversity: float | None = None,
        dense_weight: float | None = None,
    ) -> list[SearchHit]:
        """Messages of ``user`` best matching ``query``.

        ``filters`` narrows the search (it cannot name another user); ``mode`` picks hybrid,
        dense-only or sparse-only ranking; ``diversity`` in (0, 1] turns on MMR with
        ``lambda = 1 - diversity``; ``dense_weight`` overrides the configured fusion weight.
        """
        _check(user, limit, filters)
        want_vectors = diversity is not None and diversity > 0
        candidates = self.candidates(
            user, query, filters, limit=limit, mode=mode, vectors=want_vectors, resolve=False
        )
        ranked = self.rank(candidates, mode=mode, dense_weight=dense_weight)
        if want_vectors and diversity is not None:
            pool = ranked[: max(limit * 4, 20)]
            if pool and all(c.vector is not None for c in pool):
                vectors = np.stack([c.vector for c in pool if c.vector is not None])
                order = mmr(
                    vectors, np.array([c.fused for c in pool]), limit, 1 - min(diversity, 1.0)
                )
                ranked = [pool[i] for i in order]
        return self._hits(user, query, ranked[:limit])

    def rank(
        self,
        candidates: Sequence[Candidate],
        *,
        mode: Mode = "hybrid",
        fusion: FusionConfig | None = None,
        dense_weight: float | None = None,
    ) -> list[Candidate]:
        """Candidates sorted by the mode's score (fused for hybrid); sets ``fused``."""
        cfg = fusion or self.fusion
        if not candidates:
            return []
        dense = np.array([c.dense for c in candidates], dtype=np.float64)
        sparse = np.array([c.sparse for c in candidates], dtype=np.float64)
        if mode == "dense":
            scores = np.nan_to_num(dense, nan=-np.inf)
        elif mode == "sparse":
            scores = np.nan_to_num(sparse, nan=0.0)
        else:
            w = cfg.dense_weight if dense_weight is None else dense_weight
            sent = np.array([c.sentences for c in candidates], dtype=np.float64)
            scores = fuse(dense, sparse, cfg, dense_weight=w, sentences=sent)
        for cand, score in zip(candidates, scores, strict=True):
            cand.fused = float(score)
        return sorted(candidates, key=lambda c: (-c.fused, c.key))

    def candidates(
        self,
        user: str,
        query: str,
        filters: SearchFilters | None = None,
        *,
        limit: int = 10,
        mode: Mode = "hybrid",
        vectors: bool = False,
        rescore: bool | None = None,
        resolve: bool = True,
    ) -> list[Candidate]:
        """Message candidates of ``user`` with their best dense and sparse chunk scores.

        Hybrid mode fetches both lists in one batch and, with ``rescore`` (the configured
        default), completes every candidate's missing score exactly. ``resolve`` reads every
        candidate's payload (message id, sender...); search resolves only its final hits.
        """
        _check(user, limit, filters)
        cfg = self.fusion
        rescore = cfg.rescore if rescore is None else rescore
        prefetch = max(cfg.prefetch, limit * 3)
        sparse_q = self.indexing.sparse.encode_query(query)
        use_dense = mode != "sparse"
        use_sparse = mode != "dense" and bool(sparse_q.indices)
        queries: list[VectorQuery] = []
        qvec: np.ndarray | None = None
        if use_dense:
            qvec = self.embedder.embed_query(query)
            queries.append(
                VectorQuery(DENSE, qvec, prefetch, with_dense=vectors, with_payload=False)
            )
        if use_sparse:
            queries.append(
                VectorQuery(SPARSE, sparse_q, prefetch, with_dense=vectors, with_payload=False)
            )
        if not queries:
            return []
        results = self.index.query(user, queries, filters)
        dense_hits = results[0] if use_dense else []
        sparse_hits = results[-1] if use_sparse else []

        chunk_msg: dict[PointId, int] = {}
        chunk_dense: dict[PointId, float] = {}
        chunk_sparse: dict[PointId, float] = {}
        chunk_vec: dict[PointId, np.ndarray] = {}
        chunk_sent: dict[PointId, float] = {}
        for hit in dense_hits:
            chunk_msg[hit.id] = message_key(hit.id)
            chunk_dense[hit.id] = hit.score
            if hit.dense is not None:
                chunk_vec[hit.id] = hit.dense
        for hit in sparse_hits:
            chunk_msg[hit.id] = message_key(hit.id)
            chunk_sparse[hit.id] = hit.score
            if hit.dense is not None:
                chunk_vec[hit.id] = hit.dense
        if rescore and qvec is not None and use_sparse:
            # One more round trip scores, restricted to the candidate ids: BM25 of dense-only
            # chunks, cosine of sparse-only chunks, and sentence MaxSim of all of them.
            no_sparse = [cid for cid in chunk_dense if cid not in chunk_sparse]
            no_dense = [cid for cid in chunk_sparse if cid not in chunk_dense]
            stage: dict[str, VectorQuery] = {}
            if no_sparse:
                stage["sparse"] = VectorQuery(
                    SPARSE, sparse_q, len(no_sparse), no_sparse, with_payload=False
                )
            if no_dense:
                stage["dense"] = VectorQuery(
                    DENSE, qvec, len(no_dense), no_dense, with_payload=False, exact=True
                )
            if cfg.sentence_weight > 0 and chunk_msg:
                ids = _sentence_pool(chunk_dense, chunk_sparse, cfg)
                stage["sentences"] = VectorQuery(
                    SENTENCES, qvec, len(ids), ids, with_payload=False, exact=True
                )
            found = dict(
                zip(stage, self.index.query(user, list(stage.values()), filters), strict=True)
            )
            for hit in found.get("sparse", []):
                chunk_sparse[hit.id] = hit.score
            # Not returned by the restricted query: no query term in the chunk.
            for cid in no_sparse:
                chunk_sparse.setdefault(cid, 0.0)
            for hit in found.get("dense", []):
                chunk_dense[hit.id] = hit.score
            chunk_sent = {hit.id: hit.score for hit in found.get("sentences", [])}

        by_msg: dict[int, Candidate] = {}
        for cid, key in chunk_msg.items():
            cand = by_msg.get(key)
            if cand is None:
                cand = by_msg[key] = Candidate(key)
            d = chunk_dense.get(cid)
            if d is not None and not d <= cand.dense:  # NaN-safe "greater than"
                cand.dense, cand.dense_chunk = d, cid
                cand.vector = chunk_vec.get(cid, cand.vector)
            sp = chunk_sparse.get(cid)
            if sp is not None and not sp <= cand.sparse:
                cand.sparse, cand.sparse_chunk = sp, cid
            st = chunk_sent.get(cid)
            if st is not None and not st <= cand.sentences:
                cand.sentences = st
            if cand.vector is None and cid in chunk_vec:
                cand.vector = chunk_vec[cid]
        found_msgs = list(by_msg.values())
        if resolve:
            self.resolve(user, found_msgs)
        return found_msgs

    def resolve(self, user: str, candidates: Sequence[Candidate]) -> None:
        """Read the best chunk's payload of each candidate not yet resolved (one round trip)."""
        todo = [c for c in candidates if c.payload is None and c.best_chunk is not None]
        if not todo:
            return
        payloads = self.index.get_payloads(
            user, [c.best_chunk for c in todo if c.best_chunk is not None]
        )
        for c in todo:
            c.payload = payloads.get(c.best_chunk) if c.best_chunk is not None else None

    def _hits(self, user: str, query: str, chosen: Sequence[Candidate]) -> list[SearchHit]:
        self.resolve(user, chosen)
        stem = self.indexing.sparse.stem
        terms = set(self.indexing.sparse.terms(query))
        hits = []
        for c in chosen:
            payload = c.payload or {}
            if not payload:  # deleted between the query and the payload read
                continue
            snippet, matched = make_snippet(str(payload.get("text", "")), terms, stem=stem)
            hits.append(
                SearchHit(
                    message_id=c.message_id,
                    thread_id=str(payload.get("thread_id") or c.message_id),
                    score=c.fused,
                    date=payload.get("date"),
                    sender=str(payload.get("from", "")),
                    sender_name=str(payload.get("from_name", "")),
                    subject=str(payload.get("subject", "")),
                    folder=str(payload.get("folder", "")),
                    snippet=snippet,
                    matched_terms=matched,
                    dense_score=None if np.isnan(c.dense) else round(c.dense, 6),
                    sparse_score=None if np.isnan(c.sparse) else round(c.sparse, 6),
                )
            )
        return hits
