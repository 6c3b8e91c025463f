"""Retrieval quality eval: index a dataset into a fresh Qdrant Edge shard, query, score.

Runs through the product's own code: :func:`retrieval.index.index_messages` into an
:class:`~retrieval.index.edge.EdgeIndex`, then :class:`~retrieval.index.search.Searcher`. For each
query the candidate lists are fetched once and every fusion variant ranks the same candidates
(``Searcher.rank``), so variants differ only in fusion. ``dense`` and ``sparse`` are the
single-method searches; ``hybrid`` is the configured default; the others are the alternatives
measured while choosing it (plain RRF k=60 on the raw prefetch lists being the usual baseline).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.settings import Settings
from evals.retrieval.datasets import (
    RetrievalDataset,
    normalise_ws,
    read_aeslc,
    read_bc3,
    read_distractors,
)
from evals.retrieval.metrics import ndcg_at, recall_at, reciprocal_rank, summarize
from retrieval.index.embeddings import Embedder, load_embedder
from retrieval.index.indexer import IndexingConfig, index_messages
from retrieval.index.search import FusionConfig, FusionMethod, Mode, Searcher

EVAL_USER = "eval"
K = 10


@dataclass(frozen=True, slots=True)
class Variant:
    """One ranking to score: a mode, and for hybrid a fusion config."""

    name: str
    mode: Mode
    fusion: FusionConfig | None = None


def default_variants(base: FusionConfig) -> list[Variant]:
    """The three headline rankings plus the fusion alternatives that were compared."""

    def hybrid(name: str, method: FusionMethod, w: float, sw: float, rescore: bool) -> Variant:
        cfg = FusionConfig(
            method=method,
            dense_weight=w,
            prefetch=base.prefetch,
            rescore=rescore,
            sentence_weight=sw,
        )
        return Variant(name, "hybrid", cfg)

    return [
        Variant("dense", "dense"),
        Variant("sparse", "sparse"),
        Variant("hybrid", "hybrid", base),
        hybrid("rrf_k60_plain", "rrf", 0.5, 0.0, rescore=False),
        hybrid("rrf_k60_rescored", "rrf", 0.5, 0.0, rescore=True),
        hybrid("rrf_k60_w0.3", "rrf", 0.3, 0.0, rescore=True),
        hybrid("minmax_w0.4_plain", "minmax", 0.4, 0.0, rescore=False),
        hybrid("minmax_w0.5", "minmax", 0.5, 0.0, rescore=True),
        hybrid("minmax_w0.4", "minmax", 0.4, 0.0, rescore=True),
        hybrid("zscore_w0.4", "zscore", 0.4, 0.0, rescore=True),
        hybrid("minmax_w0.4_sent0.2", "minmax", 0.4, 0.2, rescore=True),
        hybrid("minmax_w0.4_sent0.4", "minmax", 0.4, 0.4, rescore=True),
        hybrid("zscore_w0.4_sent0.3", "zscore", 0.4, 0.3, rescore=True),
    ]


class _QueryCache:
    """Embedder proxy memoising query vectors (each query is ranked by several variants)."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._cached: Callable[[str], np.ndarray] = lru_cache(maxsize=100_000)(self._one)
        self._primed: dict[str, np.ndarray] = {}

    def _one(self, text: str) -> np.ndarray:
        vec = self._primed.get(text)
        return vec if vec is not None else self._inner.embed_query(text)

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dim(self) -> int:
        return self._inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._inner.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._cached(text)

    def prime(self, texts: Sequence[str], batch: int = 256) -> None:
        """Embed many queries in batches up front (one at a time is several times slower)."""
        todo = list(dict.fromkeys(texts))
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            for text, vec in zip(part, self._inner.embed(part), strict=True):
                self._primed[text] = vec


def load_dataset(path: Path, *, limit: int | None = None) -> RetrievalDataset:
    """BC3 when the folder holds ``corpus.xml``, else the AESLC format."""
    if (Path(path) / "corpus.xml").is_file():
        return read_bc3(path)
    return read_aeslc(path, limit=limit)


