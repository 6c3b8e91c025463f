"""Fixtures for calendar tests: the store on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.settings import Settings
from retrieval.store.calendar import CalendarStore
from retrieval.store.pim import open_pim


@pytest.fixture
def store(backend_settings: Settings) -> Iterator[CalendarStore]:
    """A fresh calendar store on the parametrised backend (a temporary SQLite file, or a
    database of its own on the session's Postgres cluster)."""
    pim = open_pim(backend_settings)
    yield pim.calendars
    pim.close()
