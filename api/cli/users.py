"""``mailmind users add|list|delete`` and ``mailmind keys create|list|revoke``.

Users are the mail store's registry; deleting one removes everything they own
(:meth:`api.services.Services.delete_user`). API keys are stored hashed: ``keys create`` prints
the key once and nothing can show it again; listings never include secrets or digests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import JsonOpt, emit_json, err, fail, settings_from
from core.errors import InputError, MailmindError, NotFoundError

if TYPE_CHECKING:
    from api.services import Services

users_app = typer.Typer(
    help="Add, list and delete mailmind users.", no_args_is_help=True, add_completion=False
)
keys_app = typer.Typer(
    help="Create, list and revoke API keys (stored hashed, shown once).",
    no_args_is_help=True,
    add_completion=False,
)

NameArg = Annotated[str, typer.Argument(help="User id (letters, digits, . _ @ + -).")]


def _services(ctx: typer.Context) -> Services:
    from api.services import Services

    return Services(settings_from(ctx))


# -- users ---------------------------------------------------------------------------------------


@users_app.command("add")
def users_add(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Register a user (no-op when it exists)."""
    from retrieval.store.base import check_user

    services = _services(ctx)
    try:
        check_user(name)
        created = name not in services.store.users()
        services.store.ensure_user(name)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json({"user": name, "created": created})
    else:
        err.print(f"[green]{'added' if created else 'exists'}[/] user {name}", highlight=False)


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Registered users with their message and live API-key counts."""
    from retrieval.store.users import list_users

    services = _services(ctx)
    try:
        users = list_users(services.store, services.keys)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json({"users": [u.as_dict() for u in users]})
        return
    table = Table(title="mailmind users")
    for column in ("user", "messages", "api keys"):
        table.add_column(column)
    for u in users:
        table.add_row(u.user, f"{u.messages:,}", str(u.api_keys))
    Console().print(table)


@users_app.command("delete")
def users_delete(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete a user and everything they own: mail, calendar, contacts, sync state, API keys,
    feedback, conversations, index shard and quarantine copies."""
    from retrieval.store.base import check_user

    services = _services(ctx)
    try:
        check_user(name)
        registered = name in services.store.users()
        if not yes and not typer.confirm(
            f"Delete user {name!r} and ALL their data? This cannot be undone", err=True
        ):
            raise InputError("not confirmed: nothing deleted (pass --yes to skip the question)")
        removed = services.delete_user(name)
        if not registered and not any(removed.values()):
            raise NotFoundError(f"no user {name!r}: nothing to delete")
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json({"user": name, "removed": removed})
        return
    shown = {part: n for part, n in removed.items() if n}
    table = Table(title=f"deleted user {name}")
    table.add_column("part")
    table.add_column("removed", justify="right")
    for part, n in shown.items():
        table.add_row(part, f"{n:,}")
    Console().print(table)


# -- keys ----------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", "-u", help="User the key acts as.")],
    name: Annotated[str, typer.Option("--name", help="Label shown in listings.")] = "default",
    admin: Annotated[
        bool, typer.Option("--admin", help="Also grant the admin scope (users and keys).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key for a registered user and print it ONCE (only its hash is kept)."""
    from retrieval.store.base import check_user

    services = _services(ctx)
    try:
        check_user(user)
        if user not in services.store.users():
            raise NotFoundError(f"no user {user!r}: add it first with `mailmind users add`")
        key, token = services.keys.create(
            user, name=name, scopes=("user", "admin") if admin else ("user",)
        )
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json(
            {"key_id": key.key_id, "key": token, "user": key.user, "scopes": sorted(key.scopes)}
        )
        return
    typer.echo(token)
    err.print(
        f"key {key.key_id} for {key.user} ({', '.join(sorted(key.scopes))}): store it now, "
        "it is not shown again",
        highlight=False,
    )


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's keys.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """API keys (ids, users, scopes, dates; never secrets)."""
    services = _services(ctx)
    try:
        keys = services.keys.list(user)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json({"keys": [k.as_dict() for k in keys]})
        return
    table = Table(title="mailmind API keys")
    for column in ("key id", "user", "name", "scopes", "created", "last used", "revoked"):
        table.add_column(column)
    for k in keys:
        table.add_row(
            k.key_id, k.user, k.name, ",".join(sorted(k.scopes)),
            k.created_at.isoformat(), k.last_used_at.isoformat() if k.last_used_at else "-",
            "yes" if k.revoked else "",
        )  # fmt: skip
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Key id from `mailmind keys list`.")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key: it stops working at once (idempotent)."""
    services = _services(ctx)
    try:
        key = services.keys.revoke(key_id)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json({"key_id": key.key_id, "user": key.user, "revoked": key.revoked})
    else:
        err.print(f"[green]revoked[/] key {key.key_id} of {key.user}", highlight=False)
