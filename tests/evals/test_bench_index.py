"""``mailmind bench ingest --index``: end-to-end counts and the encoder ratio on the same texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import REPO_ROOT, Settings
from evals.bench_ingest import run_index_bench


@pytest.mark.integration
# Ingest with indexing is covered by the ingest and index tests; this checks the bench's report.
@pytest.mark.heavy
def test_index_bench_reports_what_it_indexed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "unused", _env_file=None)  # type: ignore[call-arg]
    report = run_index_bench(REPO_ROOT / "demo" / "mail", settings, sample=5, log=lambda _m: None)
    stored = report["messages"]
    assert isinstance(stored, int) and stored > 20
    assert report["points"] >= stored  # at least one chunk per message
    sample = report["sample"]
    assert isinstance(sample, dict) and sample["messages"] == 5 and sample["texts"] > 10
    assert sample["raw_fp32_torch_messages_per_s"] > 0 and sample["encoder_speedup_over_raw"] > 0
    assert report["encoder"] == {"backend": "onnx", "sentence_vectors": True,
                                 "sentence_pooling": False}  # fmt: skip
    assert not (tmp_path / "unused").exists()  # the run used its own temporary data dir
