"""Smoke run of every eval suite with the real model, driven by evals/thresholds.yaml: a few
examples per suite, one shared Services over the demo data, each report's shape checked and its
scores held to the file's floors and ceilings (a regression beyond a threshold fails)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.services import Services
from core.settings import Settings
from evals.harness.report import Report
from evals.harness.writer import format_table
from evals.smoke import load_thresholds, run_smoke_suite, violations
from evals.suites import SUITES
from evals.suites.base import SHARED_DATA
from evals.suites.demo import DEMO_USER, ingest_demo
from retrieval.store.feedback import FeedbackRecord
from tests.agents.llm.conftest import llm_settings  # noqa: F401 - the shared model fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]

THRESHOLDS = load_thresholds()
#: Chip choices seeded into the feedback store: 2 of 3 picked a chip.
CHIPS = [0, None, 1]


@pytest.fixture(scope="module")
def smoke_services(
    tmp_path_factory: pytest.TempPathFactory,
    llm_settings: Settings,  # noqa: F811 - the imported fixture
) -> Iterator[Services]:
    data = Path(tmp_path_factory.mktemp("eval-smoke"))
    (data / "models").symlink_to(llm_settings.model_cache_dir)
    settings = Settings(data_dir=data, _env_file=None)  # type: ignore[call-arg]
    services = Services(settings)
    ingest_demo(services)
    for chosen in CHIPS:
        services.feedback.add(DEMO_USER, FeedbackRecord(kind="chip", chip_chosen=chosen,
                                                        chips_shown=["Yes", "No"]))  # fmt: skip
    yield services
    services.close()


def test_thresholds_cover_every_suite() -> None:
    assert set(THRESHOLDS.suites) == set(SUITES)
    assert all(s.checks for s in THRESHOLDS.suites.values())


@pytest.mark.parametrize("name", list(THRESHOLDS.suites))
def test_suite_smoke(name: str, smoke_services: Services) -> None:
    suite = THRESHOLDS.suites[name]
    if suite.dataset and not (SHARED_DATA / suite.dataset).exists():
        pytest.skip(f"shared data not available: {SHARED_DATA / suite.dataset}")
    report = run_smoke_suite(name, suite, smoke_services, shared_data=SHARED_DATA)
    assert isinstance(report, Report) and report.suite == name
    assert report.meta.git_commit is None or len(report.meta.git_commit) == 40
    assert report.ours.metrics, "our system reports no metric"
    if name not in ("latency", "feedback"):
        assert any(s.role == "baseline" for s in report.systems), "no baseline"
    if suite.limit is not None and name not in ("latency", "feedback"):
        assert 0 < report.n <= suite.limit * 3  # retrieval: three queries per email
    for system in report.systems:
        for metric, score in system.metrics.items():
            if score.value is not None and score.lo is not None and score.hi is not None:
                assert score.lo <= score.value <= score.hi, (system.name, metric)
    if name == "feedback":
        expected = sum(c is not None for c in CHIPS) / len(CHIPS)
        assert report.ours.metrics["chip_acceptance"].value == pytest.approx(expected, abs=1e-4)
    assert violations(report, suite) == [], format_table(report)
