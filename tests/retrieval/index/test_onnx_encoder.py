"""The ONNX Runtime encoder: same vectors as torch (fp32), close ones (int8), one export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelError
from core.settings import EmbeddingSettings
from retrieval.index.embeddings import load_embedder, model_identity, resolve_model_path
from retrieval.index.onnx_encoder import ensure_export, export_dir, read_layout

TEXTS = [
    "Are we still on for lunch on Friday?",
    "hi",
    "",
    "Ünïcödé — naïve café résumé, 東京 office",
    # Longer than the model's 256-token window: both backends must truncate the same way.
    "Please review the attached gas pipeline capacity report before the meeting. " * 40,
]


def test_layout_of_the_packaged_model_and_unsupported_ones(tmp_path: Path) -> None:
    layout = read_layout(resolve_model_path("all-MiniLM-L6-v2"))
    assert (layout.pooling, layout.normalize, layout.dim, layout.max_seq_length) == (
        "mean", True, 384, 256,
    )  # fmt: skip
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(json.dumps([
        {"path": "", "type": "sentence_transformers.models.Transformer"},
        {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]))  # fmt: skip
    (tmp_path / "sentence_bert_config.json").write_text("{}")
    with pytest.raises(ModelError, match="BACKEND=torch"):
        read_layout(tmp_path)


def test_int8_backend_names_its_vectors() -> None:
    assert model_identity(EmbeddingSettings())[0] == "all-MiniLM-L6-v2"  # type: ignore[call-arg]
    assert model_identity(EmbeddingSettings(backend="torch"))[0] == "all-MiniLM-L6-v2"  # type: ignore[call-arg]
    # An index built from int8 vectors is marked, so fp32 queries never search it unnoticed.
    int8 = EmbeddingSettings(backend="onnx-int8")  # type: ignore[call-arg]
    assert model_identity(int8) == ("all-MiniLM-L6-v2@int8", 384)


@pytest.mark.integration
def test_onnx_vectors_match_torch_and_int8_stays_close() -> None:
    torch_vecs = load_embedder(EmbeddingSettings(backend="torch")).embed(TEXTS)  # type: ignore[call-arg]
    onnx = load_embedder(EmbeddingSettings(batch_size=2))  # type: ignore[call-arg]
    assert type(onnx).__name__ == "OnnxEmbedder"  # the default backend
    fp32 = onnx.embed(TEXTS)
    assert fp32.shape == (5, 384) and fp32.dtype == np.float32
    np.testing.assert_allclose(fp32, torch_vecs, atol=2e-5)
    np.testing.assert_allclose(onnx.embed_query(TEXTS[0]), torch_vecs[0], atol=2e-5)
    int8 = load_embedder(EmbeddingSettings(backend="onnx-int8")).embed(TEXTS)  # type: ignore[call-arg]
    cosines = (int8 * torch_vecs).sum(axis=1)
    assert cosines.min() > 0.95, cosines
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, rtol=1e-4)


@pytest.mark.integration
def test_concurrent_first_uses_export_once(tmp_path: Path) -> None:
    folder = resolve_model_path("all-MiniLM-L6-v2")
    code = (
        "import sys; from pathlib import Path; "
        "from retrieval.index.onnx_encoder import ensure_export; "
        "print(ensure_export(Path(sys.argv[1]), Path(sys.argv[2]), 'fp32'))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(folder), str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = {p.communicate(timeout=300)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    target = export_dir(folder, tmp_path) / "model.fp32.onnx"
    assert outs == {str(target)}
    files = sorted(p.name for p in target.parent.iterdir() if not p.name.startswith(".lock"))
    assert files == ["model.fp32.onnx"]  # no temporary files left behind
    stamp = target.stat().st_mtime_ns
    assert ensure_export(folder, tmp_path, "fp32") == target
    assert target.stat().st_mtime_ns == stamp  # cached: not exported again


@pytest.mark.integration
def test_span_vectors_come_from_the_same_pass() -> None:
    from retrieval.index.chunking import sentence_spans

    onnx = load_embedder(EmbeddingSettings())  # type: ignore[call-arg]
    body = (
        "The gas pipeline capacity report is attached. Are we still on for lunch on Friday? "
        "Please send the signed contract to legal before noon."
    )
    long_text = "pipeline " * 300 + ". Lunch on Friday at noon?"  # the last sentence: past 256
    texts = [body, long_text]
    spans = [sentence_spans(t) for t in texts]
    assert len(spans[0]) == 3
    vectors, pooled = onnx.embed_spans(texts, spans)  # type: ignore[attr-defined]
    np.testing.assert_allclose(vectors, onnx.embed(texts), atol=1e-5)  # text vectors unchanged
    alone = onnx.embed([body[a:b] for a, b in spans[0]])
    assert pooled[0].shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(pooled[0], axis=1), 1.0, rtol=1e-4)
    # Each pooled sentence vector is nearest to its own sentence encoded alone.
    assert list((pooled[0] @ alone.T).argmax(axis=1)) == [0, 1, 2]
    # The last sentence of the long text lies past the 256-token window: encoded on its own.
    a, b = spans[1][-1]
    assert long_text[a:b] == "Lunch on Friday at noon?"
    tail = onnx.embed([" ".join(long_text[a:b].split())])[0]
    np.testing.assert_allclose(pooled[1][-1], tail, atol=1e-5)


def test_an_unwritable_cache_falls_back_to_the_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    folder = resolve_model_path("all-MiniLM-L6-v2")
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")  # a cache path under a regular file cannot be created
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    shared = tmp_path / "tmp" / f"mailmind-onnx-{os.getuid()}"
    export_dir(folder, shared).mkdir(parents=True)
    (export_dir(folder, shared) / "model.fp32.onnx").write_bytes(b"already exported")
    assert ensure_export(folder, blocked / "cache", "fp32") == (
        export_dir(folder, shared) / "model.fp32.onnx"
    )
