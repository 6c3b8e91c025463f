"""Embedded backend: Qdrant Edge shards (``qdrant-edge-py``) on disk, in process, one per user.

Each user's points live in their own shard, ``<index_dir>/<collection>/users/<hash>/``, with its
write-ahead log (every update is durable when :meth:`EdgeIndex.upsert` returns). One shard per
user makes isolation physical - a query can only ever touch the asking user's shard (as a
second line, payloads are only handed out when their ``user`` field matches, and writes and
deletes still carry the user condition) - and makes per-user BM25 IDF
free: the shard's own statistics are the user's, where one shared shard had to recount them
under a user filter on every query (~1 ms of a 5 ms budget at 100k points). Small shards are
searched exactly; after a bulk load :meth:`EdgeIndex.optimize` merges segments and builds the
HNSW graph. ``mailmind_index.json`` in the collection folder records the embedding model and
point schema, so a change is detected and asks for ``rebuild`` instead of mixing vector spaces.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    PointId,
    ScoredChunk,
    SearchFilters,
    TextMatch,
    VectorQuery,
    filter_conditions,
    rfc3339,
)
from retrieval.index.lock import ShardLock
from retrieval.index.sparse import SparseVec

log = logging.getLogger("mailmind.index")

META_FILE = "mailmind_index.json"
USERS_DIR = "users"
_SCROLL_PAGE = 1024
#: Written by Qdrant Edge when a shard is created; its presence means "a shard lives here".
_SHARD_CONFIG = "edge_config.json"
#: How often idle shards are checked for closing (and for another process waiting on them).
_REAP_TICK_S = 0.2
#: After letting go for a waiting process, wait this long before taking the shard back.
_YIELD_GRACE_S = 0.3


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


def _uuid(pid: PointId) -> uuid.UUID:
    if isinstance(pid, uuid.UUID):
        return pid
    return uuid.UUID(int=pid) if isinstance(pid, int) else uuid.UUID(pid)


def build_filter(
    user: str, filters: SearchFilters | None, point_ids: Sequence[PointId] | None = None
) -> qe.Filter:
    """The user condition AND the optional filters (see :func:`filter_conditions`)."""
    return _with_ids([_condition(c) for c in filter_conditions(user, filters)], point_ids)


def _with_ids(must: list[Any], point_ids: Sequence[PointId] | None) -> qe.Filter:
    if point_ids is None:
        return qe.Filter(must=must)
    return qe.Filter(must=[*must, qe.HasIdCondition(point_ids={_uuid(p) for p in point_ids})])


def _hits(q: VectorQuery, points: Sequence[Any]) -> list[ScoredChunk]:
    # Every id in a shard is a UUID (upsert writes only those); hand out its integer. Payload
    # and vector are only read when asked for: each access converts Rust data to Python.
    if q.with_payload is False and not q.with_dense:
        return [ScoredChunk(p.id.int, p.score) for p in points]
    return [
        ScoredChunk(
            p.id.int, p.score, p.payload or {}, _dense_of(p.vector) if q.with_dense else None
        )
        for p in points
    ]


def user_dir_name(user: str) -> str:
    """Folder name of a user's shard: a hash, so any user name is a safe path."""
    return hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _dense_of(vector: Any) -> np.ndarray | None:
    if isinstance(vector, dict) and DENSE in vector:
        return np.asarray(vector[DENSE], dtype=np.float32)
    return None


class _Slot:
    """One user's shard as seen by this process: open (and locked against other processes)
    while some thread uses it, plus a short linger, then flushed, closed and unlocked."""

    __slots__ = ("folder", "idle_since", "lock", "mutex", "refs", "shard", "write", "yielded_at")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        #: Guards ``shard``, ``lock`` and ``refs``; held while the shard is opened or closed.
        self.mutex = threading.RLock()
        #: Serialises writes (and :meth:`EdgeIndex.hold` sessions) between threads.
        self.write = threading.RLock()
        self.shard: qe.EdgeShard | None = None
        self.lock: ShardLock | None = None
        #: Operations (and holds) in progress; the shard is only closed at zero.
        self.refs = 0
        self.idle_since = 0.0
        #: When this process last let go of the shard because another one was waiting.
        self.yielded_at = -1e9


