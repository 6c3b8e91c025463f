"""`mailmind search` on the index alone, with the fake embedder patched in at the process edge."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.cli import build_app
from core.settings import Settings
from evals.retrieval.datasets import make_message
from retrieval.index import index_messages, open_index
from retrieval.index.embeddings import HashEmbedder

EMB = HashEmbedder(dim=384)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[typer.Typer, Settings]:
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    monkeypatch.setattr("retrieval.index.embeddings.load_embedder", lambda _cfg: EMB)
    index = open_index(settings, dim=EMB.dim, model=EMB.name)
    index_messages(
        index,
        EMB,
        "ann",
        [
            make_message(
                "m1",
                "The gas pipeline capacity report for March.",
                subject="Capacity",
                sender="alice@corp.com",
                date=datetime(2001, 3, 2, tzinfo=UTC),
            ),
            make_message(
                "m2",
                "Lunch on Friday?",
                subject="Lunch",
                sender="bob@corp.com",
                date=datetime(2001, 6, 1, tzinfo=UTC),
            ),
        ],
    )
    index_messages(index, EMB, "ben", [make_message("b1", "pipeline secret", sender="x@y.z")])
    index.close()
    app = build_app(settings)

    return app, settings


def test_search_json_is_scoped_and_filtered(app: tuple[typer.Typer, Settings]) -> None:
    typer_app, _ = app
    runner = CliRunner()
    res = runner.invoke(typer_app, ["search", "pipeline capacity", "--user", "ann", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["query"] == "pipeline capacity" and out["unindexed"] == 0
    hits = out["results"]
    assert hits[0]["message_id"] == "m1"
    assert "pipeline" in hits[0]["snippet"]
    assert {h["message_id"] for h in hits} <= {"m1", "m2"}
    res = runner.invoke(
        typer_app,
        ["search", "pipeline", "--user", "ann", "--from", "bob@corp.com", "--json"],
    )
    assert [h["message_id"] for h in json.loads(res.stdout)["results"]] == ["m2"]
    res = runner.invoke(
        typer_app, ["search", "pipeline", "-u", "ann", "--after", "2001-05-01", "--json"]
    )
    assert [h["message_id"] for h in json.loads(res.stdout)["results"]] == ["m2"]
    res = runner.invoke(typer_app, ["search", "pipeline", "-u", "ann", "--before", "bad", "--json"])
    assert res.exit_code == 2 and json.loads(res.stdout)["error"] == "input_error"


def test_search_table(app: tuple[typer.Typer, Settings]) -> None:
    typer_app, _ = app
    res = CliRunner().invoke(typer_app, ["search", "lunch", "--user", "ann", "--limit", "1"])
    assert res.exit_code == 0, res.output
    assert "Lunch" in res.output and "m2" in res.output
