"""Shared fixtures: settings on a temporary data dir, a migrated store, the shared data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import REPO_ROOT, Settings

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# Models load from packages on disk only; nothing may reach a model hub during tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, skipping the calling test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (tests read ../shared/data in place)")
    return path


@pytest.fixture
def shared_data() -> Path:
    """The third-party data folder; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data dir is a fresh temporary folder."""
    return Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]


@pytest.fixture
def services(settings: Settings) -> Iterator[object]:
    """A Services object over a fresh data dir."""
    from api.services import Services

    svc = Services(settings)
    yield svc
    svc.close()


@pytest.fixture
def redis_server() -> Iterator[object]:
    """A real redis-server on 127.0.0.1 for one test (see ``tests/redis_server.py``)."""
    from tests.redis_server import run_redis

    with run_redis() as server:
        yield server
