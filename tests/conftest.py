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


# -- PostgreSQL (the store's scale-out backend) ----------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """One throwaway PostgreSQL cluster for the whole session (see :mod:`tests.pg_server`)."""
    from tests.pg_server import pg_bin_dir, run_postgres

    if pg_bin_dir() is None:
        # `make test` installs it: in CI a missing server is a broken install, not a skip.
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed although `make test` installs it")
        pytest.skip("PostgreSQL is not installed: run scripts/install-test-servers.sh")
    pytest.importorskip("psycopg", reason="the `postgres` extra is not installed")
    with run_postgres() as server:
        yield server


_pg_databases = iter(range(1_000_000))


@pytest.fixture(scope="session")
def postgres_migrated(postgres_server: object, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Name of a template database with every store component migrated once per session, so
    a test's database is a ~50 ms copy instead of a ~0.5 s migration."""
    from api.services import Services
    from tests.pg_server import PostgresServer

    assert isinstance(postgres_server, PostgresServer)
    name = "mm_migrated"
    url = postgres_server.create_database(name)
    store = {"backend": "postgres", "url": url}
    data_dir = tmp_path_factory.mktemp("pg-template")
    services = Services(Settings(data_dir=data_dir, store=store))  # type: ignore[call-arg,arg-type]
    try:
        _ = services.store, services.pim, services.keys, services.feedback, services.actions
        _ = services.precomputed
    finally:
        services.close()
    postgres_server.make_template(name)
    return name


@pytest.fixture
def postgres_empty_url(postgres_server: object) -> Iterator[str]:
    """URL of a fresh, empty database of its own for one test (dropped afterwards)."""
    from tests.pg_server import PostgresServer

    assert isinstance(postgres_server, PostgresServer)
    name = f"test_{os.getpid()}_{next(_pg_databases)}"
    yield postgres_server.create_database(name)
    postgres_server.drop_database(name)


@pytest.fixture
def postgres_url(postgres_server: object, postgres_migrated: str) -> Iterator[str]:
    """URL of a fresh database of its own for one test, every store table already migrated
    (dropped afterwards)."""
    from tests.pg_server import PostgresServer

    assert isinstance(postgres_server, PostgresServer)
    name = f"test_{os.getpid()}_{next(_pg_databases)}"
    yield postgres_server.create_database(name, template=postgres_migrated)
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.server])])
def store_backend(request: pytest.FixtureRequest) -> str:
    """Each store test runs once per backend (the Postgres run starts a real server, so
    `make test-fast` leaves it out and `make test` keeps it)."""
    backend: str = request.param
    return backend


@pytest.fixture
def backend_settings(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Settings:
    """Settings on a fresh data dir whose store is the parametrised backend (a fresh
    Postgres database for ``postgres``)."""
    store: dict[str, object] = {"backend": store_backend}
    if store_backend == "postgres":
        store["url"] = request.getfixturevalue("postgres_url")
    return Settings(data_dir=tmp_path / "data", store=store)  # type: ignore[call-arg,arg-type]
