"""A psycopg 3 connection pool that the SQLite-shaped stores can use as their connection.

:class:`PgConnection` offers the part of :class:`sqlite3.Connection` the stores call
(``execute``, ``executemany``, ``with conn:`` as a transaction, ``commit``, ``close``) and hands
back rows readable by name and position like :class:`sqlite3.Row`. Statements go through the
dialect layer (:mod:`retrieval.store.dialect`) on the way.

Connections and transactions: outside a transaction every statement borrows a pooled connection
for itself (autocommit). :meth:`PgConnection.scope` pins one connection to the calling thread and
opens a transaction that says whose data it touches (``SET LOCAL app.user``), which the
row-level-security policies check; ``with conn:`` and nested scopes inside it become savepoints.
:func:`user_scoped` wraps a store class so each public method taking ``user`` runs in such a
scope: the queries' own ``user_id = ?`` filters stay the first line of isolation, the policies
are the second.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import StoreError
from retrieval.store.dialect import ADMIN_SETTING, USER_SETTING, translate

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

T = TypeVar("T")


class Row(tuple[Any, ...]):
    """A result row: a tuple that also reads columns by name (like :class:`sqlite3.Row`)."""

    _names: dict[str, int]

    def __new__(cls, names: dict[str, int], values: Sequence[Any]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return super().__getitem__(self._names[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        """Column names, in order (``dict(row)`` works)."""
        return list(self._names)


@dataclass(slots=True)
class Cursor:
    """What one statement returned, already fetched (the pooled connection is back)."""

    rows: list[Row] = field(default_factory=list)
    rowcount: int = -1
    lastrowid: int | None = None

    def fetchone(self) -> Row | None:
        """The first row, or ``None``."""
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Row]:
        """Every row."""
        return list(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


@dataclass(slots=True)
class _Pinned:
    """The connection a thread holds inside a scope, with the user the scope acts for."""

    conn: psycopg.Connection[Any]
    user: str | None
    admin: bool


def _sqlite_value(value: Any) -> Any:
    # SQLite stores booleans as integers; the translated schema uses BIGINT columns for them.
    return int(value) if isinstance(value, bool) else value


class PgConnection:
    """Pooled Postgres connections behind a :class:`sqlite3.Connection`-like facade."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        require_postgres_extra()
        from psycopg_pool import ConnectionPool

        self.url = url
        self.row_factory: object = None  # the stores assign sqlite3.Row; rows here are Row
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            configure=_configure,
            open=False,
            name="mailmind-store",
        )
        self._opened = False
        self._open_lock = threading.Lock()
        self._local = threading.local()
        self._sql: dict[str, str] = {}
        self._keys: dict[str, list[str]] = {}
        self._identity: dict[str, str | None] = {}

    # -- the pool ---------------------------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._opened:
            return
        with self._open_lock:
            if not self._opened:
                import psycopg

                try:
                    # One direct connection first: it fails at once with the server's reason
                    # (refused, bad password, no such database), where the pool would retry
                    # for its whole timeout and then report only that it timed out.
                    psycopg.connect(self.url).close()
                    self._pool.open(wait=True, timeout=30.0)
                except (psycopg.Error, TimeoutError) as exc:
                    raise StoreError(
                        f"cannot connect to Postgres at {_redact(self.url)}: {exc}"
                    ) from exc
                self._opened = True

    def close(self) -> None:
        """Close the pool (every store sharing this connection is closed with it)."""
        if self._opened:
            self._pool.close()
            self._opened = False

    @property
    def in_transaction(self) -> bool:
        """Whether this thread is inside :meth:`scope` / ``with conn:``."""
        return getattr(self._local, "pinned", None) is not None

    def commit(self) -> None:
        """No-op: outside a transaction statements autocommit, inside one the scope commits."""

    # -- scopes -----------------------------------------------------------------------------

    @contextmanager
    def scope(self, user: str | None = None, *, admin: bool = False) -> Iterator[None]:
        """A transaction acting for ``user`` (or for maintenance with ``admin``).

        Nested scopes reuse the thread's connection as savepoints; a nested scope must act for
        the same user (a store method calling another store's method for the same user).
        """
        pinned: _Pinned | None = getattr(self._local, "pinned", None)
        if pinned is not None:
            if user is not None and pinned.user not in (None, user):
                raise StoreError(f"nested store scope for {user!r} inside {pinned.user!r}")
            with pinned.conn.transaction():
                if (user is not None and pinned.user is None) or (admin and not pinned.admin):
                    self._set(pinned.conn, user, admin)
                yield
            return
        self._ensure_open()
        with ExitStack() as stack:
            conn = stack.enter_context(self._pool.connection())
            stack.enter_context(conn.transaction())
            self._set(conn, user, admin)
            self._local.pinned = _Pinned(conn, user, admin)
            try:
                yield
            finally:
                self._local.pinned = None

    @staticmethod
    def _set(conn: psycopg.Connection[Any], user: str | None, admin: bool) -> None:
        # set_config(..., true) is SET LOCAL: it ends with the transaction, so a pooled
        # connection never carries one request's user into the next.
        if user is not None:
            conn.execute("SELECT set_config(%s, %s, true)", (USER_SETTING, user))
        if admin:
            conn.execute("SELECT set_config(%s, 'on', true)", (ADMIN_SETTING,))

    def __enter__(self) -> PgConnection:
        stack = ExitStack()
        stack.enter_context(self.scope())
        stacks: list[ExitStack] = self._local.__dict__.setdefault("with_stacks", [])
        stacks.append(stack)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        stack: ExitStack = self._local.with_stacks.pop()
        stack.__exit__(exc_type, exc, tb)

    # -- statements -------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one SQLite-dialect statement; rows are fetched before returning."""
        with self._connection() as conn:
            query, identity = self._prepare(conn, sql)
            cur = conn.execute(query.encode(), [_sqlite_value(v) for v in params])
            rows = _rows(cur)
            result = Cursor(rows=rows, rowcount=cur.rowcount)
            if identity is not None and rows:
                result.lastrowid = int(rows[0][0])
                result.rows = []
            return result

    def executemany(self, sql: str, seq: Sequence[Sequence[Any]] | Iterator[Any]) -> Cursor:
        """Run one statement per parameter row (in one transaction when inside a scope)."""
        batch = [[_sqlite_value(v) for v in params] for params in seq]
        if not batch:
            return Cursor(rowcount=0)
        with self._connection() as conn:
            query, _ = self._prepare(conn, sql, returning=False)
            with conn.cursor() as cur:
                cur.executemany(query.encode(), batch)
                return Cursor(rowcount=cur.rowcount)

    def run_ddl(self, statement: str) -> None:
        """Run one schema statement as written (no dialect translation, no parameters)."""
        with self._connection() as conn:
            conn.execute(statement.encode())

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        pinned: _Pinned | None = getattr(self._local, "pinned", None)
        if pinned is not None:
            yield pinned.conn
            return
        self._ensure_open()
        with self._pool.connection() as conn:
            yield conn

    def _prepare(
        self, conn: psycopg.Connection[Any], sql: str, *, returning: bool = True
    ) -> tuple[str, str | None]:
        """The translated statement and, for an INSERT, the identity column it returns."""
        query = self._sql.get(sql)
        if query is None:
            query = translate(sql, lambda table: self._primary_key(conn, table))
            self._sql[sql] = query
        identity = None
        head = query.lstrip()[:12].upper()
        if returning and head.startswith("INSERT INTO") and " RETURNING " not in query.upper():
            table = query.split()[2].split("(")[0]
            identity = self._identity_column(conn, table)
            if identity is not None:
                query = f"{query} RETURNING {identity}"
        return query, identity

    def _primary_key(self, conn: psycopg.Connection[Any], table: str) -> list[str]:
        if table not in self._keys:
            rows = conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
                "ORDER BY array_position(i.indkey, a.attnum)",
                (table,),
            ).fetchall()
            self._keys[table] = [str(r[0]) for r in rows]
        return self._keys[table]

    def _identity_column(self, conn: psycopg.Connection[Any], table: str) -> str | None:
        if table not in self._identity:
            row = conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                "AND attidentity <> '' ORDER BY attnum LIMIT 1",
                (table,),
            ).fetchone()
            self._identity[table] = str(row[0]) if row else None
        return self._identity[table]

    def forget_schema(self) -> None:
        """Drop cached catalogue facts (after a migration changed tables)."""
        self._sql.clear()
        self._keys.clear()
        self._identity.clear()

    def table_columns(self, prefix: str = "") -> dict[str, set[str]]:
        """``{table: columns}`` of the current schema's tables whose name starts with
        ``prefix`` (the generic per-user deletions read it)."""
        rows = self.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND substr(table_name, 1, ?) = ?",
            (len(prefix), prefix),
        )
        out: dict[str, set[str]] = {}
        for r in rows:
            out.setdefault(str(r[0]), set()).add(str(r[1]))
        return out


