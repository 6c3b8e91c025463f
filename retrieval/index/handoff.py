"""Handing indexing to a running ``mailmind serve``.

A running service keeps using the users' Qdrant Edge shards, so a CLI ingest, sync or index that
wrote new mail into the store (SQLite in WAL mode: safe from many processes) does not index it
itself: it asks the service to (``POST /internal/index``), which reads the mail from the same
store, so nothing is lost. The service announces itself in ``<data_dir>/service.json``
(``{"url", "pid", "token"}``, mode 0600, written in its lifespan and removed at shutdown); the
token is a random secret that only processes able to read that file (the same OS user) can send.

A stale file (its process is gone, or nothing answers at its URL) is ignored: the caller indexes
itself, taking turns with other processes through the shard lock (:mod:`retrieval.index.lock`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from retrieval.index.lock import notify

SERVICE_FILE = "service.json"
#: Header carrying the service token on ``/internal`` routes.
TOKEN_HEADER = "X-Mailmind-Service-Token"


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """Where a running service listens and the secret its internal routes want."""

    url: str
    pid: int
    token: str


def service_file(data_dir: Path) -> Path:
    """``<data_dir>/service.json``."""
    return Path(data_dir) / SERVICE_FILE


def loopback_url(host: str, port: int) -> str:
    """The URL a process on this machine reaches a server bound to ``host``:``port`` at (a
    wildcard bind is reached over loopback)."""
    if host in ("", "0.0.0.0"):  # a wildcard bind: reach it over loopback
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def publish(data_dir: Path, url: str) -> ServiceInfo:
    """Write this process's ``service.json`` (a fresh random token, readable by the owner only)."""
    info = ServiceInfo(url=url.rstrip("/"), pid=os.getpid(), token=secrets.token_urlsafe(32))
    path = service_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SERVICE_FILE}.{info.pid}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    # Created 0600 (never world-readable, not even for an instant), then renamed into place so a
    # reader sees the whole file or none.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(info), fh)
    tmp.replace(path)
    return info


def withdraw(data_dir: Path, info: ServiceInfo) -> None:
    """Remove ``service.json`` if it is still ours (a newer service may have replaced it)."""
    path = service_file(data_dir)
    current = _read(path)
    if current is not None and current.token == info.token:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _read(path: Path) -> ServiceInfo | None:
    try:
        data = json.loads(path.read_text())
        return ServiceInfo(url=str(data["url"]), pid=int(data["pid"]), token=str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def discover(data_dir: Path) -> ServiceInfo | None:
    """The service running over ``data_dir``, if ``service.json`` names a live process other
    than this one (a service never hands work to itself)."""
    info = _read(service_file(data_dir))
    if info is None or info.pid == os.getpid() or not _alive(info.pid):
        return None
    return info


def request_index(
    info: ServiceInfo, user: str, *, rebuild: bool = False, timeout_s: float = 3600.0
) -> dict[str, int] | None:
    """Ask the service to bring ``user``'s index up to date; its counts, or ``None`` when it
    cannot be reached or refuses (the caller then indexes itself: never lose a message)."""
    import httpx

    try:
        response = httpx.post(
            f"{info.url}/internal/index",
            json={"user": user, "rebuild": rebuild},
            headers={TOKEN_HEADER: info.token},
            # Connecting is instant on loopback; indexing a big mailbox takes minutes.
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            trust_env=False,  # loopback only: never through a proxy from the environment
        )
    except httpx.HTTPError as exc:
        notify(f"the running service (PID {info.pid}) did not answer ({exc}); indexing here")
        return None
    if response.status_code != 200:
        notify(
            f"the running service (PID {info.pid}) refused to index "
            f"(HTTP {response.status_code}); indexing here"
        )
        return None
    body: dict[str, Any] = response.json()
    return {str(k): int(v) for k, v in body["counts"].items()}


def index_via_service(data_dir: Path, user: str, *, rebuild: bool = False) -> dict[str, int] | None:
    """Hand ``user``'s indexing to a running service; ``None`` when there is none to hand to."""
    info = discover(data_dir)
    if info is None:
        return None
    notify(f"indexing {user!r} in the running service (PID {info.pid} at {info.url})")
    return request_index(info, user, rebuild=rebuild)
