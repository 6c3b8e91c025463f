"""What every ``mailmind`` command shares: the ``--user``/``--json`` options, JSON output, and
the one error/exit rule.

Exit codes, for every command: 0 success, 1 failure (infrastructure, a lock, a model error),
2 bad input (a path, an id, an option value). With ``--json`` a failure prints
``{"error": CODE, "message": TEXT}`` on stdout; humans get the message on stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.errors import InputError, MailmindError

if TYPE_CHECKING:
    from api.services import Services
    from core.settings import Settings

err = Console(stderr=True)

UserOpt = Annotated[str, typer.Option("--user", "-u", help="mailmind user the data belongs to.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def settings_from(ctx: typer.Context) -> Settings:
    """The settings a test put on the context (``build_app(settings)``), else the environment's."""
    from core.settings import Settings, load_settings

    return ctx.obj if isinstance(ctx.obj, Settings) else load_settings()


def open_services() -> Services:
    """A :class:`~api.services.Services` over the settings from the environment."""
    from api.services import Services
    from core.settings import load_settings

    return Services(load_settings())


def emit_json(obj: object) -> None:
    """Write one JSON object to stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def exit_code(exc: MailmindError) -> int:
    """2 for bad input, 1 for every other failure."""
    return 2 if isinstance(exc, InputError) else 1


def fail(exc: MailmindError, as_json: bool) -> typer.Exit:
    """Report an error the way the caller asked for and return the exit to raise."""
    if as_json:
        emit_json({"error": exc.code, "message": str(exc)})
    # typer.echo, not the rich console: it resolves stderr at call time (test runners swap it).
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(exit_code(exc))


def parse_now(value: str | None) -> datetime | None:
    """``--now``: an ISO datetime with a UTC offset (``None`` when not given)."""
    if not value:
        return None
    try:
        now = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"--now must be an ISO datetime with offset: {value!r}") from exc
    if now.tzinfo is None:
        raise InputError("--now needs a UTC offset, e.g. 2026-12-04T17:00:00-08:00")
    return now
