"""What every suite gets (:class:`SuiteContext`) and declares (:class:`SuiteSpec`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from api.services import Services
    from evals.harness.report import Report

#: Where the third-party datasets live (read in place, never copied).
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@dataclass
class SuiteContext:
    """One suite run's inputs. ``services`` may be shared by the caller (smoke test, REPL);
    otherwise the context opens its own on first use and :meth:`close` closes it."""

    settings: Settings
    dataset: Path | None = None
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = lambda _msg: None
    services: Services | None = None
    _owned: bool = False

    def open_services(self) -> Services:
        """The shared services (built from ``settings`` on first use)."""
        if self.services is None:
            from api.services import Services

            self.services = Services(self.settings)
            self._owned = True
        return self.services

    def close(self) -> None:
        """Close services this context opened itself."""
        if self._owned and self.services is not None:
            self.services.close()
            self.services = None
            self._owned = False

    @property
    def model_name(self) -> str:
        """``model via runtime`` as configured."""
        return self.settings.llm.model

    def limited(self, items: list[Any]) -> list[Any]:
        """The first ``limit`` items (all without a limit)."""
        return items if self.limit is None else items[: max(0, self.limit)]


@dataclass(frozen=True)
class SuiteSpec:
    """A suite: its name, what it measures, the dataset format it expects and its runner."""

    name: str
    help: str
    expected_format: str
    run: Callable[[SuiteContext], Report]
    default_dataset: Path | None = None


def timed(report_fn: Callable[[], Report]) -> Report:
    """Run ``report_fn`` and record its wall-clock seconds in the report's metadata."""
    started = time.perf_counter()
    report = report_fn()
    report.meta.seconds = round(time.perf_counter() - started, 1)
    return report
