"""Writing messages into a :class:`~retrieval.index.base.VectorIndex`.

:func:`index_messages` is incremental: each message's first point keeps ``text_hash`` (of what
is embedded, plus the model and chunking settings) and ``meta_hash`` (of the payload). A message
whose text hash is unchanged is not re-embedded; if only its metadata moved (a folder change) the
payload is rewritten in place. Point ids are uuid5 of (user, message id, chunk number), so running
it twice writes the same points.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from core.types import Message
from retrieval.index.base import ChunkPoint, VectorIndex, point_id
from retrieval.index.chunking import chunk_message, digest, message_payload
from retrieval.index.embeddings import Embedder
from retrieval.index.sparse import SparseEncoder

if TYPE_CHECKING:
    import numpy as np

    from core.settings import IndexSettings

#: Called with the number of messages handled since the previous call.
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class IndexingConfig:
    """How messages become points (must match between indexing and search)."""

    chunk_words: int = 160
    chunk_overlap: int = 32
    sparse: SparseEncoder = field(default_factory=SparseEncoder)
    #: Embed each chunk's sentences too (the ``sentences`` multivector for re-scoring).
    sentence_vectors: bool = True
    #: Sentence vectors pooled from the chunk's own token states (one forward pass) instead of
    #: encoding each sentence alone; needs an encoder with ``embed_spans`` (the ONNX one).
    sentence_pooling: bool = False
    #: Messages per write batch: the unit that is embedded, upserted and reported.
    batch_messages: int = 256

    @classmethod
    def from_settings(cls, settings: IndexSettings) -> IndexingConfig:
        """Config from ``Settings.index``."""
        return cls(
            chunk_words=settings.chunk_words,
            chunk_overlap=settings.chunk_overlap,
            sparse=SparseEncoder(
                k1=settings.bm25_k1,
                b=settings.bm25_b,
                avg_len=settings.bm25_avg_len,
                stem=settings.stemming,
            ),
            sentence_vectors=settings.sentence_vectors,
            sentence_pooling=settings.sentence_pooling,
        )

    def fingerprint(self) -> str:
        """Everything besides the text that changes the vectors."""
        s = self.sparse
        return (
            f"w{self.chunk_words}o{self.chunk_overlap}k{s.k1}b{s.b}l{s.avg_len}s{int(s.stem)}"
            f"v{int(self.sentence_vectors)}"
        )


def _batches(items: Iterable[Message], size: int) -> Iterator[list[Message]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def index_messages(
    index: VectorIndex,
    embedder: Embedder,
    user: str,
    messages: Iterable[Message],
    *,
    config: IndexingConfig | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> dict[str, int]:
    """Embed and write new or changed messages of ``user``; returns counts.

    Counts: ``messages`` seen, ``embedded`` (new or changed text), ``payload_updated`` (same
    text, new metadata), ``unchanged``, ``chunks`` written. ``force`` re-embeds everything.
    Messages are read lazily in batches, so a store cursor can be passed directly.
    """
    cfg = config or IndexingConfig()
    counts = {"messages": 0, "embedded": 0, "payload_updated": 0, "unchanged": 0, "chunks": 0}
    fingerprint = f"{embedder.name}|{cfg.fingerprint()}"
    if _pools(embedder, cfg):
        fingerprint += "|pooled"  # other sentence vectors: re-embed when this changes
    for batch in _batches(messages, cfg.batch_messages):
        # Duplicate ids inside one batch: the last copy wins, as it would across batches.
        by_id = {m.id: m for m in batch}
        first_ids = {mid: point_id(user, mid, 0) for mid in by_id}
        existing = {} if force else index.get_payloads(user, list(first_ids.values()))
        to_embed: list[tuple[Message, list[Any], dict[str, Any]]] = []
        for mid, message in by_id.items():
            chunks = chunk_message(message, cfg.chunk_words, cfg.chunk_overlap)
            payload = message_payload(message)
            text_hash = digest(fingerprint, *(c.text for c in chunks))
            meta_hash = digest(json.dumps(payload, sort_keys=True, ensure_ascii=False))
            old = existing.get(first_ids[mid])
            if old is not None and old.get("text_hash") == text_hash:
                if old.get("meta_hash") == meta_hash:
                    counts["unchanged"] += 1
                else:
                    ids = [point_id(user, mid, n) for n in range(int(old.get("n_chunks", 1)))]
                    index.set_payload(user, ids, {**payload, "meta_hash": meta_hash})
                    counts["payload_updated"] += 1
                continue
            payload |= {"text_hash": text_hash, "meta_hash": meta_hash, "n_chunks": len(chunks)}
            to_embed.append((message, chunks, payload))
        if to_embed:
            _write(index, embedder, user, to_embed, cfg, replace=bool(existing) or force)
            counts["embedded"] += len(to_embed)
            counts["chunks"] += sum(len(chunks) for _, chunks, _ in to_embed)
        counts["messages"] += len(batch)
        if progress is not None:
            progress(len(batch))
    return counts


def _pools(embedder: Embedder, cfg: IndexingConfig) -> bool:
    """Whether sentence vectors come pooled from the chunk's forward pass."""
    return cfg.sentence_vectors and cfg.sentence_pooling and hasattr(embedder, "embed_spans")


