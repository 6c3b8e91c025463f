"""Scale-out backend: a Qdrant server (or cluster) through ``qdrant-client``.

Same collection schema as the Edge shard: named vectors ``dense`` (cosine) and ``sparse``
(IDF modifier), a tenant keyword index on ``user`` and a payload index per filterable field.
Tenants share one collection; isolation is the ``user`` condition this class ANDs into every
request. Tests pass a ``QdrantClient(":memory:")`` / ``QdrantClient(path=...)`` (local mode),
which runs the same API with exact search.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

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
    PointId,
    ScoredChunk,
    SearchFilters,
    TextMatch,
    VectorQuery,
    filter_conditions,
)
from retrieval.index.sparse import SparseVec

_SCROLL_PAGE = 1024


def _schema(kind: str) -> Any:
    if kind == "tenant":
        return models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
    return {
        "keyword": models.PayloadSchemaType.KEYWORD,
        "text": models.TextIndexParams(
            type=models.TextIndexType.TEXT, tokenizer=models.TokenizerType.WORD, lowercase=True
        ),
        "datetime": models.PayloadSchemaType.DATETIME,
        "bool": models.PayloadSchemaType.BOOL,
        "int": models.PayloadSchemaType.INTEGER,
    }[kind]


def _match(key: str, value: str | int | bool) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _condition(c: Condition) -> Any:
    if isinstance(c, Match):
        return _match(c.key, c.value)
    if isinstance(c, TextMatch):
        return models.FieldCondition(key=c.key, match=models.MatchText(text=c.text))
    if isinstance(c, AnyOf):
        return models.Filter(should=[_match(m.key, m.value) for m in c.matches])
    return models.FieldCondition(key=c.key, range=models.DatetimeRange(gte=c.gte, lt=c.lt))


def build_filter(
    user: str, filters: SearchFilters | None, point_ids: Sequence[PointId] | None = None
) -> models.Filter:
    """The user condition AND the optional filters (see :func:`filter_conditions`)."""
    must: list[Any] = [_condition(c) for c in filter_conditions(user, filters)]
    if point_ids is not None:
        must.append(models.HasIdCondition(has_id=[str(p) for p in point_ids]))
    return models.Filter(must=must)


def _is_local(client: QdrantClient) -> bool:
    # Local mode ignores HNSW parameters and payload indexes (and warns about them).
    from qdrant_client.local.qdrant_local import QdrantLocal

    return isinstance(getattr(client, "_client", None), QdrantLocal)


class ServerIndex:
    """:class:`~retrieval.index.base.VectorIndex` on a Qdrant collection via qdrant-client."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        *,
        dim: int,
        model: str,
        hnsw_m: int = 16,
        hnsw_ef_construct: int = 200,
        hnsw_ef: int = 192,
        per_user_idf: bool = True,
    ) -> None:
        self._client = client
        self._collection = collection
        self._dim = dim
        self._hnsw_ef = hnsw_ef
        self._per_user_idf = per_user_idf
        self._local = _is_local(client)
        try:
            self._ensure_collection(model, hnsw_m, hnsw_ef_construct)
        except VectorIndexError:
            raise
        except Exception as exc:
            raise VectorIndexError(f"cannot open Qdrant collection {collection!r}: {exc}") from exc

    @property
    def dim(self) -> int:
        return self._dim

    def _ensure_collection(self, model: str, hnsw_m: int, hnsw_ef_construct: int) -> None:
        if self._client.collection_exists(self._collection):
            info = self._client.get_collection(self._collection)
            vectors = info.config.params.vectors
            size = vectors[DENSE].size if isinstance(vectors, dict) and DENSE in vectors else None
            meta = info.config.metadata or {}
            if meta.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
                raise VectorIndexError(
                    f"collection {self._collection!r} has point schema {meta.get('schema')}, "
                    f"this version writes {SCHEMA_VERSION}: run `mailmind index --rebuild`"
                )
            if size != self._dim or meta.get("model", model) != model:
                raise VectorIndexError(
                    f"collection {self._collection!r} holds {meta.get('model')!r} ({size}-d) "
                    f"vectors but the embedder is {model!r} ({self._dim}-d): "
                    "run `mailmind index --rebuild`"
                )
            return
        self._client.create_collection(
            self._collection,
            vectors_config={
                DENSE: models.VectorParams(size=self._dim, distance=models.Distance.COSINE),
                SENTENCES: models.VectorParams(
                    size=self._dim,
                    distance=models.Distance.COSINE,
                    multivector_config=models.MultiVectorConfig(
                        comparator=models.MultiVectorComparator.MAX_SIM
                    ),
                    datatype=models.Datatype.FLOAT16,
                    hnsw_config=models.HnswConfigDiff(m=0),
                    on_disk=True,
                ),
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            hnsw_config=models.HnswConfigDiff(m=hnsw_m, ef_construct=hnsw_ef_construct),
            metadata={"model": model, "dim": self._dim, "schema": SCHEMA_VERSION},
        )
        with warnings.catch_warnings():
            # Local mode warns that payload indexes are no-ops there; a server uses them.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for name, kind in PAYLOAD_INDEXES.items():
                self._client.create_payload_index(
                    self._collection, name, field_schema=_schema(kind)
                )

    def upsert(self, user: str, points: Sequence[ChunkPoint]) -> None:
        if not points:
            return
        structs = []
        for p in points:
            vector: dict[str, Any] = {
                DENSE: p.dense.astype(np.float32).tolist(),
                SPARSE: models.SparseVector(indices=p.sparse.indices, values=p.sparse.values),
            }
            if p.sentences is not None and len(p.sentences):
                vector[SENTENCES] = p.sentences.astype(np.float32).tolist()
            structs.append(
                models.PointStruct(id=p.id, vector=vector, payload={**p.payload, "user": user})
            )
        self._client.upsert(self._collection, points=structs, wait=True)

    def set_payload(self, user: str, point_ids: Sequence[str], payload: dict[str, Any]) -> None:
        if not point_ids:
            return
        clean = {k: v for k, v in payload.items() if k != "user"}
        self._client.set_payload(
            self._collection, payload=clean, points=build_filter(user, None, point_ids), wait=True
        )

    def delete_messages(self, user: str, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        flt = models.Filter(
            must=[
                _match("user", user),
                models.FieldCondition(
                    key="message_id", match=models.MatchAny(any=list(message_ids))
                ),
            ]
        )
        self._client.delete(self._collection, points_selector=models.FilterSelector(filter=flt))

    def delete_user(self, user: str) -> None:
        flt = models.Filter(must=[_match("user", user)])
        self._client.delete(self._collection, points_selector=models.FilterSelector(filter=flt))

    def get_payloads(
        self, user: str, point_ids: Sequence[PointId]
    ) -> dict[PointId, dict[str, Any]]:
        if not point_ids:
            return {}
        wanted = {str(p): p for p in point_ids}
        records = self._client.retrieve(self._collection, ids=list(wanted), with_payload=True)
        return {
            wanted.get(str(r.id), str(r.id)): dict(r.payload or {})
            for r in records
            if (r.payload or {}).get("user") == user
        }

    def message_hashes(self, user: str) -> dict[str, str]:
        flt = models.Filter(must=[_match("user", user), _match("chunk", 0)])
        out: dict[str, str] = {}
        offset: Any = None
        while True:
            records, offset = self._client.scroll(
                self._collection,
                scroll_filter=flt,
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=["message_id", "text_hash"],
            )
            for r in records:
                payload = r.payload or {}
                out[str(payload.get("message_id"))] = str(payload.get("text_hash", ""))
            if offset is None:
                return out

    def _request(
        self, user: str, q: VectorQuery, filters: SearchFilters | None
    ) -> models.QueryRequest:
        query: Any
        if isinstance(q.vector, SparseVec):
            query = models.SparseVector(indices=q.vector.indices, values=q.vector.values)
        elif q.using == SENTENCES:
            query = [np.asarray(q.vector, dtype=np.float32).tolist()]
        else:
            query = np.asarray(q.vector, dtype=np.float32).tolist()
        idf = None
        if q.using == SPARSE and self._per_user_idf:
            idf = models.IdfCorpusParams(corpus=models.Filter(must=[_match("user", user)]))
        params = (
            models.SearchParams(idf=idf)
            if self._local
            else models.SearchParams(hnsw_ef=max(self._hnsw_ef, q.limit), exact=q.exact, idf=idf)
        )
        return models.QueryRequest(
            query=query,
            using=q.using,
            filter=build_filter(user, filters, q.point_ids),
            limit=q.limit,
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
            responses = self._client.query_batch_points(self._collection, requests=requests)
        except Exception as exc:
            raise VectorIndexError(f"Qdrant query failed: {exc}") from exc
        out: list[list[ScoredChunk]] = []
        for resp in responses:
            hits = []
            for p in resp.points:
                dense = None
                if isinstance(p.vector, dict) and DENSE in p.vector:
                    dense = np.asarray(p.vector[DENSE], dtype=np.float32)
                hits.append(ScoredChunk(str(p.id), float(p.score), dict(p.payload or {}), dense))
            out.append(hits)
        return out

    def count(self, user: str | None = None) -> int:
        flt = models.Filter(must=[_match("user", user)]) if user is not None else None
        return int(self._client.count(self._collection, count_filter=flt, exact=True).count)

    def optimize(self) -> None:
        # A server builds HNSW in the background once segments pass its indexing threshold.
        return None

    def close(self) -> None:
        self._client.close()
