"""``mailmind actions list|approve|reject``: the user's proposed actions, decided one by one.

An approval is bound to ``--user`` (another user's id is "not found"), single-use and expires
(``MAILMIND_ACTIONS__APPROVAL_TTL_S``); an approved action runs at once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import JsonOpt, UserOpt, emit_json, fail, settings_from
from core.errors import MailmindError

actions_app = typer.Typer(help="Proposed actions (send, draft, invitation replies, events).")


def _print(action: dict[str, object]) -> None:
    typer.echo(f"{action['id']}  {action['status']:<8}  {action['tool']:<19}  {action['summary']}")
    if action["status"] == "pending":
        provenance = action.get("provenance") or {}
        for name, value in dict(action.get("args") or {}).items():  # type: ignore[call-overload]
            prov = dict(provenance).get(name, {})  # type: ignore[call-overload]
            mark = "" if prov.get("trusted", True) else "  ⚠ untrusted"
            typer.echo(f"    {name}: {value}  [{prov.get('source', '?')}]{mark}")
        for flag in list(action.get("flags") or []):  # type: ignore[call-overload]
            typer.echo(f"    ⚠ {flag}")
        typer.echo(f"    expires {action['expires_at']}")


@actions_app.command("list")
def list_command(
    ctx: typer.Context,
    user: UserOpt,
    status: Annotated[
        str | None, typer.Option(help="Only this status (pending, executed, ...).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List USER's actions, newest first, pending ones with provenance and flags."""
    from api.services import Services
    from core.ids import check_user_id

    services = Services(settings_from(ctx))
    try:
        check_user_id(user)
        found = [a.as_dict() for a in services.actions.list(user, status=status)]  # type: ignore[arg-type]
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json({"actions": found})
        return
    if not found:
        typer.echo("no actions")
    for action in found:
        _print(action)


def _decide(ctx: typer.Context, user: str, action_id: str, decision: str, as_json: bool) -> None:
    from api.services import Services
    from core.ids import check_user_id

    services = Services(settings_from(ctx))
    try:
        check_user_id(user)
        action = services.decide_action(user, action_id, decision).as_dict()
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json(action)
    else:
        _print(action)
        if action.get("result"):
            typer.echo(f"    result: {action['result']}")
    if action["status"] == "failed":
        raise typer.Exit(1)


@actions_app.command("approve")
def approve_command(
    ctx: typer.Context,
    action_id: Annotated[str, typer.Argument(help="The action id (act_...).")],
    user: UserOpt,
    as_json: JsonOpt = False,
) -> None:
    """Approve ACTION_ID of USER: it runs now."""
    _decide(ctx, user, action_id, "approve", as_json)


@actions_app.command("reject")
def reject_command(
    ctx: typer.Context,
    action_id: Annotated[str, typer.Argument(help="The action id (act_...).")],
    user: UserOpt,
    as_json: JsonOpt = False,
) -> None:
    """Reject ACTION_ID of USER: it never runs."""
    _decide(ctx, user, action_id, "reject", as_json)
