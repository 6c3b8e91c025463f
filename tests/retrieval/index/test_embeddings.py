"""Embedders: the hash fake (unit) and the packaged MiniLM (integration, offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelNotFoundError
from core.settings import EmbeddingSettings
from retrieval.index.embeddings import (
    Embedder,
    HashEmbedder,
    load_embedder,
    model_identity,
    resolve_model_path,
)


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    emb = HashEmbedder(dim=32)
    assert isinstance(emb, Embedder)
    a = emb.embed(["gas pipeline capacity", "lunch on friday", ""])
    b = HashEmbedder(dim=32).embed(["gas pipeline capacity", "lunch on friday", ""])
    assert a.shape == (3, 32) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a[:2], axis=1), 1.0, rtol=1e-5)
    assert not a[2].any()  # empty text: zero vector, no NaN
    q = emb.embed_query("pipeline capacity")
    assert q @ a[0] > q @ a[1]


def test_resolve_packaged_model_and_paths(tmp_path: Path) -> None:
    folder = resolve_model_path("all-MiniLM-L6-v2")
    assert (folder / "modules.json").is_file()
    assert resolve_model_path(str(folder)) == folder
    with pytest.raises(ModelNotFoundError, match="MAILMIND_EMBEDDINGS__MODEL"):
        resolve_model_path(str(tmp_path / "missing"))
    default = EmbeddingSettings()  # type: ignore[call-arg]
    assert model_identity(default) == ("all-MiniLM-L6-v2", 384)


def test_import_is_light() -> None:
    code = "import sys, retrieval.index.embeddings, retrieval.index.search, retrieval.index; "
    code += "print('torch' in sys.modules, 'sentence_transformers' in sys.modules, "
    code += "'qdrant_edge' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["False", "False", "False", "False"]


@pytest.mark.integration
def test_minilm_offline_normalised_batched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    emb = load_embedder(EmbeddingSettings(batch_size=2))  # type: ignore[call-arg]
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert emb.dim == 384 and emb.name == "all-MiniLM-L6-v2"
    texts = [
        "The gas pipeline capacity report for March",
        "Pipeline throughput numbers for the third month",
        "Are we still on for lunch on Friday?",
    ]
    vecs = emb.embed(texts)
    assert vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    # batching does not change the vectors
    np.testing.assert_allclose(emb.embed(texts[:1])[0], vecs[0], atol=1e-5)
    np.testing.assert_allclose(emb.embed_query(texts[2]), vecs[2], atol=1e-5)
    assert emb.embed([]).shape == (0, 384)