class EdgeIndex:
    """:class:`~retrieval.index.base.VectorIndex` on Qdrant Edge, one shard per user.

    Reads of a user with no shard return nothing without creating one. Qdrant Edge lets one
    process open a shard at a time, so processes take turns (one writer, many readers, one
    after the other): an operation takes the shard's :class:`~retrieval.index.lock.ShardLock`
    and opens the shard, and when no thread has used it for ``linger_s`` seconds it is
    flushed, closed and unlocked, so another process (a search while ``mailmind ingest``
    indexes, a second ingest) gets its turn within a write batch. Waiting for the lock is
    announced and bounded by ``lock_timeout_s``. ``linger_s=None`` keeps shards open until
    :meth:`close` (benchmarks, single-process tools).
    """

    def __init__(
        self,
        path: Path,
        *,
        dim: int,
        model: str,
        hnsw_m: int = 16,
        hnsw_ef_construct: int = 200,
        hnsw_ef: int = 192,
        lock_timeout_s: float = 600.0,
        linger_s: float | None = None,
    ) -> None:
        self._path = Path(path)
        self._dim = dim
        self._hnsw_m = hnsw_m
        self._hnsw_ef_construct = hnsw_ef_construct
        self._hnsw_ef = hnsw_ef
        self._lock_timeout_s = lock_timeout_s
        self._linger_s = linger_s
        # Guards the slot table, the dirty set and the reaper thread; never held while waiting
        # for another process.
        self._lock = threading.RLock()
        self._slots: dict[str, _Slot] = {}
        self._dirty: set[str] = set()
        self._reaper: threading.Thread | None = None
        self._stop = threading.Event()
        self._check_meta(model)

    @property
    def path(self) -> Path:
        """Collection folder (holds the per-user shard folders)."""
        return self._path

    @property
    def dim(self) -> int:
        return self._dim

    def _check_meta(self, model: str) -> None:
        meta_path = self._path / META_FILE
        try:
            # Look at the folder before the meta file: the meta file is the first thing to
            # appear in it, so a folder seen non-empty here has its meta file by the check
            # below, even when another process is creating the index right now (checking in
            # the other order raced with it).
            non_empty = self._path.is_dir() and any(self._path.iterdir())
            if meta_path.is_file():
                meta = json.loads(meta_path.read_text())
                if meta.get("schema") != SCHEMA_VERSION:
                    raise VectorIndexError(
                        f"index at {self._path} has point schema {meta.get('schema')}, this "
                        f"version writes {SCHEMA_VERSION}: run `mailmind index --rebuild`"
                    )
                if meta.get("dim") != self._dim or meta.get("model") != model:
                    raise VectorIndexError(
                        f"index at {self._path} was built with {meta.get('model')!r} "
                        f"({meta.get('dim')}-d) but the embedder is {model!r} ({self._dim}-d): "
                        "run `mailmind index --rebuild`"
                    )
                return
            if non_empty:
                raise VectorIndexError(
                    f"{self._path} is not empty but has no {META_FILE}: not a mailmind index "
                    "(or an older layout); run `mailmind index --rebuild`"
                )
            # Two processes may create the index at once: the meta file appears whole (written
            # beside the folder, then renamed in) before the users folder, so neither ever sees
            # a non-empty folder without it.
            self._path.mkdir(parents=True, exist_ok=True)
            tmp = self._path.parent / f".{self._path.name}.{os.getpid()}.{META_FILE}"
            tmp.write_text(json.dumps({"model": model, "dim": self._dim, "schema": SCHEMA_VERSION}))
            tmp.replace(meta_path)
            (self._path / USERS_DIR).mkdir(exist_ok=True)
        except (OSError, ValueError) as exc:
            raise VectorIndexError(f"cannot open Qdrant Edge index at {self._path}: {exc}") from exc

    def _config(self) -> qe.EdgeConfig:
        return qe.EdgeConfig(
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
                        m=0, ef_construct=self._hnsw_ef_construct, full_scan_threshold=10_000
                    ),
                    memory=qe.Memory.Cold,
                ),
            },
            # IDF over the shard = over this user's mail only: other tenants never shift a
            # user's BM25 scores.
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            # Search returns payloads of the final hits: keep them in the page cache (the
            # default, Cold, costs ~20 ms on the first reads after opening).
            payload_memory=qe.Memory.Cached,
            hnsw_config=qe.HnswIndexConfig(
                m=self._hnsw_m, ef_construct=self._hnsw_ef_construct, full_scan_threshold=10_000
            ),
        )

    # -- opening, sharing and closing shards -------------------------------------------------

    def _slot(self, user: str) -> _Slot:
        if not user:
            raise VectorIndexError("every index operation needs a user")
        return self._slot_at(user_dir_name(user))

    def _slot_at(self, dir_name: str) -> _Slot:
        slot = self._slots.get(dir_name)
        if slot is None:
            with self._lock:
                slot = self._slots.setdefault(dir_name, _Slot(self._path / USERS_DIR / dir_name))
        return slot

    def _open(self, slot: _Slot, *, create: bool) -> bool:
        """Lock and open ``slot``'s shard (creating it if asked); whether there is one."""
        folder = slot.folder
        if not create and not (folder / _SHARD_CONFIG).is_file():
            return False  # no shard: nothing to read, and no lock file left behind
        lock = ShardLock(folder, timeout_s=self._lock_timeout_s, what="index")
        # Just let go for a waiting process: give it time to take the lock before we take it
        # back (flock is not fair; the waiter polls).
        grace = _YIELD_GRACE_S - (time.monotonic() - slot.yielded_at)
        if grace > 0:
            time.sleep(grace)
        try:
            if create:
                folder.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except FileNotFoundError:
            if create:
                raise VectorIndexError(f"shard folder {folder} vanished while opening") from None
            return False  # deleted meanwhile (mailmind users delete)
        except OSError as exc:
            raise VectorIndexError(f"cannot lock Qdrant Edge shard at {folder}: {exc}") from exc
        try:
            if (folder / _SHARD_CONFIG).is_file():
                shard = qe.EdgeShard.load(str(folder))
            elif not create:
                lock.release()
                return False
            else:
                shard = qe.EdgeShard.create(str(folder), self._config())
                for name, kind in PAYLOAD_INDEXES.items():
                    shard.update(qe.UpdateOperation.create_field_index(name, _schema(kind)))
        except Exception as exc:  # the binding raises plain Exception subclasses
            lock.release()
            raise VectorIndexError(f"cannot open Qdrant Edge shard at {folder}: {exc}") from exc
        slot.shard, slot.lock = shard, lock
        return True

    def _acquire(self, slot: _Slot, *, create: bool) -> qe.EdgeShard | None:
        with slot.mutex:
            if slot.shard is None and not self._open(slot, create=create):
                return None
            slot.refs += 1
            return slot.shard

    def _release(self, slot: _Slot) -> None:
        with slot.mutex:
            slot.refs -= 1
            if slot.refs > 0:
                return
            slot.idle_since = time.monotonic()
            if self._linger_s is None or slot.shard is None:
                return
            if self._linger_s <= 0:
                self._close_slot(slot)
            else:
                self._start_reaper()

    @contextmanager
    def _use(self, slot: _Slot, *, create: bool = False) -> Iterator[qe.EdgeShard | None]:
        """The open shard of ``slot`` for one operation (``None``: the user has no shard)."""
        shard = self._acquire(slot, create=create)
        if shard is None:
            yield None
            return
        try:
            yield shard
        finally:
            self._release(slot)

    @contextmanager
    def hold(self, user: str) -> Iterator[None]:
        """Keep ``user``'s shard to this caller for several operations: other threads' writes
        and other processes wait until the block ends (a delete-then-upsert is never seen
        half done). The shard is opened by the first operation inside, not here."""
        slot = self._slot(user)
        with slot.write:
            with slot.mutex:
                slot.refs += 1
            try:
                yield
            finally:
                self._release(slot)

    def _close_slot(self, slot: _Slot) -> None:
        """Flush, close and unlock (``slot.mutex`` held)."""
        shard, lock = slot.shard, slot.lock
        slot.shard, slot.lock = None, None
        try:
            if shard is not None:
                shard.flush()
                shard.close()
        finally:
            if lock is not None:
                lock.release()

    def _start_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None and self._reaper.is_alive():
                return
            self._stop.clear()
            self._reaper = threading.Thread(
                target=self._reap, name="edge-shard-reaper", daemon=True
            )
            self._reaper.start()

    def _reap(self) -> None:
        """Close shards nobody used for ``linger_s``, or nobody uses while another process
        waits for them; ends when none is left open."""
        linger = self._linger_s or 0.0
        while not self._stop.wait(min(max(linger / 4, 0.01), _REAP_TICK_S)):
            now = time.monotonic()
            open_left = False
            with self._lock:
                slots = list(self._slots.values())
            for slot in slots:
                # Never wait here: a thread may hold this mutex while it waits (minutes) for
                # another process's lock, and the other shards must still be let go.
                if not slot.mutex.acquire(blocking=False):
                    open_left = True
                    continue
                try:
                    if slot.shard is None:
                        continue
                    if slot.refs == 0 and now - slot.idle_since >= linger:
                        self._close_slot(slot)
                    elif slot.refs == 0 and slot.lock is not None and slot.lock.wanted():
                        self._close_slot(slot)
                        slot.yielded_at = time.monotonic()
                    else:
                        open_left = True
                except Exception:  # a reaper must outlive one bad shard
                    log.exception("closing Qdrant Edge shard %s failed", slot.folder)
                finally:
                    slot.mutex.release()
            if not open_left:
                with self._lock:
                    if not any(s.shard is not None for s in self._slots.values()):
                        self._reaper = None
                        return

    # -- writes -------------------------------------------------------------------------------

    def _update(self, user: str, op: Any, *, create: bool = False) -> None:
        slot = self._slot(user)
        with slot.write, self._use(slot, create=create) as shard:
            if shard is None:
                return
            shard.update(op)
            with self._lock:
                self._dirty.add(user)

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
        self._update(user, qe.UpdateOperation.upsert_points(batch), create=True)

    def set_payload(self, user: str, point_ids: Sequence[str], payload: dict[str, Any]) -> None:
        if not point_ids:
            return
        clean = {k: v for k, v in payload.items() if k != "user"}
        flt = build_filter(user, None, point_ids)
        self._update(user, qe.UpdateOperation.set_payload_by_filter(flt, clean))

    def delete_messages(self, user: str, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        flt = qe.Filter(
            must=[
                _match("user", user),
                qe.FieldCondition(key="message_id", match=qe.MatchAny(any=list(message_ids))),
            ]
        )
        self._update(user, qe.UpdateOperation.delete_points_by_filter(flt))

    def delete_user(self, user: str) -> None:
        slot = self._slot(user)
        with slot.write, slot.mutex:
            lock = slot.lock
            if slot.shard is not None:
                slot.shard.close()  # keep our lock until the folder is gone
            elif slot.folder.is_dir():
                lock = ShardLock(slot.folder, timeout_s=self._lock_timeout_s, what="index")
                try:
                    lock.acquire()
                except FileNotFoundError:
                    lock = None
            slot.shard, slot.lock = None, None
            try:
                shutil.rmtree(slot.folder, ignore_errors=True)
            finally:
                if lock is not None:
                    lock.release()
            with self._lock:
                self._dirty.discard(user)

    # -- reads --------------------------------------------------------------------------------

    def get_payloads(
        self, user: str, point_ids: Sequence[PointId]
    ) -> dict[PointId, dict[str, Any]]:
        if not point_ids:
            return {}
        wanted = {_uuid(p): p for p in point_ids}
        with self._use(self._slot(user)) as shard:
            if shard is None:
                return {}
            records = shard.retrieve(list(wanted), with_payload=True, with_vector=False)
        out: dict[PointId, dict[str, Any]] = {}
        for rec in records:
            payload = rec.payload or {}
            if payload.get("user") == user:
                rid = _uuid(rec.id)
                out[wanted.get(rid, rid)] = payload
        return out

    def message_hashes(self, user: str) -> dict[str, str]:
        flt = qe.Filter(must=[_match("user", user), _match("chunk", 0)])
        selector = qe.PayloadSelector.Include(["message_id", "text_hash"])
        out: dict[str, str] = {}
        offset: Any = None
        with self._use(self._slot(user)) as shard:
            if shard is None:
                return {}
            while True:
                records, offset = shard.scroll(
                    qe.ScrollRequest(
                        offset=offset, limit=_SCROLL_PAGE, filter=flt, with_payload=selector
                    )
                )
                for rec in records:
                    payload = rec.payload or {}
                    out[str(payload.get("message_id"))] = str(payload.get("text_hash", ""))
                if offset is None:
                    return out

    def _request(self, must: list[Any], q: VectorQuery) -> qe.QueryRequest:
        vector: Any
        if isinstance(q.vector, SparseVec):
            vector = qe.SparseVector(indices=q.vector.indices, values=q.vector.values)
        elif q.using == SENTENCES:
            vector = [np.asarray(q.vector, dtype=np.float32).tolist()]
        else:
            vector = np.asarray(q.vector, dtype=np.float32).tolist()
        return qe.QueryRequest(
            limit=q.limit,
            query=qe.Query.Nearest(vector, using=q.using),
            filter=_with_ids(must, q.point_ids),
            params=qe.SearchParams(hnsw_ef=max(self._hnsw_ef, q.limit), exact=q.exact),
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
        slot = self._slot(user)
        conds = filter_conditions(user, filters)
        # The shard holds this user's points only, so the user condition (always first) would
        # be checked on every visited HNSW node for nothing (~0.3 ms per query at 100k). The
        # final hits' payloads are still checked against the user (get_payloads).
        assert conds[0] == Match("user", user)
        must = [_condition(c) for c in conds[1:]]
        requests = [self._request(must, q) for q in queries]
        with self._use(slot) as shard:
            if shard is None:
                return [[] for _ in queries]
            try:
                results = shard.query_batch(qe.QueryBatchRequest(requests))
            except Exception as exc:
                raise VectorIndexError(f"Qdrant Edge query failed: {exc}") from exc
        return [_hits(q, hits) for q, hits in zip(queries, results, strict=True)]

    def _all_users(self) -> list[Path]:
        users = self._path / USERS_DIR
        if not users.is_dir():
            return []
        return sorted(p for p in users.iterdir() if (p / _SHARD_CONFIG).is_file())

    def count(self, user: str | None = None) -> int:
        if user is not None:
            flt = qe.Filter(must=[_match("user", user)])
            with self._use(self._slot(user)) as shard:
                return (
                    0
                    if shard is None
                    else int(shard.count(qe.CountRequest(filter=flt, exact=True)))
                )
        total = 0
        for folder in self._all_users():
            with self._use(self._slot_at(folder.name)) as shard:
                if shard is not None:
                    total += int(shard.count(qe.CountRequest(exact=True)))
        return total

    def optimize(self) -> None:
        """Merge segments and build HNSW in every shard written since the last call."""
        with self._lock:
            users = sorted(self._dirty)
            self._dirty.clear()
        for user in users:
            slot = self._slot(user)
            with slot.write, self._use(slot) as shard:
                if shard is not None:
                    shard.optimize()

    def info(self, user: str | None = None) -> dict[str, int]:
        """Points, segments and HNSW-indexed vectors of one user's shard or of all shards."""
        slots = [self._slot(user)] if user else [self._slot_at(p.name) for p in self._all_users()]
        infos = []
        for slot in slots:
            with self._use(slot) as shard:
                if shard is not None:
                    infos.append(shard.info())
        return {
            "shards": len(infos),
            "points": sum(i.points_count for i in infos),
            "segments": sum(i.segments_count for i in infos),
            "indexed_vectors": sum(i.indexed_vectors_count for i in infos),
        }

    def close(self) -> None:
        """Flush, close and unlock every shard this process has open."""
        self._stop.set()
        with self._lock:
            reaper, self._reaper = self._reaper, None
            slots = list(self._slots.values())
        if reaper is not None and reaper is not threading.current_thread():
            reaper.join(timeout=5)
        for slot in slots:
            with slot.mutex:
                self._close_slot(slot)
