"""``mailmind reply``: smart-reply chips for one message."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from api.cli.common import JsonOpt, UserOpt, fail, parse_now
from core.errors import MailmindError


def reply_command(
    message: Annotated[str, typer.Option("--message", "-m", help="Stable message id.")],
    user: UserOpt,
    now: Annotated[
        str | None, typer.Option(help="Reference time (ISO with offset); default: the clock.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Suggest up to three short replies for one message (no LLM), or say why not."""
    from agents.smart_reply import suggest
    from api.services import Services
    from core.settings import load_settings
    from retrieval.index.embeddings import load_embedder

    settings = load_settings()
    services = Services(settings)
    try:
        result = suggest(
            services.store,
            user,
            message,
            calendar=services.pim.calendars,
            contacts=services.pim.contacts,
            embedder=load_embedder(settings.embeddings),
            data_dir=settings.data_dir,
            now=parse_now(now),
        )
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        typer.echo(result.model_dump_json())
        return
    typer.echo(_format_result(result.model_dump(mode="json")))


def _format_result(data: dict[str, Any]) -> str:
    state = "triggered" if data["triggered"] else "not triggered"
    lines = [f"{data['message_id']}: {state} ({data['reason']}: {data['detail']})"]
    if data.get("proposed_time"):
        p, c = data["proposed_time"], data["calendar_check"] or {}
        lines.append(f"proposed time: {p['start']} - {p['end']} from {p['text']!r}")
        alt = f", alternative {c['alternative']}" if c.get("alternative") else ""
        conflicts = f", conflicts: {'; '.join(c['conflicts'])}" if c.get("conflicts") else ""
        lines.append(f"calendar: {c.get('status')}{conflicts}{alt}")
    for i, chip in enumerate(data["chips"], 1):
        lines.append(
            f"  {i}. {chip['text']:<48} {chip['intent']:<13} {chip['polarity']:<9} "
            f"{chip['score']:.3f}"
        )
    lines.append(f"latency: {data['latency_ms']:.1f} ms")
    return "\n".join(lines)