def _write(
    index: VectorIndex,
    embedder: Embedder,
    user: str,
    items: Sequence[tuple[Message, list[Any], dict[str, Any]]],
    cfg: IndexingConfig,
    *,
    replace: bool,
) -> None:
    texts = [chunk.text for _, chunks, _ in items for chunk in chunks]
    n_chunks = len(texts)
    per_chunk: list[np.ndarray] | None = None
    if _pools(embedder, cfg):
        spans = [chunk.spans for _, chunks, _ in items for chunk in chunks]
        dense, per_chunk = embedder.embed_spans(texts, spans)  # type: ignore[attr-defined]
    else:
        if cfg.sentence_vectors:
            # One encoder call for chunks and sentences: fuller batches, one pass.
            texts += [s for _, chunks, _ in items for chunk in chunks for s in chunk.sentences]
        vectors = embedder.embed(texts)
        dense, sent_vecs = vectors[:n_chunks], vectors[n_chunks:]
    sent_row = 0
    points: list[ChunkPoint] = []
    row = 0
    for message, chunks, payload in items:
        for chunk in chunks:
            sentences = None
            if per_chunk is not None:
                sentences = per_chunk[row]
            elif cfg.sentence_vectors:
                sentences = sent_vecs[sent_row : sent_row + len(chunk.sentences)]
                sent_row += len(chunk.sentences)
            points.append(
                ChunkPoint(
                    id=point_id(user, message.id, chunk.no),
                    dense=dense[row],
                    sparse=cfg.sparse.encode_document(chunk.text),
                    payload={**payload, "chunk": chunk.no, "text": chunk.body},
                    sentences=sentences,
                )
            )
            row += 1
    # Delete and upsert as one turn on the shard: no reader (thread or process) sees a changed
    # message missing in between.
    hold = getattr(index, "hold", None)
    with hold(user) if hold is not None else nullcontext():
        if replace:
            # A changed message may now have fewer chunks: drop its old points first.
            index.delete_messages(user, [m.id for m, _, _ in items])
        index.upsert(user, points)


def delete_messages(index: VectorIndex, user: str, ids: Sequence[str]) -> int:
    """Remove these messages of ``user`` from the index; returns how many ids were given."""
    index.delete_messages(user, list(ids))
    return len(ids)


def prune(index: VectorIndex, user: str, keep: Iterable[str] | Callable[[], Iterable[str]]) -> int:
    """Delete indexed messages of ``user`` whose id is not in ``keep``; returns the count.

    Pass the store's ids as a callable: they are then read after the index, so a message that
    another process stores and indexes meanwhile is in both and never pruned."""
    indexed = set(index.message_hashes(user))
    stale = sorted(indexed - set(keep() if callable(keep) else keep))
    for start in range(0, len(stale), 1000):
        index.delete_messages(user, stale[start : start + 1000])
    return len(stale)


def rebuild(
    index: VectorIndex,
    embedder: Embedder,
    user: str,
    messages: Iterable[Message],
    *,
    config: IndexingConfig | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Drop ``user``'s points and index ``messages`` from scratch, then optimise."""
    index.delete_user(user)
    counts = index_messages(index, embedder, user, messages, config=config, progress=progress)
    index.optimize()
    return counts


#: Messages embedded or deleted in one :func:`update_user` call that trigger ``optimize()``.
OPTIMIZE_AFTER = 500


def update_user(
    index: VectorIndex,
    embedder: Embedder,
    user: str,
    messages: Iterable[Message],
    keep: Callable[[], Iterable[str]],
    *,
    config: IndexingConfig | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Bring ``user``'s vectors up to date with the store: embed new or changed ``messages``,
    delete the vectors of messages whose id is not in ``keep()``. ``rebuild`` re-embeds all.

    This is the index-update policy: after a bulk change the index is optimised."""
    counts = index_messages(
        index, embedder, user, messages, config=config, progress=progress, force=rebuild
    )
    counts["deleted"] = prune(index, user, keep)
    if counts["embedded"] + counts["deleted"] >= OPTIMIZE_AFTER:
        # Edge has no background optimiser: after a bulk change, merge segments and build
        # HNSW now, or searches would scan many small unindexed segments.
        index.optimize()
    return counts