def require_postgres_extra() -> None:
    """Raise a :class:`StoreError` saying how to install psycopg when it is missing (the
    SQLite default never imports it)."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise StoreError(
            "MAILMIND_STORE__BACKEND=postgres needs psycopg 3 and its pool: "
            "pip install -c constraints.txt -e '.[postgres]'"
        ) from exc


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Per-connection set-up: numeric results as floats (SQLite has no decimal type)."""
    from psycopg.types.numeric import FloatLoader

    conn.adapters.register_loader("numeric", FloatLoader)


def _rows(cur: psycopg.Cursor[Any]) -> list[Row]:
    if cur.description is None:
        return []
    names = {d.name: i for i, d in enumerate(cur.description)}
    return [Row(names, values) for values in cur.fetchall()]


def _redact(url: str) -> str:
    """The URL without its password (it ends up in error messages)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as a placeholder
        return "<unparsable URL>"
    keys = ("user", "host", "port", "dbname")
    return " ".join(f"{k}={parts[k]}" for k in keys if parts.get(k) is not None)


def user_scoped(cls: type[T], *, admin: Sequence[str] = ()) -> type[T]:
    """A subclass of store class ``cls`` whose public methods with a ``user`` parameter run in
    :meth:`PgConnection.scope` for that user (generators: every step), and whose methods named
    in ``admin`` run in an admin scope (or a user scope when called with a user).

    The instance must keep its :class:`PgConnection` as ``self.conn``.
    """
    namespace: dict[str, Any] = {"__doc__": cls.__doc__, "__module__": cls.__module__}
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_"):
            continue
        params = inspect.signature(fn).parameters
        if "user" in params or name in admin:
            namespace[name] = _scoped(fn, "user" in params, name in admin)
    return type(f"Pg{cls.__name__}", (cls,), namespace)


def _scoped(fn: Callable[..., Any], has_user: bool, admin: bool) -> Callable[..., Any]:
    signature = inspect.signature(fn)

    def scope_for(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        user = None
        if has_user:
            bound = signature.bind(self, *args, **kwargs)
            user = bound.arguments.get("user")
        conn: PgConnection = self.conn
        if isinstance(user, str):
            return conn.scope(user)
        return conn.scope(admin=admin)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            it = fn(self, *args, **kwargs)
            while True:
                # Each step in its own scope: a consumer may stop half-way or take its time.
                with scope_for(self, args, kwargs):
                    try:
                        item = next(it)
                    except StopIteration:
                        return
                yield item

        return gen

    @functools.wraps(fn)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        with scope_for(self, args, kwargs):
            return fn(self, *args, **kwargs)

    return method
