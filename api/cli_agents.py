"""``mailmind ask``: one assistant turn from the command line, streamed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from core.errors import MailmindError


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

    from agents.assistant.run import stream_ask
    from api.cli import emit_json, fail
    from api.services import Services
    from core.settings import load_settings

    err = Console(stderr=True)
    services = Services(load_settings())
    try:
        when = datetime.fromisoformat(now) if now else None
        ctx = services.agent_context(user, now=when, timezone=timezone)
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
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    finally:
        services.close()
    if as_json:
        emit_json(result)
        return
    if streamed:
        err.print("")
    typer.echo(str(result.get("answer", "")))
    err.print(
        f"[dim]conversation {result.get('conversation')} · {result.get('steps')} steps · "
        f"{result.get('latency_s')} s · citations {result.get('citations')}[/]"
    )


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
    from api.cli import emit_json, fail
    from api.services import Services
    from core.settings import load_settings

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
        out.print(f"[yellow]extractive fallback:[/] {summary.fallback_reason}")
    for s in summary.sentences:
        out.print(f"• {s.text} [dim]{' '.join(f'[{c}]' for c in s.citations)}[/]")
    for a in summary.action_items:
        due = f" (due {a.due})" if a.due else ""
        out.print(f"☐ {a.text}{due} [dim]{' '.join(f'[{c}]' for c in a.citations)}[/]")
    for d in summary.dates:
        out.print(f"📅 {d.date}: {d.text}")


def eval_agent_command(
    limit: Annotated[int | None, typer.Option(help="Only the first N tasks.")] = None,
    out: Annotated[str, typer.Option(help="Where to write the JSON report.")] = (
        "bench-results/eval-agent.json"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Tool-selection accuracy, fact recall, steps and latency of the assistant on the agent
    task set (evals/agent/tasks.yaml), beside the router alone and a keyword baseline."""
    import json
    from pathlib import Path

    from rich.console import Console

    from api.cli import emit_json
    from core.settings import load_settings
    from evals.agent.live import run_live_eval
    from evals.agent.runner import format_report

    err = Console(stderr=True)
    report = run_live_eval(load_settings(), limit=limit, log=err.print)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str))
    if as_json:
        emit_json(report)
        return
    for key in ("agent", "agent_prose_only", "router_only", "baseline"):
        typer.echo(format_report(report[key], max_failures=10 if key == "agent" else 0))
        typer.echo("")
    err.print(f"written to {path}")


def register(
    app: typer.Typer,
    *,
    eval_group: typer.Typer | None = None,
    bench_group: typer.Typer | None = None,
) -> None:
    """Attach ``ask`` and ``summarize`` to the ``mailmind`` app."""
    app.command("ask")(ask_command)
    app.command("summarize")(summarize_command)
    if eval_group is not None:
        eval_group.command("agent")(eval_agent_command)
