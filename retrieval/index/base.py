"""The vector index interface every backend implements, and the neutral types it speaks.

Backends translate these types to their own client's models, so search code never imports a
Qdrant module. Every read and write takes the user explicitly; a backend ANDs the user condition
into every filter it sends and never accepts a filter on ``user`` from a caller
(:class:`SearchFilters` has no such field and :meth:`SearchFilters.from_mapping` rejects one).

Schema of one point (one chunk of one message)::

    vectors   dense  (embedder dim, cosine)      sparse (BM25 tf weights, IDF modifier)
              sentences (multivector of sentence embeddings, MaxSim, no HNSW: re-scoring only)
    payload   user, message_id, chunk, n_chunks, thread_id, from, from_name, to[], cc[],
              date (RFC 3339, datetime index), folder, has_attachment (0/1), subject, text,
              text_hash, meta_hash
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from core.errors import InputError
from retrieval.index.sparse import SparseVec

DENSE: Literal["dense"] = "dense"
SPARSE: Literal["sparse"] = "sparse"
SENTENCES: Literal["sentences"] = "sentences"
#: Bumped when the point schema changes (an old index then asks for ``rebuild``).
SCHEMA_VERSION = 3

#: uuid5 namespace of point ids (see :func:`point_id`).
POINT_NAMESPACE = uuid.UUID("6f2d0c3e-4b8e-5a51-9d7e-6a1f3f1c2b90")
_CHUNK_BITS = 16
MAX_CHUNKS = 1 << _CHUNK_BITS

#: A point id as a backend hands it out: the UUID's 128-bit integer (Qdrant Edge: ints hash
#: and compare in C, ``uuid.UUID`` objects in Python) or its string form (qdrant-client). Ids
#: returned by a backend go back into it unchanged.
PointId = int | str | uuid.UUID

#: Payload fields with an index, and their kind (backends map kinds to their schema types).
PAYLOAD_INDEXES: dict[str, Literal["tenant", "keyword", "text", "datetime", "bool", "int"]] = {
    "user": "tenant",
    "message_id": "keyword",
    "thread_id": "keyword",
    "from": "keyword",
    "from_name": "text",
    "to": "keyword",
    "cc": "keyword",
    "date": "datetime",
    "folder": "keyword",
    # 0/1, not a JSON bool: qdrant-edge-py 0.9 turns MatchValue(True) into 1, which never
    # matches a stored boolean.
    "has_attachment": "int",
    "chunk": "int",
}


def point_id(user: str, message_id: str, chunk: int) -> str:
    """Deterministic point id, so re-indexing a message overwrites its own points.

    ``uuid5(NS, user + message_id)`` with its low 16 bits replaced by the chunk number: the
    chunks of one message share the other 112 bits, so search can group hits by message
    (:func:`message_key`) without reading any payload.
    """
    if not 0 <= chunk < MAX_CHUNKS:
        raise ValueError(f"chunk number {chunk} out of range")
    base = uuid.uuid5(POINT_NAMESPACE, f"{user}\x1f{message_id}").int
    return str(uuid.UUID(int=(base >> _CHUNK_BITS << _CHUNK_BITS) | chunk))


def message_key(pid: PointId) -> int:
    """The part of a point id shared by all chunks of one message."""
    if isinstance(pid, int):
        return pid >> _CHUNK_BITS
    value = pid.int if isinstance(pid, uuid.UUID) else uuid.UUID(pid).int
    return value >> _CHUNK_BITS


def to_utc(value: datetime | date) -> datetime:
    """Aware UTC datetime; naive values and plain dates are taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339(value: datetime | date) -> str:
    """The payload's date format (UTC, ``Z`` suffix), which both backends index as datetime."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Optional narrowing of a search. There is deliberately no ``user`` field.

    ``sender`` matches the sender address exactly (case-insensitive) when it contains ``@``,
    otherwise words of the sender's display name. ``recipient`` matches a To or Cc address.
    ``after`` is inclusive, ``before`` exclusive; naive datetimes and dates are UTC.
    """

    sender: str | None = None
    recipient: str | None = None
    after: datetime | date | None = None
    before: datetime | date | None = None
    folder: str | None = None
    thread_id: str | None = None
    has_attachment: bool | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> SearchFilters:
        """Build from untrusted keys (API/tool input); unknown keys, ``user`` included, fail."""
        if not data:
            return cls()
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InputError(
                f"unknown search filter(s) {unknown}; allowed: {sorted(allowed)}"
                + (" (the user is implied by who is asking)" if "user" in unknown else "")
            )
        return cls(**{k: v for k, v in data.items() if v is not None})

    def is_empty(self) -> bool:
        """True when no condition is set."""
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(frozen=True, slots=True)
class Match:
    """Payload ``key`` equals ``value``."""

    key: str
    value: str | int


