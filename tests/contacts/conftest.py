"""Fixtures for contacts tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import REPO_ROOT
from retrieval.contacts.store import ContactStore

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The third-party data folder; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ContactStore]:
    """A fresh contact store in a temporary SQLite file."""
    s = ContactStore(tmp_path / "contacts.sqlite3")
    yield s
    s.close()
