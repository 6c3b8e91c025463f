"""Fixtures for contacts tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.store.contacts import ContactStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ContactStore]:
    """A fresh contact store in a temporary SQLite file."""
    s = ContactStore(tmp_path / "contacts.sqlite3")
    yield s
    s.close()
