"""The curated response set validates, and the vector collection follows its hash."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from agents.smart_reply.index import EdgeResponseIndex, NumpyResponseIndex
from agents.smart_reply.responses import (
    RESPONSES_PATH,
    Intent,
    load_responses,
    parse_responses,
)
from core.errors import ConfigError
from retrieval.index.embeddings import HashEmbedder


def test_yaml_validates() -> None:
    responses = load_responses()
    ids = [r.id for r in responses.responses]
    assert len(ids) == len(set(ids))
    assert all(r.text.strip() for r in responses.responses)
    assert {r.intent for r in responses.responses} <= set(get_args(Intent))
    assert all(2 <= len(r.examples) <= 4 for r in responses.responses)
    # Every intent the ranker may need for a question has a response.
    assert {"approve", "reject", "defer", "confirm_time", "propose_time"} <= {
        r.intent for r in responses.responses
    }
    assert len(responses.sha256) == 64


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda t: t.replace("id: will_do\n", "id: on_it\n", 1), "duplicate"),
        (lambda t: t.replace('text: "Will do."', 'text: ""', 1), "text"),
        (lambda t: t.replace("intent: thanks", "intent: maybe", 1), "intent"),
        (lambda t: t.replace('text: "Will do."', 'text: "Will do, {boss}."', 1), "slots"),
    ],
)
def test_invalid_sets_are_rejected(mutation: object, message: str) -> None:
    text = RESPONSES_PATH.read_text()
    with pytest.raises(ConfigError, match=message):
        parse_responses(mutation(text))  # type: ignore[operator]


def test_edge_index_rebuilds_when_yaml_changes(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    text = RESPONSES_PATH.read_text()
    responses = parse_responses(text)
    first = EdgeResponseIndex(tmp_path / "idx", responses, embedder)
    assert first.rebuilt
    vector = embedder.embed_query("Is it OK if I send the spec sheet to the customer?")
    edge_scores = first.scores(vector)
    first.close()
    again = EdgeResponseIndex(tmp_path / "idx", responses, embedder)
    assert not again.rebuilt
    again.close()
    edited = parse_responses(text.replace("Will do.", "Will do!"))
    changed = EdgeResponseIndex(tmp_path / "idx", edited, embedder)
    assert changed.rebuilt
    changed.close()
    # Edge and the numpy fallback agree.
    numpy_scores = NumpyResponseIndex(responses, embedder).scores(vector)
    assert edge_scores.keys() == numpy_scores.keys()
    assert all(abs(edge_scores[k] - numpy_scores[k]) < 1e-4 for k in edge_scores)


def test_busy_shard_falls_back_to_stored_vectors(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    responses = load_responses()
    holder = EdgeResponseIndex(tmp_path / "idx", responses, embedder)
    try:
        second = EdgeResponseIndex(tmp_path / "idx", responses, embedder)
        vector = embedder.embed_query("Thanks for the update!")
        assert second.scores(vector) == pytest.approx(holder.scores(vector), abs=1e-4)
        second.close()
    finally:
        holder.close()
