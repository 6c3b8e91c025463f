"""``mailmind ask`` and ``mailmind summarize``."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from core.errors import InputError, MailmindError

if TYPE_CHECKING:
    from core.settings import Settings


def ask_command(
    question: Annotated[str, typer.Argument(help="What to ask about your mail and calendar.")],
    user: Annotated[str, typer.Option("--user", "-u", help="Whose data to use.")],
    conversation: Annotated[
        str | None, typer.Option("--conversation", "-c", help="Continue this conversation.")
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="Pretend it is this ISO time (evals, demos).")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="Your IANA time zone.")] = None,
    stream: Annotated[
        bool, typer.Option(help="Print the model's raw tokens as they come (before clean-up).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Answer QUESTION with the assistant: prints the answer, tool calls and citations."""
    from rich.console import Console

    from agents.assistant.run import check_question, stream_ask
    from api.cli.common import emit_json, fail
    from api.services import Services
    from core.ids import check_conversation_id, check_user_id
    from core.settings import load_settings

    err = Console(stderr=True)
    try:
        # Every input is checked before any model loads or tool runs.
        settings = load_settings()
        check_user_id(user)
        if conversation is not None:
            check_conversation_id(conversation)
        question = check_question(question, settings.agent.max_question_chars)
        when = _parse_now(now)
        zone = timezone or _default_zone(settings)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    services = Services(settings)
    try:
        ctx = services.agent_context(user, now=when, timezone=zone)
        result: dict[str, object] = {}
        streamed = False
        for event in stream_ask(services.assistant, ctx, question, conversation):
            kind = event["event"]
            if kind == "result":
                result = event["result"]
            elif as_json:
                continue
            elif kind == "tool_call":
                err.print(f"[cyan]tool[/] {event['name']}({event['args']})")
            elif kind == "tool_result":
                status = "ok" if event["ok"] else "error"
                err.print(f"[cyan]  ↳[/] {status}, {event['chars']} chars")
            elif kind == "token" and stream:
                streamed = True
                err.print(event["text"], end="", style="dim")
        # An action proposed this turn: --json shows it and exits; otherwise ask y/n.
        pending = _pending_action(services, user, result)
        if pending is not None:
            result["pending_action"] = pending
            if not as_json:
                result["answer"] = _prompt_action(services, user, pending, result)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    result["timezone"] = ctx.zone_name
    if as_json:
        emit_json(result)
        return
    if streamed:
        err.print("")
    typer.echo(str(result.get("answer", "")))
    err.print(
        f"[dim]conversation {result.get('conversation')} · {result.get('steps')} steps · "
        f"{result.get('latency_s')} s · times in {result.get('timezone')} · "
        f"citations {result.get('citations')}[/]"
    )


def _pending_action(services: Any, user: str, result: dict[str, object]) -> dict[str, Any] | None:
    """The action this turn proposed, still pending (``None`` for an ordinary answer)."""
    if "actions" not in services.__dict__ and "assistant" not in services.__dict__:
        return None
    conversation = str(result.get("conversation") or "")
    found = services.actions.list(user, status="pending", conversation=conversation)
    return found[0].as_dict() if found else None


def _prompt_action(
    services: Any, user: str, pending: dict[str, Any], result: dict[str, object]
) -> str:
    """Show the proposal and ask y/n; returns the text to print as the answer."""
    from agents.actions.service import outcome_text

    typer.echo(str(result.get("answer", "")))
    try:
        approve = typer.confirm("Approve this action?", default=False, err=True)
    except (typer.Abort, EOFError):
        later = f"mailmind actions approve {pending['id']} --user {user}"
        return f"Left pending: approve it later with `{later}`."
    action = services.decide_action(user, pending["id"], "approve" if approve else "reject")
    return outcome_text(action)


def _parse_now(value: str | None) -> datetime | None:
    """``--now``: an ISO time (naive means UTC, as before)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            f"--now must be an ISO time like 2026-11-25T09:00-08:00: {value!r}"
        ) from exc


def _default_zone(settings: Settings) -> str:
    """The configured zone; when none was configured, this machine's zone (``TZ`` or
    ``/etc/localtime``), so times are the user's local times rather than UTC."""
    if "timezone" in settings.agent.model_fields_set:
        return settings.agent.timezone
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        link = str(Path("/etc/localtime").readlink())
        candidates.append(link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "")
    except OSError:
        pass
    for name in candidates:
        if not name:
            continue
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return name
    return settings.agent.timezone


def summarize_command(
    thread: Annotated[str, typer.Option("--thread", "-t", help="Thread id (or a message id).")],
    user: Annotated[str, typer.Option("--user", "-u", help="Whose data to use.")],
    extractive: Annotated[
        bool, typer.Option(help="Skip the language model: extractive summary only.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Summarise a thread: 2-5 cited sentences, action items, dates."""
    from rich.console import Console

    from agents.summarize.thread import summarize_thread
    from api.cli.common import emit_json, fail
    from api.services import Services
    from core.ids import check_thread_or_message_id, check_user_id
    from core.settings import load_settings

    try:
        check_user_id(user)
        check_thread_or_message_id(thread)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    services = Services(load_settings())
    try:
        summary = summarize_thread(
            services.store, user, thread,
            model=None if extractive else services.chat_model, embedder=services.embedder,
        )  # fmt: skip
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json(summary.model_dump())
        return
    out = Console()
    out.print(f"[bold]{summary.subject}[/] ({summary.message_count} messages, {summary.method})")
    if summary.fallback_reason:
        out.print(f"[yellow]extractive summary:[/] {summary.fallback_reason}")
    for s in summary.sentences:
        out.print(f"• {s.text} [dim]{' '.join(f'[{c}]' for c in s.citations)}[/]")
    for a in summary.action_items:
        due = f" (due {a.due})" if a.due else ""
        out.print(f"☐ {a.text}{due} [dim]{' '.join(f'[{c}]' for c in a.citations)}[/]")
    for d in summary.dates:
        out.print(f"📅 {d.date}: {d.text}")
