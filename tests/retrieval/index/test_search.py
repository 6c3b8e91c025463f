"""Search pieces without an index: tokenizer, BM25 weights, fusion, snippets, MMR, filters."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from core.errors import InputError
from retrieval.index.base import (
    MAX_CHUNKS,
    PointId,
    SearchFilters,
    message_key,
    point_id,
    rfc3339,
)
from retrieval.index.chunking import split_sentences
from retrieval.index.search import FusionConfig, _sentence_pool, fuse, make_snippet, mmr
from retrieval.index.sparse import SparseEncoder, light_stem, term_id, tokenize


def test_tokenizer_lowercases_splits_and_drops_stop_words() -> None:
    assert tokenize("The Gas-Pipeline's CAPACITY, for Q3_2001!", stem=False) == [
        "gas",
        "pipelines",
        "capacity",
        "q3",
        "2001",
    ]
    assert tokenize("Zürich meetings", stem=True) == ["zürich", "meet"]
    assert tokenize("a I of the") == []


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("meetings", "meet"),
        ("companies", "company"),
        ("boxes", "box"),
        ("business", "business"),
        ("status", "status"),
        ("scheduled", "schedul"),
        ("scheduling", "schedul"),
        ("gas", "gas"),
        ("quickly", "quick"),
    ],
)
def test_light_stem(word: str, stem: str) -> None:
    assert light_stem(word) == stem


def test_bm25_document_weights_saturate_and_normalise_length() -> None:
    enc = SparseEncoder(k1=1.2, b=0.75, avg_len=10)
    short = enc.encode_document("pipeline")
    repeated = enc.encode_document("pipeline pipeline pipeline")
    longer = enc.encode_document("pipeline " + " ".join(f"w{i}" for i in range(40)))
    dim = term_id("pipeline")
    w = {d: v for d, v in zip(repeated.indices, repeated.values, strict=True)}
    assert short.indices == [dim]
    assert short.values[0] < w[dim] < 1.2 + 1  # saturates below k1 + 1
    assert dict(zip(longer.indices, longer.values, strict=True))[dim] < short.values[0]
    q = enc.encode_query("pipeline pipeline capacity")
    assert q.values == [1.0, 1.0] and len(q) == 2
    assert enc.encode_document("").indices == []


def test_minmax_fusion_uses_complete_scores() -> None:
    dense = np.array([0.9, 0.5, 0.1])
    sparse = np.array([0.0, 10.0, 5.0])
    fused = fuse(dense, sparse, FusionConfig("minmax"), dense_weight=0.5)  # no sentences given
    np.testing.assert_allclose(fused, [0.5, 0.5 * 0.5 + 0.5, 0.25])
    # unscored sparse (NaN) counts as no match, not as a crash
    fused = fuse(dense, np.array([np.nan, 10.0, 5.0]), FusionConfig("minmax"), dense_weight=0.5)
    assert np.isfinite(fused).all()
    z = fuse(dense, sparse, FusionConfig("zscore"), dense_weight=0.5)
    assert int(np.argmax(z)) == 1


def test_sentence_stage_weight() -> None:
    dense = np.array([0.9, 0.1])
    sparse = np.array([1.0, 1.0])
    sentences = np.array([0.2, 0.8])
    cfg = FusionConfig("minmax", sentence_weight=0.5)
    fused = fuse(dense, sparse, cfg, dense_weight=1.0, sentences=sentences)
    np.testing.assert_allclose(fused, [0.5, 0.5])
    # no sentence scores at all (index without sentence vectors): the stage drops out
    fused = fuse(dense, sparse, cfg, dense_weight=1.0, sentences=np.array([np.nan, np.nan]))
    np.testing.assert_allclose(fused, [1.0, 0.0])


def test_split_sentences() -> None:
    text = "Hi Phillip, this confirms our meeting.\nAttendees will be Monica and Sheri.\n\n"
    text += "Thanks,\nSRS"
    assert split_sentences(text) == [
        "Hi Phillip, this confirms our meeting.",
        "Attendees will be Monica and Sheri. Thanks, SRS",
    ]
    assert split_sentences("ok") == ["ok"]
    assert len(split_sentences("word " * 200)) == 5  # long runs are cut at 48 words


def test_rrf_ignores_unscored_items() -> None:
    dense = np.array([0.9, 0.5, np.nan])
    sparse = np.array([0.0, 2.0, 3.0])
    fused = fuse(dense, sparse, FusionConfig("rrf", rrf_k=60), dense_weight=0.5)
    np.testing.assert_allclose(fused, [1 / 61, 1 / 62 + 1 / 62, 1 / 61])
    weighted = fuse(dense, sparse, FusionConfig("rrf", rrf_k=60), dense_weight=0.25)
    assert weighted[2] > weighted[0]


def test_snippet_centres_on_matched_terms() -> None:
    text = " ".join(f"w{i}" for i in range(100)) + " the Zeppelin hangar, lease ends " + "x " * 50
    terms = set(tokenize("zeppelin hangar lease"))
    snippet, matched = make_snippet(text, terms, stem=True, width=20)
    assert "Zeppelin" in snippet and "hangar," in snippet
    assert matched == ["Zeppelin", "hangar", "lease"]
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert make_snippet("", terms, stem=True) == ("", [])
    plain, none = make_snippet("no match here", terms, stem=True)
    assert plain == "no match here" and none == []


def test_mmr_prefers_novel_items() -> None:
    vecs = np.array([[1.0, 0.0], [0.999, 0.045], [0.0, 1.0]], dtype=np.float32)
    rel = np.array([1.0, 0.99, 0.5])
    assert mmr(vecs, rel, 2, lambda_=1.0) == [0, 1]
    assert mmr(vecs, rel, 2, lambda_=0.5) == [0, 2]


def test_filters_from_untrusted_mapping() -> None:
    f = SearchFilters.from_mapping({"sender": "a@b.c", "has_attachment": True, "folder": None})
    assert f == SearchFilters(sender="a@b.c", has_attachment=True)
    assert SearchFilters.from_mapping(None).is_empty()
    bads: list[dict[str, object]] = [{"user": "other"}, {"user_id": "x"}, {"must": []}]
    for bad in bads:
        with pytest.raises(InputError):
            SearchFilters.from_mapping(bad)


def test_point_ids_are_deterministic_per_user() -> None:
    assert point_id("u", "m", 0) == point_id("u", "m", 0)
    assert len({point_id("u", "m", 0), point_id("v", "m", 0), point_id("u", "m", 1)}) == 3
    # the chunks of one message share a key; other messages and users do not
    keys = {message_key(point_id("u", "m", n)) for n in (0, 1, MAX_CHUNKS - 1)}
    assert len(keys) == 1
    assert message_key(point_id("u", "m", 0)) not in {
        message_key(point_id("v", "m", 0)),
        message_key(point_id("u", "m2", 0)),
    }
    # every id form a backend may hand out gives the same key
    pid = point_id("u", "m", 3)
    assert message_key(uuid.UUID(pid)) == message_key(uuid.UUID(pid).int) == message_key(pid)
    assert uuid.UUID(pid).version == 5  # the chunk bits leave the version field alone
    with pytest.raises(ValueError):
        point_id("u", "m", MAX_CHUNKS)
    from datetime import date, datetime, timedelta, timezone

    tz = timezone(timedelta(hours=-8))
    assert rfc3339(datetime(2001, 3, 5, 3, 59, tzinfo=tz)) == "2001-03-05T11:59:00Z"
    assert rfc3339(date(2001, 3, 5)) == "2001-03-05T00:00:00Z"


def test_sentence_pool_keeps_the_best_first_pass_chunks() -> None:
    dense: dict[PointId, float] = {1: 0.9, 2: 0.8, 3: 0.1}
    sparse: dict[PointId, float] = {3: 2.0, 4: 9.0, 5: 0.5}
    cfg = FusionConfig(dense_weight=0.5, sentence_pool=2)
    # first pass: 1 -> 0.5*1 + 0, 4 -> 0 + 0.5*1, 2 -> 0.5*0.875, 3 -> 0 + 0.5*0.22
    assert _sentence_pool(dense, sparse, cfg) == [1, 4]
    assert sorted(_sentence_pool(dense, sparse, FusionConfig(sentence_pool=0))) == [1, 2, 3, 4, 5]
