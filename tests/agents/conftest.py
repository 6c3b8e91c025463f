"""Fixtures for agent tests: the demo data ingested into a temporary data dir."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from api.services import Services
from core.settings import REPO_ROOT, Settings
from tests.agents.llm.conftest import llm_settings  # noqa: F401 - shared real-model fixture
from tools.context import AgentContext, Backends

#: The eval set's fixed clock: Wednesday before Thanksgiving, Pacific time.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("America/Los_Angeles"))


@pytest.fixture(scope="session")
def demo_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Services over the demo mailbox, calendar and contacts, ingested as user ``demo``."""
    data = tmp_path_factory.mktemp("agent-data")
    services = Services(Settings(data_dir=Path(data)))  # type: ignore[call-arg]
    for part in ("mail", "calendar", "contacts"):
        services.ingest_path("demo", REPO_ROOT / "demo" / part, index=False)
    # A second user with one message, to prove tools never cross users.
    other = data / "other-mail"
    other.mkdir()
    (other / "1.eml").write_text(
        "From: spy@evil.example\nTo: eve@evil.example\nSubject: housing quote secret\n"
        "Message-ID: <other-1@evil.example>\nDate: Tue, 10 Nov 2026 10:00:00 +0000\n\n"
        "The housing quote is 9.99 per unit.\n"
    )
    services.ingest_path("eve", other, index=False)
    yield services
    services.close()


@pytest.fixture
def ctx(demo_services: Services) -> AgentContext:
    """Runtime context for ``demo`` with keyword search (no vector index needed)."""
    s = demo_services
    return AgentContext(
        user="demo",
        backends=Backends(store=s.store, calendars=s.pim.calendars, contacts=s.pim.contacts),
        now=NOW,
        timezone="America/Los_Angeles",
    )
