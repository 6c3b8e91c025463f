"""A real redis-server for the event-bus tests, like the Dovecot fixture: a child process with a
throw-away config and data folder, on a free 127.0.0.1 port, stopped by its own process id."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.retrieval.sources.sync.servers import free_port, stop, wait_for_port


@dataclass(frozen=True, slots=True)
class Redis:
    """A running redis-server."""

    port: int
    root: Path

    @property
    def url(self) -> str:
        """``redis://`` URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"


def redis_binary() -> str:
    """The redis-server executable, or skip (fail in CI) when it is not installed."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed although `make test` installs it")
        pytest.skip("redis-server is not installed: run scripts/install-test-servers.sh")
    return binary


@contextmanager
def run_redis() -> Iterator[Redis]:
    """Start redis-server in the foreground on a free port, data in a temporary folder, no
    persistence (each test's streams die with the server)."""
    binary = redis_binary()
    root = Path(tempfile.mkdtemp(prefix="mailmind-redis-"))
    port = free_port()
    conf = root / "redis.conf"
    conf.write_text(
        f'port {port}\nbind 127.0.0.1\ndir {root}\nsave ""\nappendonly no\n'
        f"daemonize no\nlogfile {root / 'redis.log'}\nprotected-mode yes\n"
    )
    proc = subprocess.Popen([binary, str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, proc)
        except RuntimeError as exc:
            log = (root / "redis.log").read_text() if (root / "redis.log").exists() else ""
            raise RuntimeError(f"{exc}\n{log}") from exc
        yield Redis(port, root)
    finally:
        stop(proc)
        shutil.rmtree(root, ignore_errors=True)
