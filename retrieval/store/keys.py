"""API keys: created for a user, shown once, stored hashed, revocable.

A key is ``mm_<key id>_<secret>``: the key id (public, shown in listings and logs) finds the row,
and the secret is checked against its SHA-256 digest with a constant-time comparison. A plain
SHA-256 (not a slow password hash) is enough because the secret is 32 random bytes from
:mod:`secrets`, not something a person chose: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import InputError, NotFoundError
from retrieval.store.base import check_user
from retrieval.store.migrations import apply_migrations, split_statements
from retrieval.store.pim_sqlite import connect, from_ts, now_ts

if TYPE_CHECKING:
    from core.settings import Settings

PREFIX = "mm_"
#: Scopes a key may carry: ``user`` (its own user's data), ``admin`` (users and keys).
SCOPES = frozenset({"user", "admin"})

#: Migration component name (``schema_versions``).
COMPONENT = "api_keys"
_V1 = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_api_keys_user ON api_keys(user_id);
"""
#: Append-only migrations of the key table (see :mod:`retrieval.store.migrations`).
MIGRATIONS: list[list[str]] = [split_statements(_V1)]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    user: str
    name: str
    scopes: frozenset[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (``mailmind keys list --json``)."""
        return {
            "key_id": self.key_id,
            "user": self.user,
            "name": self.name,
            "scopes": sorted(self.scopes),
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked": self.revoked,
        }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """API keys in the main SQLite file (table ``api_keys``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        self.conn = conn
        apply_migrations(conn, COMPONENT, MIGRATIONS)

    def create(
        self, user: str, *, name: str = "default", scopes: Iterable[str] = ("user",)
    ) -> tuple[ApiKey, str]:
        """Create a key for ``user``; returns it and the full secret token (shown once)."""
        check_user(user)
        wanted = frozenset(scopes)
        if not wanted or not wanted <= SCOPES:
            raise InputError(f"scopes must be among {sorted(SCOPES)}: {sorted(wanted)}")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        created = now_ts()
        with self.conn:
            self.conn.execute(
                "INSERT INTO api_keys (key_id, user_id, name, scopes, secret_sha256, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, user, name, ",".join(sorted(wanted)), _digest(secret), created),
            )
        key = self.get(key_id)
        assert key is not None
        return key, f"{PREFIX}{key_id}_{secret}"

    def verify(self, token: str) -> ApiKey | None:
        """The live key ``token`` belongs to, or ``None`` (malformed, unknown or revoked)."""
        if not token.startswith(PREFIX):
            return None
        key_id, sep, secret = token[len(PREFIX) :].partition("_")
        if not sep or not key_id or not secret:
            return None
        row = self.conn.execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None or row["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(row["secret_sha256"], _digest(secret)):
            return None
        return self._key(row)

    def touch(self, key_id: str) -> None:
        """Record that the key was used now (best effort, for `keys list`)."""
        with self.conn:
            self.conn.execute(
                "UPDATE api_keys SET last_used_at = ? WHERE key_id = ?", (now_ts(), key_id)
            )

    def get(self, key_id: str) -> ApiKey | None:
        """One key by id (revoked ones included)."""
        row = self.conn.execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return self._key(row) if row is not None else None

    def list(self, user: str | None = None) -> list[ApiKey]:
        """Keys of ``user`` (all users when ``None``), oldest first."""
        if user is None:
            rows = self.conn.execute("SELECT * FROM api_keys ORDER BY created_at, key_id")
        else:
            rows = self.conn.execute(
                "SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, key_id",
                (check_user(user),),
            )
        return [self._key(r) for r in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (idempotent); unknown ids raise :class:`NotFoundError`."""
        with self.conn:
            self.conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                (now_ts(), key_id),
            )
        key = self.get(key_id)
        if key is None:
            raise NotFoundError(f"no API key with id {key_id!r}")
        return key

    def delete_user(self, user: str) -> int:
        """Remove every key of ``user``; returns how many."""
        with self.conn:
            cur = self.conn.execute("DELETE FROM api_keys WHERE user_id = ?", (check_user(user),))
        return cur.rowcount

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @staticmethod
    def _key(row: sqlite3.Row) -> ApiKey:
        created = from_ts(row["created_at"])
        assert created is not None
        return ApiKey(
            key_id=row["key_id"],
            user=row["user_id"],
            name=row["name"],
            scopes=frozenset(row["scopes"].split(",")),
            created_at=created,
            last_used_at=from_ts(row["last_used_at"]),
            revoked=row["revoked_at"] is not None,
        )


def open_key_store(settings: Settings) -> KeyStore:
    """The key store in the main SQLite file of ``settings`` (or on its Postgres backend)."""
    if settings.store.backend == "postgres":
        from retrieval.store.postgres import open_postgres_keys

        return open_postgres_keys(settings)
    path: Path = settings.store_path
    return KeyStore(connect(path, settings.store.busy_timeout_s))
