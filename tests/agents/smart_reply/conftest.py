"""Fixtures: the demo mailbox, calendar and contacts ingested once into a temporary data dir."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.settings import REPO_ROOT, Settings
from core.types import Message

# Message-ID prefixes of demo messages used by the tests (see demo/README.md).
IDS = {
    "sensor_weekly": "sw212.5f2c91@mailer.sensorweekly.example",
    "pm_digest": "digest-2026-11-29.a41e@send.pmdigest.example",
    "tracker": "tracker.NW-482.20261121T020500Z.7781@tracker.northwind.example",
    "out_of_office": "20261124180207.0f927dce.nw@northwind.example",
    "fyi": "20261123160000.c09bb890.nw@northwind.example",
    "tom_question": "20261130184800.6de114d4.nw@northwind.example",
    "sam_meeting": "20261116232200.640d87e7.nw@northwind.example",
    "maya_thanks": "20261204190500.e4fbe62d.alde@aldercreek-water.example",
    "aisha_thanks": "20261118034800.40b25eac.mail@mailbox.example",
    "dana_sent": "20261113204500.40243476.nw@northwind.example",
    "greg_injection": "CADn7q2Y8kP4.partnerships@cascade-distribution.example",
}


@dataclass
class Demo:
    """The ingested demo data."""

    services: object
    by_key: dict[str, Message]

    def __getitem__(self, key: str) -> Message:
        return self.by_key[key]


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Demo mail, calendar and contacts for user ``demo`` (ingested once for the package)."""
    from api.services import Services

    data_dir = tmp_path_factory.mktemp("smart_reply") / "data"
    services = Services(Settings(data_dir=data_dir))  # type: ignore[call-arg]
    for part in ("mail", "calendar", "contacts"):
        services.ingest_path("demo", REPO_ROOT / "demo" / part)
    messages = services.store.list_messages("demo", limit=1000)
    by_mid = {m.message_id.strip("<>"): m for m in messages}
    yield Demo(services, {key: by_mid[mid] for key, mid in IDS.items()})
    services.close()


@pytest.fixture(scope="package")
def demo_dir(demo: Demo) -> Path:
    """The demo's data dir."""
    return Path(demo.services.settings.data_dir)  # type: ignore[attr-defined]