@dataclass(frozen=True, slots=True)
class TextMatch:
    """Payload ``key`` (a full-text index) contains the words of ``text``."""

    key: str
    text: str


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of ``matches`` holds."""

    matches: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class DateRange:
    """Payload ``key`` (a datetime) in ``[gte, lt)``; either end may be open."""

    key: str
    gte: datetime | None
    lt: datetime | None


Condition = Match | TextMatch | AnyOf | DateRange


def filter_conditions(user: str, filters: SearchFilters | None) -> list[Condition]:
    """Every condition a search must satisfy, backend-neutral; each backend only translates.

    The user condition always comes first and is built here from the caller's identity only:
    ``SearchFilters`` has no user field, so nothing a caller passes can replace it.
    """
    conds: list[Condition] = [Match("user", user)]
    f = filters or SearchFilters()
    if f.sender:
        sender = f.sender.strip().lower()
        conds.append(Match("from", sender) if "@" in sender else TextMatch("from_name", sender))
    if f.recipient:
        rcpt = f.recipient.strip().lower()
        conds.append(AnyOf((Match("to", rcpt), Match("cc", rcpt))))
    if f.after is not None or f.before is not None:
        conds.append(
            DateRange(
                "date",
                to_utc(f.after) if f.after is not None else None,
                to_utc(f.before) if f.before is not None else None,
            )
        )
    if f.folder:
        conds.append(Match("folder", f.folder))
    if f.thread_id:
        conds.append(Match("thread_id", f.thread_id))
    if f.has_attachment is not None:
        # Stored as 0/1: qdrant-edge-py 0.9 turns a boolean match value into 1.
        conds.append(Match("has_attachment", int(f.has_attachment)))
    return conds


@dataclass(slots=True)
class ChunkPoint:
    """One point to write: its id, both vectors and its payload (``user`` is set by the index)."""

    id: str
    dense: np.ndarray
    sparse: SparseVec
    payload: dict[str, Any]
    #: ``(n, dim)`` sentence vectors for the MaxSim re-scoring stage (optional).
    sentences: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class VectorQuery:
    """One nearest-neighbour search over one named vector."""

    using: Literal["dense", "sparse", "sentences"]
    #: Dense query vector for ``dense`` and ``sentences`` (MaxSim of one query vector).
    vector: np.ndarray | SparseVec
    limit: int
    #: Only score these points (re-scoring a candidate set); ``None`` = the whole user corpus.
    point_ids: Sequence[PointId] | None = None
    #: Return each hit's dense vector (for client-side re-scoring and MMR).
    with_dense: bool = False
    #: Brute force instead of HNSW (ground truth in benchmarks).
    exact: bool = False
    #: ``True``, ``False`` or the payload fields to return.
    with_payload: bool | Sequence[str] = True


@dataclass(slots=True)
class ScoredChunk:
    """A hit: point id, backend score, payload and optionally its dense vector."""

    id: PointId
    score: float
    payload: dict[str, Any] = field(default_factory=dict)
    dense: np.ndarray | None = None


@runtime_checkable
class VectorIndex(Protocol):
    """A per-user vector index of message chunks (Qdrant Edge or Qdrant server)."""

    @property
    def dim(self) -> int:
        """Dense vector dimension of the index."""
        ...

    def upsert(self, user: str, points: Sequence[ChunkPoint]) -> None:
        """Insert or replace points; the payload's ``user`` is forced to ``user``."""
        ...

    def set_payload(self, user: str, point_ids: Sequence[str], payload: dict[str, Any]) -> None:
        """Update payload fields of ``user``'s points (other users' ids are ignored)."""
        ...

    def delete_messages(self, user: str, message_ids: Sequence[str]) -> None:
        """Delete every chunk of these messages of ``user``."""
        ...

    def delete_user(self, user: str) -> None:
        """Delete all points of ``user``."""
        ...

    def get_payloads(
        self, user: str, point_ids: Sequence[PointId]
    ) -> dict[PointId, dict[str, Any]]:
        """Payloads of the given points that belong to ``user``, keyed by the ids as given."""
        ...

    def message_hashes(self, user: str) -> dict[str, str]:
        """``message_id -> text_hash`` of every message of ``user`` in the index."""
        ...

    def query(
        self, user: str, queries: Sequence[VectorQuery], filters: SearchFilters | None = None
    ) -> list[list[ScoredChunk]]:
        """Run searches (one round trip where the backend allows) within ``user``'s points."""
        ...

    def count(self, user: str | None = None) -> int:
        """Number of points (chunks), of one user or in total."""
        ...

    def optimize(self) -> None:
        """Build ANN structures after a bulk load (no-op where the backend does it itself)."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...
