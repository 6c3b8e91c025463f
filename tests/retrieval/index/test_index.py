"""The VectorIndex contract, run against both backends (Qdrant Edge, qdrant-client local)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe
from qdrant_client import QdrantClient

from core.errors import VectorIndexError
from core.types import Message
from evals.retrieval.datasets import make_message
from retrieval.index import SearchFilters, VectorIndex, index_messages, point_id, prune, rebuild
from retrieval.index.chunking import chunk_message, split_words
from retrieval.index.edge import META_FILE, USERS_DIR, EdgeIndex, user_dir_name
from retrieval.index.embeddings import HashEmbedder
from retrieval.index.indexer import IndexingConfig
from retrieval.index.search import FusionConfig, Searcher
from retrieval.index.server import ServerIndex

EMB = HashEmbedder(dim=64)
BACKENDS = ["edge", "client"]


def _open(kind: str, tmp_path: Path, dim: int = EMB.dim, model: str = EMB.name) -> VectorIndex:
    if kind == "edge":
        return EdgeIndex(tmp_path / "shard", dim=dim, model=model)
    return ServerIndex(QdrantClient(":memory:"), "test", dim=dim, model=model)


@pytest.fixture(params=BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    idx = _open(request.param, tmp_path)
    yield idx
    idx.close()


def _corpus() -> list[Message]:
    return [
        make_message(
            "a1",
            "The quarterly budget report is attached, please review the revenue numbers.",
            subject="Budget Q3",
            sender="alice@corp.com",
            sender_name="Alice Smith",
            to=["bob@corp.com"],
            date=datetime(2001, 3, 1, 9, tzinfo=UTC),
            folder="inbox",
            thread_id="t-budget",
            attachments=1,
        ),
        make_message(
            "a2",
            "Pipeline maintenance is scheduled for next week at the compressor station.",
            subject="Maintenance",
            sender="carol@corp.com",
            sender_name="Carol Jones",
            to=["bob@corp.com"],
            cc=["dan@corp.com"],
            date=datetime(2001, 4, 10, tzinfo=UTC),
            folder="ops",
            thread_id="t-pipe",
        ),
        make_message(
            "a3",
            "Re the budget: revenue looks fine, the pipeline capacity numbers too.",
            subject="Re: Budget Q3",
            sender="bob@corp.com",
            sender_name="Bob Brown",
            to=["alice@corp.com"],
            date=datetime(2001, 5, 20, tzinfo=UTC),
            folder="sent",
            thread_id="t-budget",
        ),
    ]


def _secret() -> list[Message]:
    return [
        make_message(
            "b1",
            "Confidential budget revenue pipeline merger plan for the board.",
            subject="Merger budget",
            sender="alice@corp.com",
            to=["bob@corp.com"],
            date=datetime(2001, 4, 1, tzinfo=UTC),
            folder="inbox",
            thread_id="t-budget",
            attachments=2,
        )
    ]


def _ids(searcher: Searcher, user: str, query: str, **kw: object) -> set[str]:
    return {h.message_id for h in searcher.search(user, query, **kw)}  # type: ignore[arg-type]


def test_upsert_and_idempotent_reindex(index: VectorIndex) -> None:
    first = index_messages(index, EMB, "ann", _corpus())
    assert first["embedded"] == 3 and first["chunks"] == 3
    again = index_messages(index, EMB, "ann", _corpus())
    assert again == {
        "messages": 3,
        "embedded": 0,
        "payload_updated": 0,
        "unchanged": 3,
        "chunks": 0,
    }
    assert index.count("ann") == 3
    assert set(index.message_hashes("ann")) == {"a1", "a2", "a3"}
    # force re-embeds but still writes the same deterministic point ids
    index_messages(index, EMB, "ann", _corpus(), force=True)
    assert index.count("ann") == 3
    assert point_id("ann", "a1", 0) in index.get_payloads("ann", [point_id("ann", "a1", 0)])


def test_changed_text_and_metadata(index: VectorIndex) -> None:
    msgs = _corpus()
    index_messages(index, EMB, "ann", msgs)
    long_text = " ".join(f"word{i}" for i in range(400))
    changed = [
        make_message("a1", long_text, subject="Budget Q3", sender="alice@corp.com"),
        msgs[1],
        msgs[2],
    ]
    changed[1].folder = "archive"
    counts = index_messages(index, EMB, "ann", changed)
    assert counts["embedded"] == 1 and counts["payload_updated"] == 1
    assert counts["unchanged"] == 1
    n_chunks = len(chunk_message(changed[0]))
    assert n_chunks > 1
    assert index.count("ann") == n_chunks + 2
    searcher = Searcher(index, EMB)
    assert _ids(searcher, "ann", "maintenance", filters=SearchFilters(folder="archive")) == {"a2"}
    # shrinking back to one chunk removes the stale chunks
    index_messages(index, EMB, "ann", msgs)
    assert index.count("ann") == 3


def test_delete_and_prune_propagate(index: VectorIndex) -> None:
    index_messages(index, EMB, "ann", _corpus())
    index_messages(index, EMB, "ben", _secret())
    index.delete_messages("ann", ["a2"])
    searcher = Searcher(index, EMB)
    assert "a2" not in _ids(searcher, "ann", "pipeline maintenance compressor")
    assert index.count("ann") == 2
    # deleting someone else's id through the wrong user does nothing
    index.delete_messages("ann", ["b1"])
    assert index.count("ben") == 1
    assert prune(index, "ann", keep=["a1"]) == 1
    assert set(index.message_hashes("ann")) == {"a1"}
    assert index.count("ben") == 1


def test_rebuild_replaces_user_points(index: VectorIndex) -> None:
    index_messages(index, EMB, "ann", _corpus())
    counts = rebuild(index, EMB, "ann", _corpus()[:1])
    assert counts["embedded"] == 1
    assert set(index.message_hashes("ann")) == {"a1"}


FILTER_CASES: list[tuple[SearchFilters, set[str]]] = [
    (SearchFilters(sender="alice@corp.com"), {"a1"}),
    (SearchFilters(sender="ALICE@corp.com"), {"a1"}),
    (SearchFilters(sender="carol"), {"a2"}),
    (SearchFilters(recipient="dan@corp.com"), {"a2"}),
    (SearchFilters(recipient="bob@corp.com"), {"a1", "a2"}),
    (SearchFilters(after=date(2001, 4, 1)), {"a2", "a3"}),
    (SearchFilters(before=datetime(2001, 4, 10)), {"a1"}),
    (SearchFilters(after=date(2001, 4, 1), before=date(2001, 5, 1)), {"a2"}),
    (SearchFilters(folder="sent"), {"a3"}),
    (SearchFilters(thread_id="t-budget"), {"a1", "a3"}),
    (SearchFilters(has_attachment=True), {"a1"}),
    (SearchFilters(has_attachment=False), {"a2", "a3"}),
]


def test_each_filter(index: VectorIndex) -> None:
    index_messages(index, EMB, "ann", _corpus())
    index_messages(index, EMB, "ben", _secret())
    searcher = Searcher(index, EMB)
    for filters, expected in FILTER_CASES:
        for mode in ("hybrid", "dense"):
            got = _ids(searcher, "ann", "budget pipeline revenue", filters=filters, mode=mode)
            assert got == expected, (filters, mode)


def test_user_isolation_with_crafted_filters(index: VectorIndex) -> None:
    index_messages(index, EMB, "ann", _corpus())
    index_messages(index, EMB, "ben", _secret())
    searcher = Searcher(index, EMB)
    query = "confidential merger budget revenue pipeline board"
    crafted = [
        None,
        SearchFilters(sender="alice@corp.com"),  # ben's message is from alice too
        SearchFilters(thread_id="t-budget"),  # a thread id ben also uses
        SearchFilters(has_attachment=True),
        SearchFilters(folder="inbox", recipient="bob@corp.com"),
    ]
    for flt in crafted:
        for mode in ("hybrid", "dense", "sparse"):
            hits = searcher.search("ann", query, filters=flt, limit=20, mode=mode)  # type: ignore[arg-type]
            assert "b1" not in {h.message_id for h in hits}
    assert {h.message_id for h in searcher.search("ben", query)} == {"b1"}
    # a filter naming the user is rejected, never merged in
    with pytest.raises(Exception, match="user"):
        SearchFilters.from_mapping({"user": "ben"})
    with pytest.raises(TypeError):
        SearchFilters(user="ben")  # type: ignore[call-arg]
    with pytest.raises(Exception, match="filters"):
        searcher.search("ann", query, filters={"user": "ben"})  # type: ignore[arg-type]
    # payload reads and writes are scoped too
    b1 = point_id("ben", "b1", 0)
    assert index.get_payloads("ann", [b1]) == {}
    index.set_payload("ann", [b1], {"folder": "stolen"})
    assert index.get_payloads("ben", [b1])[b1]["folder"] == "inbox"
    # an upsert cannot plant points under another user through the payload
    index_messages(index, EMB, "ann", [make_message("x", "budget", subject="s")])
    assert (
        index.get_payloads("ann", [point_id("ann", "x", 0)])[point_id("ann", "x", 0)]["user"]
        == "ann"
    )


def test_hybrid_aggregates_chunks_and_snippets(index: VectorIndex) -> None:
    filler = " ".join(f"filler{i}" for i in range(300))
    long_msg = make_message(
        "long", f"{filler} the zeppelin hangar lease expires", subject="Misc", sender="e@x.com"
    )
    cfg = IndexingConfig(chunk_words=100, chunk_overlap=20)
    index_messages(index, EMB, "ann", [*_corpus(), long_msg], config=cfg)
    assert index.count("ann") == 3 + len(chunk_message(long_msg, 100, 20))
    searcher = Searcher(index, EMB, indexing=cfg)
    hits = searcher.search("ann", "zeppelin hangar lease", limit=10)
    ids = [h.message_id for h in hits]
    assert ids[0] == "long"
    assert len(ids) == len(set(ids))  # one hit per message, not per chunk
    top = hits[0]
    assert "zeppelin" in top.snippet and "hangar" in top.snippet
    assert {t.lower() for t in top.matched_terms} >= {"zeppelin", "hangar", "lease"}
    assert top.sender == "e@x.com" and top.thread_id == "long"


def test_rescoring_completes_every_signal(index: VectorIndex) -> None:
    index_messages(index, EMB, "ann", _corpus())
    index_messages(index, EMB, "ben", _secret())
    searcher = Searcher(index, EMB, fusion=FusionConfig(prefetch=10))
    cands = searcher.candidates("ann", "compressor budget")
    assert {c.message_id for c in cands} == {"a1", "a2", "a3"}
    for c in cands:
        assert not np.isnan(c.dense) and not np.isnan(c.sparse) and not np.isnan(c.sentences)
    by_id = {c.message_id: c for c in cands}
    assert by_id["a2"].sparse > 0 and by_id["a1"].sparse > 0
    # the sentence stage scores a chunk by its best sentence (MaxSim)
    sentence = "Pipeline maintenance is scheduled for next week at the compressor station."
    best = searcher.candidates("ann", sentence)
    top = max(best, key=lambda c: c.sentences)
    assert top.message_id == "a2" and top.sentences == pytest.approx(1.0, abs=1e-2)
    plain = searcher.candidates("ann", "compressor budget", rescore=False)
    assert any(np.isnan(c.sentences) for c in plain)


def test_modes_and_mmr(index: VectorIndex) -> None:
    index_messages(index, EMB, "ann", _corpus())
    searcher = Searcher(index, EMB)
    sparse = searcher.search("ann", "compressor", mode="sparse")
    assert [h.message_id for h in sparse] == ["a2"]
    assert searcher.search("ann", "the of and", mode="sparse") == []  # only stop words
    diverse = searcher.search("ann", "budget revenue", diversity=0.5, limit=3)
    assert {h.message_id for h in diverse} == {"a1", "a2", "a3"}


def test_model_mismatch_is_reported(tmp_path: Path) -> None:
    EdgeIndex(tmp_path / "shard", dim=8, model="m1").close()
    with pytest.raises(VectorIndexError, match="rebuild"):
        EdgeIndex(tmp_path / "shard", dim=16, model="m2")
    client = QdrantClient(":memory:")
    ServerIndex(client, "c", dim=8, model="m1")
    with pytest.raises(VectorIndexError, match="rebuild"):
        ServerIndex(client, "c", dim=16, model="m2")


def test_edge_persists_across_reopen(tmp_path: Path) -> None:
    idx = EdgeIndex(tmp_path / "shard", dim=EMB.dim, model=EMB.name)
    index_messages(idx, EMB, "ann", _corpus())
    idx.optimize()
    idx.close()
    again = EdgeIndex(tmp_path / "shard", dim=EMB.dim, model=EMB.name)
    try:
        assert again.count("ann") == 3
        assert index_messages(again, EMB, "ann", _corpus())["unchanged"] == 3
    finally:
        again.close()


def test_edge_keeps_each_user_in_their_own_shard(tmp_path: Path) -> None:
    idx = EdgeIndex(tmp_path / "coll", dim=EMB.dim, model=EMB.name)
    try:
        assert Searcher(idx, EMB).search("ann", "budget") == []  # no shard yet: nothing
        assert idx.count("ann") == 0 and not any((tmp_path / "coll" / USERS_DIR).iterdir())
        index_messages(idx, EMB, "ann", _corpus())
        index_messages(idx, EMB, "ben", _secret())
        ann_dir = tmp_path / "coll" / USERS_DIR / user_dir_name("ann")
        ben_dir = tmp_path / "coll" / USERS_DIR / user_dir_name("ben")
        assert ann_dir.is_dir() and ben_dir.is_dir()
        assert (idx.count("ann"), idx.count("ben"), idx.count()) == (3, 1, 4)
        idx.optimize()
        # the user's hits come out of the user's own shard only
        hits = Searcher(idx, EMB).search("ann", "confidential merger board", limit=10)
        assert {h.message_id for h in hits} <= {"a1", "a2", "a3"}
        idx.delete_user("ben")
        assert not ben_dir.exists() and idx.count("ben") == 0 and idx.count("ann") == 3
    finally:
        idx.close()
    # ben's points are physically absent from ann's shard (read with the engine directly)
    shard = qe.EdgeShard.load(str(ann_dir))
    try:
        assert int(shard.count(qe.CountRequest(exact=True))) == 3
        flt = qe.Filter(must=[qe.FieldCondition(key="user", match=qe.MatchValue(value="ben"))])
        assert int(shard.count(qe.CountRequest(filter=flt, exact=True))) == 0
    finally:
        shard.close()


def test_edge_refuses_an_older_or_foreign_layout(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / META_FILE).write_text(json.dumps({"model": EMB.name, "dim": EMB.dim, "schema": 2}))
    with pytest.raises(VectorIndexError, match="rebuild"):
        EdgeIndex(old, dim=EMB.dim, model=EMB.name)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "segments").mkdir()
    with pytest.raises(VectorIndexError, match="not a mailmind index"):
        EdgeIndex(foreign, dim=EMB.dim, model=EMB.name)


def test_search_reads_payloads_of_the_final_hits_only(index: VectorIndex) -> None:
    index_messages(index, EMB, "ann", _corpus())
    searcher = Searcher(index, EMB)
    raw = searcher.candidates("ann", "budget revenue pipeline", resolve=False)
    assert raw and all(c.payload is None and c.message_id == "" for c in raw)
    searcher.resolve("ann", raw)
    assert {c.message_id for c in raw} == {"a1", "a2", "a3"}
    # chunk grouping by id alone matches grouping by the payload's message id
    assert len({c.key for c in raw}) == len(raw)


def test_split_words_overlap() -> None:
    text = " ".join(str(i) for i in range(10))
    assert split_words(text, 4, 2) == ["0 1 2 3", "2 3 4 5", "4 5 6 7", "6 7 8 9"]
    assert split_words("a b", 4, 2) == ["a b"]
    assert split_words("a b\nc d e", 3, 1) == ["a b\nc", "c d e"]
    assert np.isclose(len(split_words(text, 5, 0)), 2)


def test_filter_conditions_always_start_with_the_user() -> None:
    from datetime import date

    from retrieval.index.base import AnyOf, DateRange, Match, TextMatch, filter_conditions

    assert filter_conditions("alice", None) == [Match("user", "alice")]
    conds = filter_conditions(
        "alice",
        SearchFilters(sender="Ann", recipient="Bob@X.example", after=date(2026, 11, 1),
                      folder="INBOX", has_attachment=True),
    )  # fmt: skip
    assert conds[0] == Match("user", "alice")
    assert TextMatch("from_name", "ann") in conds
    assert AnyOf((Match("to", "bob@x.example"), Match("cc", "bob@x.example"))) in conds
    assert any(isinstance(c, DateRange) and c.lt is None for c in conds)
    assert Match("has_attachment", 1) in conds
    assert sum(1 for c in conds if isinstance(c, Match) and c.key == "user") == 1


class _SpanEmbedder(HashEmbedder):
    """The hash fake with ``embed_spans``: sentence vectors from the chunk's own call."""

    def __init__(self) -> None:
        super().__init__(dim=EMB.dim)
        self.calls: list[int] = []

    def embed_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        self.calls.append(len(texts))
        pooled = [self.embed([t[a:b] for a, b in s]) for t, s in zip(texts, spans, strict=True)]
        return self.embed(texts), pooled


def test_pooled_sentence_vectors_are_one_pass_and_rescore(index: VectorIndex) -> None:
    emb = _SpanEmbedder()
    pooled = IndexingConfig(sentence_pooling=True)
    counts = index_messages(index, emb, "ann", _corpus(), config=pooled)
    assert counts["embedded"] == 3 and emb.calls == [3]  # chunk texts only, sentences pooled
    searcher = Searcher(index, emb, indexing=pooled)
    assert searcher.search("ann", "quarterly budget report")[0].message_id == "a1"
    # Pooled and separately encoded sentence vectors differ: switching re-embeds everything.
    assert index_messages(index, emb, "ann", _corpus(), config=pooled)["unchanged"] == 3
    assert index_messages(index, emb, "ann", _corpus())["embedded"] == 3
    assert emb.calls == [3]  # the default path encoded sentences with embed(), not spans
