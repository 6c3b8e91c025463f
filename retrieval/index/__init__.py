"""The Qdrant vector index: one :class:`VectorIndex` protocol, two backends.

* ``edge`` (default): :class:`~retrieval.index.edge.EdgeIndex`, embedded Qdrant Edge with one
  shard per user under ``Settings.index_dir``.
* ``server``: :class:`~retrieval.index.server.ServerIndex`, a Qdrant server via qdrant-client.

:func:`open_index` picks one from settings; the backend modules are imported lazily.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from core.errors import ConfigError
from retrieval.index.base import (
    ChunkPoint,
    ScoredChunk,
    SearchFilters,
    VectorIndex,
    VectorQuery,
    point_id,
)
from retrieval.index.indexer import (
    IndexingConfig,
    delete_messages,
    index_messages,
    prune,
    rebuild,
)

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = [
    "ChunkPoint",
    "IndexingConfig",
    "ScoredChunk",
    "SearchFilters",
    "VectorIndex",
    "VectorQuery",
    "delete_messages",
    "drop_index",
    "index_messages",
    "open_index",
    "point_id",
    "prune",
    "rebuild",
]


def open_index(
    settings: Settings, *, dim: int | None = None, model: str | None = None
) -> VectorIndex:
    """Open (creating if needed) the configured index for vectors of ``dim`` from ``model``.

    Both default to the configured embedding model, read from its config files (cheap: the
    encoder itself is not loaded).
    """
    if dim is None or model is None:
        from retrieval.index.embeddings import model_identity

        name, size = model_identity(settings.embeddings)
        dim = size if dim is None else dim
        model = name if model is None else model
    cfg = settings.index
    common = {
        "dim": dim,
        "model": model,
        "hnsw_m": cfg.hnsw_m,
        "hnsw_ef_construct": cfg.hnsw_ef_construct,
        "hnsw_ef": cfg.hnsw_ef,
    }
    if cfg.backend == "edge":
        from retrieval.index.edge import EdgeIndex

        return EdgeIndex(
            settings.index_dir / cfg.collection,
            lock_timeout_s=cfg.lock_timeout_s,
            linger_s=cfg.lock_linger_s,
            **common,  # type: ignore[arg-type]
        )
    if not cfg.url:
        raise ConfigError("MAILMIND_INDEX__URL must be set for the `server` index backend")
    from qdrant_client import QdrantClient

    from retrieval.index.server import ServerIndex

    client = QdrantClient(
        url=cfg.url, api_key=cfg.api_key.get_secret_value() if cfg.api_key else None
    )
    return ServerIndex(client, cfg.collection, **common)  # type: ignore[arg-type]


def drop_index(settings: Settings) -> None:
    """Delete the whole index (all users), e.g. before re-embedding with another model."""
    cfg = settings.index
    if cfg.backend == "edge":
        shutil.rmtree(settings.index_dir / cfg.collection, ignore_errors=True)
        return
    from qdrant_client import QdrantClient

    client = QdrantClient(
        url=cfg.url, api_key=cfg.api_key.get_secret_value() if cfg.api_key else None
    )
    if client.collection_exists(cfg.collection):
        client.delete_collection(cfg.collection)
    client.close()
