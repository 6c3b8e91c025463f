"""Embedded backend: one Qdrant Edge shard (``qdrant-edge-py``) on disk, in process.

The shard lives in ``<index_dir>/<collection>/`` with its write-ahead log (every update is
durable when :meth:`EdgeIndex.upsert` returns). Small shards are searched exactly; after a bulk
load :meth:`EdgeIndex.optimize` merges segments and builds the HNSW graph. A small
``mailmind_index.json`` beside the shard records the embedding model, so a model change is
detected and asks for ``rebuild`` instead of silently mixing vector spaces.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from core.errors import VectorIndexError
from retrieval.index.base import (
    DENSE,
    PAYLOAD_INDEXES,
    SCHEMA_VERSION,
    SENTENCES,
    SPARSE,
    AnyOf,
    ChunkPoint,
    Condition,
    Match,
    ScoredChunk,
    SearchFilters,
    TextMatch,
    VectorQuery,
    filter_conditions,
    rfc3339,
)
from retrieval.sparse import SparseVec

META_FILE = "mailmind_index.json"
_SCROLL_PAGE = 1024


def _schema(kind: str) -> Any:
    if kind == "tenant":
        return qe.KeywordIndexParams(is_tenant=True)
    if kind == "keyword":
        return qe.PayloadSchemaType.Keyword
    if kind == "text":
        return qe.TextIndexParams(tokenizer=qe.TokenizerType.Word, lowercase=True)
    if kind == "datetime":
        return qe.PayloadSchemaType.Datetime
    if kind == "bool":
        return qe.PayloadSchemaType.Bool
    if kind == "int":
        return qe.PayloadSchemaType.Integer
    raise ValueError(kind)


def _match(key: str, value: str | int | bool) -> qe.FieldCondition:
    return qe.FieldCondition(key=key, match=qe.MatchValue(value=value))


def _condition(c: Condition) -> Any:
    if isinstance(c, Match):
        return _match(c.key, c.value)
    if isinstance(c, TextMatch):
        return qe.FieldCondition(key=c.key, match=qe.MatchText(text=c.text))
    if isinstance(c, AnyOf):
        return qe.Filter(should=[_match(m.key, m.value) for m in c.matches])
    rng = qe.RangeDateTime(
        gte=rfc3339(c.gte) if c.gte is not None else None,
        lt=rfc3339(c.lt) if c.lt is not None else None,
    )
    return qe.FieldCondition(key=c.key, range=rng)


def build_filter(
    user: str, filters: SearchFilters | None, point_ids: Sequence[str] | None = None
) -> qe.Filter:
    """The user condition AND the optional filters (see :func:`filter_conditions`)."""
    must: list[Any] = [_condition(c) for c in filter_conditions(user, filters)]
    if point_ids is not None:
        must.append(qe.HasIdCondition(point_ids={uuid.UUID(p) for p in point_ids}))
    return qe.Filter(must=must)


def _dense_of(vector: Any) -> np.ndarray | None:
    if isinstance(vector, dict) and DENSE in vector:
        return np.asarray(vector[DENSE], dtype=np.float32)
    return None


class EdgeIndex:
    """:class:`~retrieval.index.base.VectorIndex` on a Qdrant Edge shard."""

    def __init__(
        self,
        path: Path,
        *,
        dim: int,
        model: str,
        hnsw_m: int = 16,
        hnsw_ef_construct: int = 100,
        hnsw_ef: int = 256,
        per_user_idf: bool = True,
    ) -> None:
        self._path = Path(path)
        self._dim = dim
        self._hnsw_ef = hnsw_ef
        self._per_user_idf = per_user_idf
        # Edge serialises writes internally, but our read-modify-write paths (upsert after
        # delete) must not interleave between threads of one process.
        self._lock = threading.Lock()
        self._shard = self._open(model, hnsw_m, hnsw_ef_construct)

    @property
    def path(self) -> Path:
        """Shard folder."""
        return self._path

    @property
    def dim(self) -> int:
        return self._dim

    def _open(self, model: str, hnsw_m: int, hnsw_ef_construct: int) -> qe.EdgeShard:
        meta_path = self._path / META_FILE
        try:
            if meta_path.is_file():
                meta = json.loads(meta_path.read_text())
                if meta.get("schema") != SCHEMA_VERSION:
                    raise VectorIndexError(
                        f"index at {self._path} has point schema {meta.get('schema')}, this "
                        f"version writes {SCHEMA_VERSION}: run `mailmind index rebuild`"
                    )
                if meta.get("dim") != self._dim or meta.get("model") != model:
                    raise VectorIndexError(
                        f"index at {self._path} was built with {meta.get('model')!r} "
                        f"({meta.get('dim')}-d) but the embedder is {model!r} ({self._dim}-d): "
                        "run `mailmind index rebuild`"
                    )
                return qe.EdgeShard.load(str(self._path))
            config = qe.EdgeConfig(
                vectors={
                    DENSE: qe.EdgeVectorParams(size=self._dim, distance=qe.Distance.Cosine),
                    # Only scored for a handful of candidate ids: no HNSW graph (m=0), half
                    # precision, left on disk until read.
                    SENTENCES: qe.EdgeVectorParams(
                        size=self._dim,
                        distance=qe.Distance.Cosine,
                        multivector_config=qe.MultiVectorConfig(
                            comparator=qe.MultiVectorComparator.MaxSim
                        ),
                        datatype=qe.VectorStorageDatatype.Float16,
                        hnsw_config=qe.HnswIndexConfig(
                            m=0, ef_construct=hnsw_ef_construct, full_scan_threshold=10_000
                        ),
                        memory=qe.Memory.Cold,
                    ),
                },
                sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
                # Every search reads message ids from the payload: keep it in the page cache
                # (the default, Cold, costs ~20 ms on the first reads after opening).
                payload_memory=qe.Memory.Cached,
                hnsw_config=qe.HnswIndexConfig(
                    m=hnsw_m, ef_construct=hnsw_ef_construct, full_scan_threshold=10_000
                ),
            )
            self._path.mkdir(parents=True, exist_ok=True)
            shard = qe.EdgeShard.create(str(self._path), config)
            for name, kind in PAYLOAD_INDEXES.items():
                shard.update(qe.UpdateOperation.create_field_index(name, _schema(kind)))
            meta_path.write_text(
                json.dumps({"model": model, "dim": self._dim, "schema": SCHEMA_VERSION})
            )
            return shard
        except VectorIndexError:
            raise
        except Exception as exc:  # the binding raises plain Exception subclasses
            raise VectorIndexError(f"cannot open Qdrant Edge shard at {self._path}: {exc}") from exc

    def upsert(self, user: str, points: Sequence[ChunkPoint]) -> None:
        if not points:
            return
        batch = []
        for p in points:
            if p.dense.shape != (self._dim,):
                raise VectorIndexError(
                    f"dense vector has shape {p.dense.shape}, index wants {self._dim}"
                )
            vectors: dict[str, Any] = {
                DENSE: p.dense.tolist(),
                SPARSE: qe.SparseVector(indices=p.sparse.indices, values=p.sparse.values),
            }
            if p.sentences is not None and len(p.sentences):
                vectors[SENTENCES] = p.sentences.tolist()
            batch.append(qe.Point(uuid.UUID(p.id), vectors, {**p.payload, "user": user}))
        with self._lock:
            self._shard.update(qe.UpdateOperation.upsert_points(batch))

    def set_payload(self, user: str, point_ids: Sequence[str], payload: dict[str, Any]) -> None:
        if not point_ids:
            return
        flt = build_filter(user, None, point_ids)
        clean = {k: v for k, v in payload.items() if k != "user"}
        with self._lock:
            self._shard.update(qe.UpdateOperation.set_payload_by_filter(flt, clean))

    def delete_messages(self, user: str, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        flt = qe.Filter(
            must=[
                _match("user", user),
                qe.FieldCondition(key="message_id", match=qe.MatchAny(any=list(message_ids))),
            ]
        )
        with self._lock:
            self._shard.update(qe.UpdateOperation.delete_points_by_filter(flt))

    def delete_user(self, user: str) -> None:
        with self._lock:
            self._shard.update(
                qe.UpdateOperation.delete_points_by_filter(qe.Filter(must=[_match("user", user)]))
            )

    def get_payloads(self, user: str, point_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not point_ids:
            return {}
        records = self._shard.retrieve(
            [uuid.UUID(p) for p in point_ids], with_payload=True, with_vector=False
        )
        out: dict[str, dict[str, Any]] = {}
        for rec in records:
            payload = rec.payload or {}
            if payload.get("user") == user:
                out[str(rec.id)] = payload
        return out

    def message_hashes(self, user: str) -> dict[str, str]:
        flt = qe.Filter(must=[_match("user", user), _match("chunk", 0)])
        selector = qe.PayloadSelector.Include(["message_id", "text_hash"])
        out: dict[str, str] = {}
        offset: Any = None
        while True:
            records, offset = self._shard.scroll(
                qe.ScrollRequest(
                    offset=offset, limit=_SCROLL_PAGE, filter=flt, with_payload=selector
                )
            )
            for rec in records:
                payload = rec.payload or {}
                out[str(payload.get("message_id"))] = str(payload.get("text_hash", ""))
            if offset is None:
                return out

    def _request(self, user: str, q: VectorQuery, filters: SearchFilters | None) -> qe.QueryRequest:
        flt = build_filter(user, filters, q.point_ids)
        vector: Any
        if isinstance(q.vector, SparseVec):
            vector = qe.SparseVector(indices=q.vector.indices, values=q.vector.values)
        elif q.using == SENTENCES:
            vector = [np.asarray(q.vector, dtype=np.float32).tolist()]
        else:
            vector = np.asarray(q.vector, dtype=np.float32).tolist()
        idf = None
        if q.using == SPARSE and self._per_user_idf:
            # IDF over this user's mail only: other tenants never shift a user's scores.
            idf = qe.IdfParams(corpus=qe.Filter(must=[_match("user", user)]))
        params = qe.SearchParams(hnsw_ef=self._hnsw_ef, exact=q.exact, idf=idf)
        return qe.QueryRequest(
            limit=q.limit,
            query=qe.Query.Nearest(vector, using=q.using),
            filter=flt,
            params=params,
            with_payload=q.with_payload
            if isinstance(q.with_payload, bool)
            else list(q.with_payload),
            with_vector=[DENSE] if q.with_dense else False,
        )

    def query(
        self, user: str, queries: Sequence[VectorQuery], filters: SearchFilters | None = None
    ) -> list[list[ScoredChunk]]:
        if not queries:
            return []
        requests = [self._request(user, q, filters) for q in queries]
        try:
            results = self._shard.query_batch(qe.QueryBatchRequest(requests))
        except Exception as exc:
            raise VectorIndexError(f"Qdrant Edge query failed: {exc}") from exc
        return [
            [
                ScoredChunk(str(p.id), float(p.score), p.payload or {}, _dense_of(p.vector))
                for p in hits
            ]
            for hits in results
        ]

    def count(self, user: str | None = None) -> int:
        flt = qe.Filter(must=[_match("user", user)]) if user is not None else None
        return int(self._shard.count(qe.CountRequest(filter=flt, exact=True)))

    def optimize(self) -> None:
        with self._lock:
            self._shard.optimize()

    def info(self) -> dict[str, int]:
        """Points, segments and HNSW-indexed vectors (for benchmarks)."""
        info = self._shard.info()
        return {
            "points": info.points_count,
            "segments": info.segments_count,
            "indexed_vectors": info.indexed_vectors_count,
        }

    def close(self) -> None:
        with self._lock:
            self._shard.flush()
            self._shard.close()
