"""Drift (population-stability index over input features and feedback signals) and the
feedback suite, on constructed messages and a real feedback store (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import build_app
from api.services import Services
from core.settings import Settings
from evals.drift import bin_of, feature_drift, psi, shares, signal_values, verdict
from evals.eval_cli import run_suite
from evals.retrieval.datasets import make_message
from retrieval.store.feedback import FeedbackRecord

EN = "Please send the signed contract to the legal team before the meeting on Friday afternoon."
DE = "Bitte schicken Sie den unterschriebenen Vertrag vor der Besprechung am Freitag an das Team."


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    a = shares(["x"] * 50 + ["y"] * 50)
    assert psi(a, a) == pytest.approx(0.0)
    moved = shares(["x"] * 90 + ["y"] * 10)
    assert psi(a, moved) > 0.25
    assert verdict(psi(a, moved)) == "shift" and verdict(0.05) == "stable"
    assert verdict(None) == "no data"
    assert bin_of(10, (20, 50)) == "<=20" and bin_of(70, (20, 50)) == ">50"


def test_feature_drift_sees_a_language_and_domain_shift() -> None:
    ref = [make_message(f"r{i}", EN, sender=f"a{i}@acme.com") for i in range(30)]
    same = [make_message(f"s{i}", EN, sender=f"b{i}@acme.com") for i in range(30)]
    german = [make_message(f"g{i}", DE, sender=f"c{i}@firma.de") for i in range(30)]
    stable = feature_drift(ref, same)
    assert all(f["psi"] == pytest.approx(0.0) for f in stable.values())
    moved = feature_drift(ref, german)
    assert moved["language"]["current"] == {"de": 1.0}
    assert moved["language"]["psi"] > 0.25 and moved["sender_domain"]["psi"] > 0.25
    assert moved["length_words"]["psi"] == pytest.approx(0.0)


def test_signal_values_split_chip_choices_thumbs_and_edits() -> None:
    rows = [
        {"kind": "chip", "rating": None, "chip_chosen": 1, "edit_distance_norm": None},
        {"kind": "chip", "rating": None, "chip_chosen": None, "edit_distance_norm": None},
        {"kind": "summary", "rating": "down", "chip_chosen": None, "edit_distance_norm": None},
        {"kind": "draft", "rating": None, "chip_chosen": None, "edit_distance_norm": 0.3},
    ]
    assert signal_values(rows) == {
        "chip_acceptance": ["chosen", "none"], "thumbs": ["down"], "edit_distance": ["<=0.5"],
    }  # fmt: skip


def test_feedback_suite_aggregates_the_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)  # type: ignore[call-arg]
    services = Services(settings)
    try:
        for chosen in (0, None, 2, 1):
            services.feedback.add("ann", FeedbackRecord(kind="chip", chip_chosen=chosen,
                                                        chips_shown=["a", "b", "c"]))  # fmt: skip
        services.feedback.add("bob", FeedbackRecord(kind="answer", rating="up"))
        services.feedback.add("bob", FeedbackRecord(kind="draft", suggestion="abcd",
                                                    sent_text="abcf", rating="down",
                                                    prompt_version="draft_reply@2"))  # fmt: skip
        services.feedback.add("bob", FeedbackRecord(kind="draft", rating="up",
                                                    prompt_version="draft_reply@3"))  # fmt: skip
        report = run_suite("feedback", settings, services=services)
        only_bob = run_suite("feedback", settings, services=services, options={"user": "bob"})
    finally:
        services.close()
    assert report.n == 7
    ours = report.ours.metrics
    assert ours["chip_acceptance"].value == pytest.approx(0.75)
    assert ours["thumbs_up_rate"].value == pytest.approx(2 / 3, abs=1e-4)
    # Per prompt version: the draft prompt's two versions are told apart.
    by_name = {s.name: s.metrics for s in report.systems}
    assert by_name["version:draft_reply@2"]["thumbs_up_rate"].value == 0.0
    assert by_name["version:draft_reply@3"]["thumbs_up_rate"].value == 1.0
    assert by_name["version:unrecorded"]["rows"].value == 5
    assert ours["edit_distance_norm"].value == pytest.approx(0.25)
    assert {s.name for s in report.systems} >= {"all", "kind:chip", "kind:answer", "kind:draft"}
    assert any(s.name.startswith("day:") for s in report.systems)
    assert only_bob.n == 3 and only_bob.ours.metrics["chip_acceptance"].value is None


def test_drift_cli_on_an_empty_store_reports_no_data(tmp_path: Path) -> None:
    app = build_app(Settings(data_dir=tmp_path / "data"))  # type: ignore[call-arg]
    out = tmp_path / "drift"
    res = CliRunner().invoke(app, ["eval", "drift", "--since", "2026-11-01", "--out", str(out),
                                   "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["messages"] == {"reference": 0, "current": 0}
    assert {f["verdict"] for f in report["features"].values()} == {"no data"}
    assert (out / "drift.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(app, ["eval", "drift", "--since", "yesterday"])
    assert bad.exit_code == 2 and "ISO date" in bad.output


def test_online_signals_are_read_from_a_metrics_endpoint() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prometheus_client import generate_latest

    from api.http.observability import Metrics
    from evals.suites.feedback import online_signals

    metrics = Metrics()
    metrics.record_thumbs("answer", "up")
    metrics.record_thumbs("answer", "down")
    metrics.record_summary("extractive", kept=0, dropped=3)
    metrics.record_summary("abstractive", kept=3, dropped=0)
    metrics.record_answer(100, [("search_mailbox", True), ("read_thread", False)])
    metrics.record_answer(300, [])
    body = generate_latest(metrics.registry)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        got = online_signals(f"http://127.0.0.1:{server.server_address[1]}/metrics")
    finally:
        server.shutdown()
        server.server_close()
    assert got["mailmind_thumbs_up_ratio"] == pytest.approx(0.5)
    assert got["mailmind_summary_fallback_ratio"] == pytest.approx(0.5)
    assert got["mailmind_citation_drop_ratio"] == pytest.approx(0.5)
    assert got["mailmind_tool_error_ratio"] == pytest.approx(0.5)
    assert got["answer_length_chars_mean"] == pytest.approx(200)
