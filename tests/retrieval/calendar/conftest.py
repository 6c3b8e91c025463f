"""Fixtures for calendar tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.store.calendar import CalendarStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CalendarStore]:
    """A fresh calendar store in a temporary SQLite file."""
    s = CalendarStore(tmp_path / "cal.sqlite3")
    yield s
    s.close()
