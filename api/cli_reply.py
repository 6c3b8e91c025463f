"""CLI commands of the smart-reply feature, for the main ``mailmind`` app to register.

``register(app, eval_group=..., bench_group=...)`` adds:

* ``mailmind reply --message ID --user U [--now ISO] [--json]``: the trigger decision and its
  reason, up to three chips, the proposed time and calendar check, and the latency;
* ``mailmind bench reply [--enron N] [--threads N] [--json] [--out FILE]``: p50/p95 latency of
  the chip path over the demo mailbox and a sample of Enron inbox messages.

Thin: settings via :func:`core.settings.load_settings`, the store and calendar from
:class:`api.services.Services`; the embedder is loaded here until ``Services`` owns one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import InputError, MailmindError

reply_app = typer.Typer(help="Smart-reply chips.")
bench_app = typer.Typer(help="Speed benchmarks.")

UserOpt = Annotated[str, typer.Option("--user", "-u", help="mailmind user the mail belongs to.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _fail(exc: MailmindError, as_json: bool) -> typer.Exit:
    if as_json:
        typer.echo(json.dumps({"error": exc.code, "message": str(exc)}))
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2 if isinstance(exc, InputError) else 1)


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        now = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"--now must be an ISO datetime with offset: {value!r}") from exc
    if now.tzinfo is None:
        raise InputError("--now needs a UTC offset, e.g. 2026-12-04T17:00:00-08:00")
    return now


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
    from retrieval.embeddings import load_embedder

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
            now=_parse_now(now),
        )
    except MailmindError as exc:
        raise _fail(exc, as_json) from exc
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


def bench_reply_command(
    enron: Annotated[int, typer.Option(help="Enron inbox messages in the sample.")] = 200,
    threads: Annotated[
        int | None, typer.Option(help="torch intra-op threads (default: torch's choice).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the JSON report.")] = Path(
        "bench-results/reply.json"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Latency (p50/p95) of the chip path per message: demo mailbox + Enron inbox sample."""
    from core.settings import load_settings
    from evals.smart_reply.bench import format_report, run_reply_bench

    try:
        report = run_reply_bench(
            load_settings(),
            enron=enron,
            threads=threads,
            progress=None if as_json else lambda m: typer.echo(m, err=True),
        )
    except MailmindError as exc:
        raise _fail(exc, as_json) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(format_report(report))
        typer.echo(f"report written to {out}")


def register(
    app: typer.Typer,
    *,
    eval_group: typer.Typer | None = None,
    bench_group: typer.Typer | None = None,
) -> None:
    """Add ``reply`` to ``app`` and ``reply`` to the ``bench`` group.

    Without ``bench_group`` this module's own ``bench`` group is added to ``app``. There is no
    eval yet; ``eval_group`` is accepted for the common ``register`` signature.
    """
    del eval_group
    app.command("reply")(reply_command)
    if bench_group is None:
        bench_app.command("reply")(bench_reply_command)
        app.add_typer(bench_app, name="bench")
    else:
        bench_group.command("reply")(bench_reply_command)
