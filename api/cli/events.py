"""``mailmind events stats | dead | replay``: look into the Redis Streams event bus (queue lag,
dead letters with their errors) and publish dead letters again once their cause is fixed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from api.cli.common import JsonOpt
from core.errors import MailmindError

events_app = typer.Typer(
    help="The new-mail event bus: lag, dead letters, replay.", no_args_is_help=True
)
LimitOpt = Annotated[int, typer.Option("--limit", min=1, help="Dead letters at most.")]


def _with_bus(ctx: typer.Context, as_json: bool, act: Callable[[Any], dict[str, Any]]) -> None:
    from api.cli.common import emit_json, fail, settings_from
    from api.services import Services
    from core.errors import ConfigError

    settings = settings_from(ctx)
    services = Services(settings)
    try:
        if settings.events.backend != "redis":
            raise ConfigError(
                "the event bus is in-process (MAILMIND_EVENTS__BACKEND=inprocess): it lives "
                "inside `mailmind serve`; its lag is on the service's /metrics"
            )
        result = act(services.event_bus)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json(result)
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


@events_app.command("stats")
def stats_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Events waiting (lag), in progress or orphaned (pending), waiting for a retry (delayed)
    and dead-lettered."""
    _with_bus(ctx, as_json, lambda bus: bus.stats().as_dict())


@events_app.command("dead")
def dead_command(ctx: typer.Context, limit: LimitOpt = 100, as_json: JsonOpt = False) -> None:
    """The oldest dead letters: the event, its last error, the consumer and when."""

    def act(bus: Any) -> dict[str, Any]:
        dead = bus.dead_letters(limit)
        return {
            "dead": [
                {"id": d.id, "type": d.event.type, "user": d.event.user, "key": d.event.key,
                 "attempt": d.event.attempt, "error": d.error, "consumer": d.consumer,
                 "failed_at": d.failed_at}
                for d in dead
            ]
        }  # fmt: skip

    _with_bus(ctx, as_json, act)


@events_app.command("replay")
def replay_command(ctx: typer.Context, limit: LimitOpt = 100, as_json: JsonOpt = False) -> None:
    """Publish the oldest dead letters again as first attempts (after fixing their cause)."""
    _with_bus(ctx, as_json, lambda bus: {"replayed": bus.replay_dead(limit)})
