"""A throwaway PostgreSQL cluster for the store tests (Debian's ``postgresql`` package).

One cluster per test session: ``initdb`` into a temporary folder, ``postgres`` on 127.0.0.1 on a
free port (its unix socket in the same folder), fsync off because nothing here must survive a
power cut. Every test then gets a database of its own, cloned from an empty template in a few
milliseconds, owned by a role that is *not* a superuser: superusers bypass row-level security,
and the store's RLS policies are part of what the tests check.

Postgres refuses to run as root. When the tests run as root the cluster is initialised and run
as an unprivileged account (``postgres`` from the Debian package, else ``nobody``) through
``subprocess``'s ``user=`` / ``group=`` (a plain ``setuid`` in the child, no ``su`` or PAM);
the temporary folder is created for and handed to that account. As a normal user everything
runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.retrieval.sources.sync.servers import free_port, stop, wait_for_port

#: The role the store connects as (owner of the test databases, subject to RLS).
APP_ROLE = "mailmind"
#: The empty database every test database is cloned from.
TEMPLATE = "mm_template"


def pg_bin_dir() -> Path | None:
    """Folder of Debian's versioned server binaries (``initdb`` is not on ``PATH`` there)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major, reverse=True)
    if found:
        return found[0].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _major(path: Path) -> int:
    part = path.parent.parent.name
    return int(part) if part.isdigit() else 0


def _server_account() -> tuple[int, int] | None:
    """``(uid, gid)`` to run the server as, or ``None`` to run as ourselves (not root)."""
    if os.getuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists")


@dataclass(slots=True)
class PostgresServer:
    """A running cluster: where it listens and how to make databases on it."""

    port: int
    root: Path
    superuser: str = "postgres"

    def url(self, dbname: str, *, user: str = APP_ROLE) -> str:
        """A libpq URL for ``dbname`` as ``user`` (trust authentication, loopback only)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser on the maintenance database (autocommit)."""
        import psycopg

        with psycopg.connect(self.url("postgres", user=self.superuser), autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str, *, template: str = TEMPLATE) -> str:
        """A fresh database owned by :data:`APP_ROLE`, a copy of ``template`` (empty by
        default); returns its URL."""
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER {APP_ROLE}')
        return self.url(name)

    def make_template(self, name: str) -> None:
        """Mark database ``name`` as a template (clones of it are cheap file copies)."""
        self.admin(f'ALTER DATABASE "{name}" IS_TEMPLATE true')

    def drop_database(self, name: str) -> None:
        """Drop a test database, closing what is still connected to it."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def run_postgres() -> Iterator[PostgresServer]:
    """Initialise and start a cluster; stop it and remove its folder afterwards."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("initdb")
    account = _server_account()
    root = Path(tempfile.mkdtemp(prefix="mailmind-pg-"))
    data = root / "data"
    kwargs: dict[str, object] = {}
    if account is not None:
        uid, gid = account
        os.chown(root, uid, gid)
        kwargs = {"user": uid, "group": gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "TZ": "UTC"}
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, env=env, cwd=root, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip
        port = free_port()
        proc = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200", "-c", "shared_buffers=64MB"],
            stdout=subprocess.DEVNULL, stderr=(root / "server.log").open("wb"),
            env=env, cwd=root, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip
        wait_for_port(port, proc)
        server = PostgresServer(port=port, root=root)
        _wait_ready(server)
        server.admin(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        server.admin(f"CREATE DATABASE {TEMPLATE} OWNER {APP_ROLE} IS_TEMPLATE true")
        yield server
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(server: PostgresServer, timeout: float = 20.0) -> None:
    """The port answers before the server accepts queries (startup recovery)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            server.admin("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
