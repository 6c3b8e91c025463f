"""The smoke run driven by ``evals/thresholds.yaml``: every suite on a few examples with one
shared :class:`~api.services.Services` (holding the demo data), each report checked against its
floors and ceilings. Used by ``tests/evals/test_smoke.py`` inside ``make test``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, Field

from core.errors import InputError

if TYPE_CHECKING:
    from api.services import Services
    from evals.harness.report import Report

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.yaml"


class Check(BaseModel):
    """One bound on one system's metric."""

    system: str
    metric: str
    min: float | None = None
    max: float | None = None


class SmokeSuite(BaseModel):
    """How one suite is smoke-run and checked."""

    limit: int | None = None
    dataset: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    checks: list[Check] = Field(default_factory=list)


class Thresholds(BaseModel):
    """The whole thresholds file."""

    suites: dict[str, SmokeSuite]


def load_thresholds(path: Path = THRESHOLDS) -> Thresholds:
    """Parse and validate the thresholds file (:class:`InputError` naming the problem)."""
    try:
        return Thresholds.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise InputError(f"bad thresholds file {path}: {exc}") from exc


def violations(report: Report, suite: SmokeSuite) -> list[str]:
    """Every check of ``suite`` that ``report`` fails, as a readable line."""
    out = []
    for check in suite.checks:
        try:
            score = report.system(check.system).metrics[check.metric]
        except KeyError:
            out.append(f"{check.system}.{check.metric}: not in the report")
            continue
        value = score.value
        if value is None:
            out.append(f"{check.system}.{check.metric}: no value")
        elif check.min is not None and value < check.min:
            out.append(f"{check.system}.{check.metric} = {value:.4f} < min {check.min}")
        elif check.max is not None and value > check.max:
            out.append(f"{check.system}.{check.metric} = {value:.4f} > max {check.max}")
    return out


def run_smoke_suite(
    name: str, suite: SmokeSuite, services: Services, *, shared_data: Path
) -> Report:
    """Run one suite as the thresholds file says, on ``services`` (demo data inside)."""
    from evals.eval_cli import run_suite

    dataset = shared_data / suite.dataset if suite.dataset else None
    return run_suite(
        name, services.settings, dataset=dataset, limit=suite.limit, services=services,
        options={"demo_ready": True, **suite.options},
    )  # fmt: skip
