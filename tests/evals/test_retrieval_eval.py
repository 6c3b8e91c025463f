"""Retrieval eval: dataset readers on the shared data, and a small real-model run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import build_app
from core.settings import Settings
from evals.retrieval.datasets import normalise_ws, read_aeslc, read_bc3, read_distractors
from evals.retrieval.metrics import ndcg_at, recall_at, reciprocal_rank
from evals.retrieval.suite import Variant, evaluate, format_table
from retrieval.index.embeddings import HashEmbedder, load_embedder
from tests.conftest import shared_path


def test_metrics() -> None:
    assert reciprocal_rank(["a", "b", "c"], {"b"}) == 0.5
    assert reciprocal_rank(["a"], {"z"}) == 0.0
    assert recall_at(["a", "b"], {"b", "c"}, 1) == 0.0
    assert recall_at(["a", "b"], {"b", "c"}, 2) == 0.5
    assert ndcg_at(["x", "a"], {"a"}, 10) == pytest.approx(1 / 1.5849625)


def test_aeslc_reader_excludes_real_subject(tmp_path: Path) -> None:
    (tmp_path / "x_1.subject").write_text(
        "Body line one.\nBody line two.\n\n@subject\nReal Subject\n\n@ann0\nq zero\n\n"
        "@ann1\nq one\n\n@ann2\nq two\n"
    )
    ds = read_aeslc(tmp_path)
    assert [m.id for m in ds.messages] == ["x_1"]
    assert "Real Subject" not in ds.messages[0].body_text
    assert ds.messages[0].subject == ""
    assert ds.queries == [("q zero", {"x_1"}), ("q one", {"x_1"}), ("q two", {"x_1"})]


def test_shared_datasets_parse() -> None:
    aeslc = read_aeslc(shared_path("summaries", "aeslc_dev"), limit=50)
    assert len(aeslc.messages) == 50 and len(aeslc.queries) == 150
    bc3 = read_bc3(shared_path("summaries", "bc3_dev"))
    ids = {m.id for m in bc3.messages}
    assert bc3.queries and all(rel <= ids for _, rel in bc3.queries)
    maildir = shared_path("mail", "enron_maildir")
    exclude = {normalise_ws(m.body_text) for m in aeslc.messages}
    distractors = read_distractors(maildir, exclude_bodies=exclude, limit=200)
    assert len(distractors) == 200
    assert not {normalise_ws(m.body_text) for m in distractors} & exclude


def test_eval_runs_on_edge_with_fake_embedder(tmp_path: Path) -> None:
    ds = read_aeslc(shared_path("summaries", "aeslc_dev"), limit=40)
    report = evaluate(ds, HashEmbedder(dim=64), settings=Settings(data_dir=tmp_path))  # type: ignore[call-arg]
    assert report["documents"] == 40 and report["queries"] == 120
    assert {"dense", "sparse", "hybrid", "rrf_k60_plain"} <= set(report["metrics"])
    for metrics in report["metrics"].values():
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert "MRR@10" in format_table(report)


@pytest.mark.integration
@pytest.mark.slow
# The suite itself runs in test_smoke.py[retrieval]; this quality claim is `make eval`'s.
@pytest.mark.heavy
def test_hybrid_beats_single_methods_on_aeslc_subset(tmp_path: Path) -> None:
    ds = read_aeslc(shared_path("summaries", "aeslc_dev"), limit=100)
    settings = Settings(data_dir=tmp_path)  # type: ignore[call-arg]
    variants = [Variant("dense", "dense"), Variant("sparse", "sparse"), Variant("hybrid", "hybrid")]
    report = evaluate(ds, load_embedder(settings.embeddings), settings=settings, variants=variants)
    m = report["metrics"]
    for metrics in m.values():
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert m["hybrid"]["mrr@10"] >= m["dense"]["mrr@10"]
    assert m["hybrid"]["mrr@10"] >= m["sparse"]["mrr@10"]


def test_eval_cli_writes_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = shared_path("summaries", "aeslc_dev")
    monkeypatch.setattr("evals.retrieval.suite.load_embedder", lambda _c: HashEmbedder(dim=32))
    settings = Settings(data_dir=tmp_path)  # type: ignore[call-arg]
    app = build_app(settings)

    out = tmp_path / "report.json"
    args = ["eval", "retrieval", "--dataset", str(dataset), "--limit", "20", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "mrr@10" in res.output
    report = json.loads(out.read_text())
    assert report["suite"] == "retrieval" and report["n"] == 60  # 20 emails x 3 human lines
    systems = {s["name"]: s for s in report["systems"]}
    assert systems["hybrid"]["role"] == "ours"
    assert {"dense", "sparse", "rrf_k60_plain"} <= {
        s["name"] for s in report["systems"] if s["role"] == "baseline"
    }
    for s in report["systems"]:
        m = s["metrics"]["mrr@10"]
        assert m["lo"] <= m["value"] <= m["hi"]
        assert len(s["per_example"]["mrr@10"]) == 60
    assert report["meta"]["dataset_fingerprint"].startswith("sha256:")
    assert (tmp_path / "retrieval.md").is_file() and (tmp_path / "retrieval-scores.png").is_file()
