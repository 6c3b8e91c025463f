"""``mailmind worker``: consume new-mail events from Redis Streams (work in
:mod:`retrieval.events.worker`, handler in :mod:`agents.precompute`)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import JsonOpt
from core.errors import MailmindError


def worker_command(
    ctx: typer.Context,
    consumer: Annotated[
        str | None,
        typer.Option("--consumer", help="Consumer name in the group (default: host-pid)."),
    ] = None,
    max_events: Annotated[
        int | None, typer.Option("--max-events", min=1, help="Exit after this many events.")
    ] = None,
    idle_exit: Annotated[
        float | None,
        typer.Option("--idle-exit", min=0, help="Exit after this many seconds without events."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", min=0, max=65535, help="Serve Prometheus metrics here."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Index new mail and precompute smart-reply chips and thread summaries from
    `message.stored` events (MAILMIND_EVENTS__BACKEND=redis); SIGTERM finishes the event in
    hand, then exits. Events of a worker that died are taken over after
    MAILMIND_EVENTS__CLAIM_IDLE_S; failing ones are retried, then dead-lettered."""
    import os
    import signal
    import socket
    import threading
    from dataclasses import asdict

    from api.cli.common import emit_json, fail, settings_from
    from api.services import Services
    from core.errors import ConfigError

    settings = settings_from(ctx)
    services = Services(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if settings.events.backend != "redis":
            raise ConfigError(
                "the event bus is in-process (MAILMIND_EVENTS__BACKEND=inprocess): events are "
                "handled inside `mailmind serve` / `sync --watch`; set "
                "MAILMIND_EVENTS__BACKEND=redis and MAILMIND_EVENTS__URL to run workers"
            )
        observe = None
        if metrics_port is not None:
            from prometheus_client import CollectorRegistry, start_http_server

            from api.event_metrics import EventMetrics

            registry = CollectorRegistry()
            observe = EventMetrics(registry, services.event_bus.stats).observe
            start_http_server(metrics_port, addr=settings.server.host, registry=registry)
        name = consumer or f"{socket.gethostname()}-{os.getpid()}"
        worker = services.event_worker(name, observe=observe)
        counts = worker.run(stop, max_events=max_events, idle_exit_s=idle_exit)
        result = {"consumer": name, **asdict(counts), "bus": services.event_bus.stats().as_dict()}
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json(result)
    else:
        typer.echo(
            f"{name}: {counts.handled} handled, {counts.retried} retried, "
            f"{counts.dead} dead-lettered, {counts.reclaimed} reclaimed",
            err=True,
        )
