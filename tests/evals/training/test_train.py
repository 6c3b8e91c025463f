"""Labels from mailbox behaviour, the trained model's file and card, and the service using it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import numpy as np
import pytest

from agents.smart_reply.learned import (
    FEATURE_VERSION,
    HAND_FEATURES,
    LearnedModel,
    load_model,
    model_path,
    parse_model,
)
from core.errors import InputError, ModelError
from evals.training.data import load_examples
from retrieval.index.embeddings import HashEmbedder

START = datetime(2001, 3, 1, 9, tzinfo=UTC)
ASKS = [
    "Can you send me the revised gas schedule by Friday?",
    "Could you review the storage contract before the meeting?",
    "Are you free to talk about the pipeline capacity tomorrow?",
    "Please confirm the price for the March deliveries.",
]
NEWS = [
    "The weekly market report is attached for your information.",
    "Reminder: the building will be closed on Monday for maintenance.",
    "Here is the newsletter for this month with updates from the floor.",
    "FYI the conference room schedule changed, no action needed.",
]


def _write(path: Path, **h: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = h.pop("body")
    head = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in h.items())
    path.write_text(f"{head}\n{body}\n")


def make_tree(root: Path) -> Path:
    """Two owners; each answers the asks (two quickly, two days later) and not the news."""
    for owner in ("ann-a", "bob-b"):
        me = f"{owner.split('-')[0]}@corp.example"
        n = 0
        for i in range(8):
            for kind, texts in (("ask", ASKS), ("news", NEWS)):
                n += 1
                sender = f"peer{i % 3}@corp.example" if kind == "ask" else f"list{i}@news.example"
                date = START + timedelta(days=n)
                subject = f"{kind} {i} {owner}"
                _write(root / owner / "inbox" / f"{n}.", Message_ID=f"<{owner}-{n}@x>",
                       Date=format_datetime(date), From=sender, To=me, Subject=subject,
                       body=texts[i % 4])  # fmt: skip
                if kind == "ask":
                    delay = timedelta(hours=2 if i % 2 else 60)
                    _write(root / owner / "_sent_mail" / f"{n}.", Message_ID=f"<{owner}-r{n}@x>",
                           Date=format_datetime(date + delay), From=me, To=sender,
                           Subject=f"RE: {subject}", In_Reply_To=f"<{owner}-{n}@x>",
                           body="Will do, thanks.")  # fmt: skip
    return root


def test_labels_and_history_come_from_behaviour(tmp_path: Path) -> None:
    examples = load_examples(make_tree(tmp_path / "mail"))
    assert len(examples) == 32 and {e.owner for e in examples} == {"ann-a", "bob-b"}
    asks = [e for e in examples if e.message.subject.startswith("ask")]
    news = [e for e in examples if e.message.subject.startswith("news")]
    assert all(e.replied for e in asks) and not any(e.replied for e in news)
    # Important: a quick reply, or a sender the owner writes to (all asks' senders).
    assert all(e.important for e in asks) and not any(e.important for e in news)
    assert all(e.owner_emails == {f"{e.owner.split('-')[0]}@corp.example"} for e in examples)
    # History counts only mail before the message: the first ask from a peer has none.
    first = min((e for e in asks if e.owner == "ann-a"), key=lambda e: e.message.date)
    assert (first.history.messages_to, first.history.messages_from) == (0, 0)
    last = max((e for e in asks if e.owner == "ann-a"), key=lambda e: e.message.date)
    assert last.history.messages_to >= 1 and last.history.messages_from >= 1


def test_train_writes_a_model_the_service_uses(tmp_path: Path) -> None:
    from agents.smart_reply.service import SmartReplier
    from evals.training.train import train
    from retrieval.sources.mail.parse import parse_message

    out = tmp_path / "data" / "models" / "trigger"
    card = train("trigger", make_tree(tmp_path / "mail"), out, embedder=HashEmbedder(dim=16),
                 precision=0.9, log=lambda _m: None)  # fmt: skip
    assert set(card["held_out_owners"]) == {"ann-a", "bob-b"}
    for fold in card["held_out_owners"].values():
        assert fold["n"] == 16 and fold["positives"] == 8
        assert fold["pr_auc"] > 0.9  # asks vs news is easy; the rules get it too
    assert card["data_fingerprint"] and card["hyperparameters"]["seed"] == 0
    model = load_model(tmp_path / "data", "trigger")
    assert model is not None and model.version == card["version"]
    assert json.loads((out / "card.json").read_text())["version"] == card["version"]
    raw = (tmp_path / "mail" / "ann-a" / "inbox" / "1.").read_bytes()
    replier = SmartReplier(embedder=HashEmbedder(dim=16), data_dir=tmp_path / "data")
    result = replier.suggest(parse_message(raw), "u", None, user_emails={"ann@corp.example"})
    assert result.triggered and result.trigger_probability is not None
    assert result.trigger_probability >= model.threshold


def _model(threshold: float, n: int) -> LearnedModel:
    names = [*HAND_FEATURES, *(f"emb{i}" for i in range(n - len(HAND_FEATURES)))]
    return LearnedModel(kind="trigger", version="t-1", feature_names=names, embedding=True,
                        mean=np.zeros(n), scale=np.ones(n), weights=np.zeros(n), bias=0.0,
                        platt=(1.0, 0.0), threshold=threshold)  # fmt: skip


def test_model_file_round_trip_and_refusals(tmp_path: Path) -> None:
    model = _model(0.4, len(HAND_FEATURES) + 4)
    path = model.save(tmp_path / "models" / "trigger")
    assert path == model_path(tmp_path, "trigger")
    loaded = load_model(tmp_path, "trigger")
    assert loaded is not None and loaded.threshold == 0.4
    assert loaded.probability(np.ones(len(HAND_FEATURES) + 4)) == pytest.approx(0.5)
    assert load_model(tmp_path, "priority") is None  # none trained: the rules apply
    data = json.loads(path.read_text())
    with pytest.raises(ModelError, match="feature version"):
        parse_model({**data, "feature_version": FEATURE_VERSION + 1})
    with pytest.raises(ModelError, match="sizes"):
        parse_model({**data, "weights": [0.0]})
    with pytest.raises(ModelError, match="not a mailmind classifier"):
        parse_model({"feature_version": FEATURE_VERSION, "feature_names": list(HAND_FEATURES)})


def test_header_rules_still_decide_before_the_model(tmp_path: Path) -> None:
    from agents.smart_reply.service import SmartReplier
    from retrieval.sources.mail.parse import parse_message

    dim = 16
    _model(0.99, len(HAND_FEATURES) + dim).save(tmp_path / "models" / "trigger")
    replier = SmartReplier(embedder=HashEmbedder(dim=dim), data_dir=tmp_path)
    ask = parse_message(b"From: p@corp.example\nTo: me@corp.example\nSubject: q\nMessage-ID: <a@x>"
                        b"\n\nCan you send the schedule?\n")  # fmt: skip
    result = replier.suggest(ask, "u", None, user_emails={"me@corp.example"})
    # p = 0.5 < 0.99: the model overrules "question"; the reason says it was the model.
    assert (result.triggered, result.reason) == (False, "learned")
    assert result.trigger_probability == pytest.approx(0.5) and "0.99" in result.detail
    listed = parse_message(b"From: p@corp.example\nTo: me@corp.example\nSubject: q\nList-Id: <l>"
                           b"\nMessage-ID: <b@x>\n\nCan you send the schedule?\n")  # fmt: skip
    result = replier.suggest(listed, "u", None, user_emails={"me@corp.example"})
    assert result.reason == "mailing_list" and result.trigger_probability is None


def test_a_model_for_other_features_falls_back_to_the_rules(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from agents.smart_reply.service import SmartReplier
    from retrieval.sources.mail.parse import parse_message

    _model(0.99, len(HAND_FEATURES) + 8).save(tmp_path / "models" / "trigger")  # 8-d vectors
    replier = SmartReplier(embedder=HashEmbedder(dim=16), data_dir=tmp_path)
    ask = parse_message(b"From: p@corp.example\nTo: me@corp.example\nSubject: q\nMessage-ID: <a@x>"
                        b"\n\nCan you send the schedule?\n")  # fmt: skip
    for _ in range(2):
        result = replier.suggest(ask, "u", None, user_emails={"me@corp.example"})
        assert (result.triggered, result.reason) == (True, "question")
        assert result.trigger_probability is None
    assert sum("another embedding model" in r.message for r in caplog.records) == 1


@pytest.mark.integration
def test_drift_reports_the_models_score_distributions(tmp_path: Path) -> None:
    from api.services import Services
    from core.settings import Settings
    from evals.drift import run_drift

    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    services = Services(settings)
    try:
        services.ingest_path("ann", make_tree(tmp_path / "mail") / "ann-a", index=False)
        n = len(HAND_FEATURES) + services.embedder.dim
    finally:
        services.close()
    weights = np.zeros(n)
    weights[HAND_FEATURES.index("question")] = 3.0
    model = _model(0.5, n)
    for kind in ("trigger", "priority"):
        LearnedModel(**{**{f: getattr(model, f) for f in model.__dataclass_fields__},
                        "kind": kind, "weights": weights}).save(
            tmp_path / "data" / "models" / kind
        )  # fmt: skip
    report = run_drift(settings, since="2001-03-10", reference_days=10, user="ann")
    trig = report["features"]["model:trigger"]
    # Asks (a question mark in two of four texts) score high, news low, in both windows.
    assert set(trig["reference"]) <= {"<=0.1", "<=0.5", ">0.9"} and trig["psi"] is not None
    assert "model:priority" in report["features"]
    assert sum(trig["current"].values()) == pytest.approx(1.0)


@pytest.mark.integration
def test_train_cli_json_and_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from evals.training.cli import train_app

    monkeypatch.setenv("MAILMIND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    tree = make_tree(tmp_path / "mail")
    runner = CliRunner()
    result = runner.invoke(train_app, ["priority", "--data", str(tree), "--json"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert card["kind"] == "priority" and card["examples"] == 32
    assert card["features"]["excluded"] == ["user_wrote_to_sender", "wrote_to_sender_log"]
    # The default --out is where the service looks.
    assert load_model(tmp_path / "data", "priority") is not None
    bad = runner.invoke(train_app, ["trigger", "--data", str(tmp_path / "nope"), "--json"])
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["error"]
    bad_precision = runner.invoke(train_app, ["trigger", "--data", str(tree), "--precision", "1.5",
                                              "--json"])  # fmt: skip
    assert bad_precision.exit_code == 2
    assert "precision" in json.loads(bad_precision.stdout)["message"]


@pytest.mark.integration
def test_smart_reply_suite_reports_a_trained_trigger(tmp_path: Path) -> None:
    from core.settings import Settings
    from evals.eval_cli import run_suite
    from evals.training.train import train
    from retrieval.index.embeddings import load_embedder

    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    tree = make_tree(tmp_path / "mail")
    models = tmp_path / "trained"
    train("trigger", tree, models / "models" / "trigger", precision=0.9, log=lambda _m: None,
          embedder=load_embedder(settings.embeddings))  # fmt: skip
    report = run_suite("smart-reply", settings, dataset=tree, options={"models": models})
    names = [s.name for s in report.systems]
    assert names == ["product", "always_top3", "learned_trigger"]
    learned = report.systems[2].metrics
    assert report.n == 16 and learned["trigger_recall"].value is not None
    assert learned["false_trigger_rate"].value is not None
    with pytest.raises(InputError, match="no trained trigger"):
        run_suite("smart-reply", settings, dataset=tree, options={"models": tmp_path})