def evaluate(
    dataset: RetrievalDataset,
    embedder: Embedder,
    *,
    settings: Settings,
    distractors: Path | None = None,
    variants: Sequence[Variant] | None = None,
    work_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    per_query: bool = False,
) -> dict[str, Any]:
    """Index ``dataset`` (plus distractors) into a fresh Edge shard and score every variant.

    ``per_query`` adds ``per_query`` (variant -> one metrics dict per query, in query order) for
    the harness's intervals and paired comparisons."""
    from retrieval.index.edge import EdgeIndex

    say = progress or (lambda _msg: None)
    indexing = IndexingConfig.from_settings(settings.index)
    base = FusionConfig.from_settings(settings.index)
    variants = list(variants or default_variants(base))
    messages = list(dataset.messages)
    n_distractors = 0
    if distractors is not None:
        exclude = {normalise_ws(m.body_text) for m in messages}
        extra = read_distractors(distractors, exclude_bodies=exclude)
        n_distractors = len(extra)
        messages += extra
    cached = _QueryCache(embedder)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        index = EdgeIndex(
            Path(tmp) / "shard",
            dim=embedder.dim,
            model=embedder.name,
            hnsw_m=settings.index.hnsw_m,
            hnsw_ef_construct=settings.index.hnsw_ef_construct,
            hnsw_ef=settings.index.hnsw_ef,
        )
        try:
            say(f"indexing {len(messages)} messages")
            t0 = time.perf_counter()
            counts = index_messages(index, embedder, EVAL_USER, messages, config=indexing)
            index.optimize()
            index_s = time.perf_counter() - t0
            say(f"querying {len(dataset.queries)} queries x {len(variants)} variants")
            cached.prime([q for q, _ in dataset.queries])
            searcher = Searcher(index, cached, indexing=indexing, fusion=base)
            rows: dict[str, list[dict[str, float]]] = {v.name: [] for v in variants}
            t1 = time.perf_counter()
            for query, relevant in dataset.queries:
                pools: dict[tuple[Mode, bool], list[Any]] = {}
                for v in variants:
                    rescore = v.fusion.rescore if v.fusion else True
                    key = (v.mode, rescore)
                    if key not in pools:
                        pools[key] = searcher.candidates(
                            EVAL_USER, query, limit=K, mode=v.mode, rescore=rescore
                        )
                    ranked = searcher.rank(pools[key], mode=v.mode, fusion=v.fusion)
                    ids = [c.message_id for c in ranked[:K]]
                    rows[v.name].append(
                        {
                            "mrr@10": reciprocal_rank(ids, relevant, K),
                            "r@1": recall_at(ids, relevant, 1),
                            "r@10": recall_at(ids, relevant, K),
                            "ndcg@10": ndcg_at(ids, relevant, K),
                        }
                    )
            query_s = time.perf_counter() - t1
        finally:
            index.close()
    per_query_rows: dict[str, Any] = {"per_query": rows} if per_query else {}
    return {
        **per_query_rows,
        "dataset": dataset.name,
        "documents": len(dataset.messages),
        "distractors": n_distractors,
        "queries": len(dataset.queries),
        "chunks": counts["chunks"],
        "model": embedder.name,
        "index_seconds": round(index_s, 1),
        "query_seconds": round(query_s, 1),
        "config": {
            "fusion": base.method,
            "dense_weight": base.dense_weight,
            "prefetch": base.prefetch,
            "chunk_words": indexing.chunk_words,
            "bm25_avg_len": indexing.sparse.avg_len,
            "stemming": indexing.sparse.stem,
            "sentence_vectors": indexing.sentence_vectors,
            "sentence_weight": base.sentence_weight,
        },
        "metrics": {name: summarize(r) for name, r in rows.items()},
    }


def run_retrieval_eval(
    settings: Settings,
    dataset: Path,
    *,
    distractors: Path | None = None,
    limit: int | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Load the dataset and the configured embedder, then :func:`evaluate`."""
    ds = load_dataset(dataset, limit=limit)
    emb = embedder or load_embedder(settings.embeddings)
    return evaluate(ds, emb, settings=settings, distractors=distractors, progress=progress)


def format_table(report: dict[str, Any]) -> str:
    """Plain-text table of a report's metrics (headline rows first)."""
    lines = [
        f"{report['dataset']}: {report['documents']} docs + {report['distractors']} distractors, "
        f"{report['queries']} queries, model {report['model']}",
        f"{'variant':<22}{'MRR@10':>8}{'R@1':>8}{'R@10':>8}{'nDCG@10':>9}",
    ]
    for name, m in report["metrics"].items():
        lines.append(
            f"{name:<22}{m['mrr@10']:>8.3f}{m['r@1']:>8.3f}{m['r@10']:>8.3f}{m['ndcg@10']:>9.3f}"
        )
    return "\n".join(lines)
