"""Vector retrieval of candidate responses: incoming message vs. each response's examples.

Each response in ``responses.yaml`` carries 2-4 example *incoming* messages; one point per
example is stored, and a response scores the best cosine of its examples against the incoming
message (message-to-message similarity, which matches far better than message-to-reply).

:class:`EdgeResponseIndex` keeps the points in an in-process Qdrant Edge shard under the data
dir, built once and rebuilt when the YAML's sha256 or the embedding model changes (recorded in a
small JSON file beside the shard). :class:`NumpyResponseIndex` is a brute-force fallback for
unit tests with the fake embedder and for callers without a data dir.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agents.smart_reply.responses import ResponseSet
from core.errors import VectorIndexError
from retrieval.index.embeddings import Embedder

log = logging.getLogger(__name__)
_NAMESPACE = uuid.UUID("3b0f6a52-5f0e-4c1f-9d55-2f8b7e0c9a11")
_DENSE = "dense"
META_FILE = "smart_reply_meta.json"
#: The example vectors also go to a sidecar file: when another process holds the shard (Edge is
#: single-process), this one searches the same vectors brute force instead of failing.
VECTORS_FILE = "smart_reply_vectors.npy"


class ResponseIndex(Protocol):
    """Scores every response against one query vector."""

    def scores(self, vector: np.ndarray) -> dict[str, float]:
        """``{response_id: score}`` for all responses (see :func:`aggregate`)."""
        ...

    def close(self) -> None:
        """Release files."""
        ...


#: A response's score: mostly its best example, partly all of them. The mean breaks ties between
#: responses that share a near-identical example and rewards consistently close ones.
MAX_WEIGHT = 0.75


def aggregate(pairs: list[tuple[str, float]]) -> dict[str, float]:
    """``{response_id: MAX_WEIGHT * max + (1 - MAX_WEIGHT) * mean}`` over (id, cosine) pairs."""
    per: dict[str, list[float]] = {}
    for rid, sim in pairs:
        per.setdefault(rid, []).append(sim)
    return {
        rid: MAX_WEIGHT * max(sims) + (1 - MAX_WEIGHT) * (sum(sims) / len(sims))
        for rid, sims in per.items()
    }


def _points(responses: ResponseSet) -> list[tuple[str, str]]:
    return [(r.id, example) for r in responses.responses for example in r.examples]


class NumpyResponseIndex:
    """Brute-force cosine over an in-memory matrix (unit tests, no data dir)."""

    def __init__(
        self, responses: ResponseSet, embedder: Embedder, *, matrix: np.ndarray | None = None
    ) -> None:
        points = _points(responses)
        self._ids = [rid for rid, _ in points]
        self._matrix = matrix if matrix is not None else embedder.embed([t for _, t in points])
        if self._matrix.shape[0] != len(self._ids):
            raise VectorIndexError("stored smart-reply vectors do not match the response set")

    def scores(self, vector: np.ndarray) -> dict[str, float]:
        sims = self._matrix @ np.asarray(vector, dtype=np.float32)
        return aggregate(list(zip(self._ids, (float(x) for x in sims.tolist()), strict=True)))

    def close(self) -> None:
        return None


class EdgeResponseIndex:
    """The response examples in a Qdrant Edge shard at ``path`` (exact search: ~100 points)."""

    def __init__(self, path: Path, responses: ResponseSet, embedder: Embedder) -> None:
        import qdrant_edge as qe

        self._qe = qe
        self._path = Path(path)
        self._n = len(_points(responses))
        self._lock = threading.Lock()
        self._shard: Any = None
        self._fallback: NumpyResponseIndex | None = None
        self.rebuilt = False
        meta = {"sha256": responses.sha256, "model": embedder.name, "dim": embedder.dim}
        meta_path = self._path / META_FILE
        try:
            current = json.loads(meta_path.read_text()) if meta_path.is_file() else None
        except (OSError, ValueError):
            current = None
        try:
            if current == meta:
                self._shard = qe.EdgeShard.load(str(self._path))
            else:
                # The YAML or the model changed: vectors are stale, start from scratch.
                shutil.rmtree(self._path, ignore_errors=True)
                self._shard = self._build(responses, embedder)
                meta_path.write_text(json.dumps(meta))
                self.rebuilt = True
        except Exception as exc:  # the binding raises plain Exception subclasses
            sidecar = self._path / VECTORS_FILE
            if current != meta or not sidecar.is_file():
                raise VectorIndexError(
                    f"cannot open smart-reply index at {self._path}: {exc}"
                ) from exc
            log.warning("smart-reply shard busy (%s); searching its vectors in memory", exc)
            self._fallback = NumpyResponseIndex(responses, embedder, matrix=np.load(sidecar))

    def _build(self, responses: ResponseSet, embedder: Embedder) -> Any:
        qe = self._qe
        config = qe.EdgeConfig(
            vectors={_DENSE: qe.EdgeVectorParams(size=embedder.dim, distance=qe.Distance.Cosine)},
        )
        self._path.mkdir(parents=True, exist_ok=True)
        shard = qe.EdgeShard.create(str(self._path), config)
        points = _points(responses)
        vectors = embedder.embed([text for _, text in points])
        batch = [
            qe.Point(
                uuid.uuid5(_NAMESPACE, f"{rid}\x1f{i}"),
                {_DENSE: vector.tolist()},
                {"response_id": rid},
            )
            for i, ((rid, _), vector) in enumerate(zip(points, vectors, strict=True))
        ]
        shard.update(qe.UpdateOperation.upsert_points(batch))
        shard.flush()
        np.save(self._path / VECTORS_FILE, vectors)
        return shard

    @property
    def path(self) -> Path:
        """Shard folder."""
        return self._path

    def scores(self, vector: np.ndarray) -> dict[str, float]:
        if self._fallback is not None:
            return self._fallback.scores(vector)
        qe = self._qe
        request = qe.QueryRequest(
            limit=self._n,
            query=qe.Query.Nearest(np.asarray(vector, dtype=np.float32).tolist(), using=_DENSE),
            params=qe.SearchParams(exact=True),
            with_payload=True,
            with_vector=False,
        )
        try:
            with self._lock:
                hits = self._shard.query(request)
        except Exception as exc:  # the binding raises plain Exception subclasses
            raise VectorIndexError(f"smart-reply index query failed: {exc}") from exc
        return aggregate(
            [(str((h.payload or {}).get("response_id")), float(h.score)) for h in hits]
        )

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.close()
                self._shard = None


def open_response_index(
    responses: ResponseSet, embedder: Embedder, data_dir: Path | None = None
) -> ResponseIndex:
    """Edge shard under ``<data_dir>/smart_reply/`` when a data dir is given, else numpy.

    One shard per embedding model, so switching models (or a test's fake) never rebuilds the
    other's collection.
    """
    if data_dir is None:
        return NumpyResponseIndex(responses, embedder)
    model = re.sub(r"[^A-Za-z0-9_.-]+", "_", embedder.name).lower()
    path = Path(data_dir) / "smart_reply" / f"responses-{model}"
    return EdgeResponseIndex(path, responses, embedder)
