"""The real MiniLM embedder over the demo mailbox, through the Qdrant Edge index and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.smart_reply import SmartReplier
from tests.agents.smart_reply.conftest import Demo

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def replier(demo: Demo, demo_dir: Path) -> SmartReplier:
    from core.settings import EmbeddingSettings
    from retrieval.index.embeddings import load_embedder

    svc = demo.services
    return SmartReplier(
        embedder=load_embedder(EmbeddingSettings()),  # type: ignore[call-arg]
        calendar=svc.pim.calendars,  # type: ignore[attr-defined]
        contacts=svc.pim.contacts,  # type: ignore[attr-defined]
        data_dir=demo_dir,
    )


def test_demo_mailbox_with_minilm(replier: SmartReplier, demo: Demo) -> None:
    store = demo.services.store  # type: ignore[attr-defined]
    results = {
        key: replier.suggest(store, "demo", demo[key].id)
        for key in ("tom_question", "sam_meeting", "aisha_thanks", "sensor_weekly", "tracker")
    }
    assert not results["sensor_weekly"].triggered
    assert not results["tracker"].triggered
    tom = results["tom_question"]
    assert len({c.intent for c in tom.chips}) == 3
    assert "approve" in {c.intent for c in tom.chips}  # "Yes, go ahead." for a yes/no question
    sam = results["sam_meeting"]
    assert any(c.intent == "confirm_time" and "Thu 19 Nov 14:00" in c.text for c in sam.chips)
    aisha = results["aisha_thanks"]
    assert "welcome" in {c.intent for c in aisha.chips}
    assert not any(c.polarity == "negative" for c in aisha.chips)


def test_cli_reply_json(demo: Demo, demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import build_app

    monkeypatch.setenv("MAILMIND_DATA_DIR", str(demo_dir))
    app = build_app()
    runner = CliRunner()
    ok = runner.invoke(
        app, ["reply", "--message", demo["tom_question"].id, "--user", "demo", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout.strip().splitlines()[-1])
    assert data["triggered"] is True and len(data["chips"]) == 3
    missing = runner.invoke(
        app, ["reply", "--message", demo["tom_question"].id, "--user", "other", "--json"]
    )
    assert missing.exit_code == 2
    assert json.loads(missing.stdout.strip().splitlines()[-1])["error"] == "not_found"
