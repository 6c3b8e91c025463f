"""``mailmind serve``: the HTTP API over uvicorn, with the demo data ready to try.

On start it ingests the bundled demo mailbox, calendar and contacts as user ``demo`` when that
user has no mail yet, replaces the demo user's ``serve-demo`` API key with a fresh one, prints the
key and a ``curl`` line on stderr, and serves ``create_app(settings)`` until SIGINT/SIGTERM.
Shutdown is graceful: uvicorn stops accepting connections, lets in-flight requests finish (up to
``server.graceful_shutdown_s``), then the services are closed and the process exits 0.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import err, fail, settings_from
from api.cli.mail import _print_ingest_summary
from core.errors import MailmindError

if TYPE_CHECKING:
    from api.services import Services

DEMO_USER = "demo"
#: Name of the key ``serve`` makes for the demo user; older ones of that name are revoked.
DEMO_KEY_NAME = "serve-demo"
DEMO_QUERY = "housing quote"


def prepare_demo(services: Services) -> str:
    """Ingest the demo data for ``demo`` if it has no mail; return a fresh demo API key."""
    from core.settings import REPO_ROOT

    if services.store.stats(DEMO_USER).messages == 0:
        for part in ("mail", "calendar", "contacts"):
            report = services.ingest_path(DEMO_USER, REPO_ROOT / "demo" / part)
            err.print(f"ingested demo {part}:")
            _print_ingest_summary(report)
    # One live demo key at a time: every start shows a new one, the previous ones stop working.
    for key in services.keys.list(DEMO_USER):
        if key.name == DEMO_KEY_NAME and not key.revoked:
            services.keys.revoke(key.key_id)
    _, token = services.keys.create(DEMO_USER, name=DEMO_KEY_NAME)
    return token


def curl_line(host: str, port: int, token: str) -> str:
    """A ``curl`` command that searches the demo mailbox through the running server."""
    from retrieval.index.handoff import loopback_url

    query = DEMO_QUERY.replace(" ", "+")
    return (
        f"curl -H 'Authorization: Bearer {token}' "
        f"'{loopback_url(host, port)}/v1/search?q={query}&limit=3'"
    )


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: server.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to bind (default: server.port, 8000).", min=0)
    ] = None,
) -> None:
    """Serve the HTTP API (ingesting the demo data for user `demo` first if it is empty)."""
    import uvicorn

    from api.http.app import create_app
    from api.services import Services
    from core.logging import setup_logging
    from retrieval.index.handoff import loopback_url

    settings = settings_from(ctx)
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    services = Services(settings)
    try:
        try:
            token = prepare_demo(services)
        except MailmindError as exc:
            raise fail(exc, as_json=False) from exc
        setup_logging(settings)
        err.print(f"demo user API key (shown once): {token}", highlight=False, soft_wrap=True)
        err.print(f"try:\n  {curl_line(host, port, token)}", highlight=False, soft_wrap=True)
        # The fragment signs the web client in; browsers never send it to the server or logs.
        web = f"{loopback_url(host, port)}/#key={token}"
        err.print(f"web client: {web}", highlight=False, soft_wrap=True)
        err.print(f"serving on http://{host}:{port} (docs at /docs); Ctrl-C stops", highlight=False)
        app = create_app(settings, services=services)
        # Where CLI processes reach this service to hand it their indexing (service.json).
        app.state.public_url = loopback_url(host, port)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            timeout_graceful_shutdown=int(settings.server.graceful_shutdown_s),
            log_config=None,  # keep the service's logging setup
            # mailmind.access logs each request by route template; uvicorn's line would add
            # the raw query string (search text, addresses).
            access_log=False,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        # uvicorn re-raises the signal that stopped it once it has shut down; with these
        # handlers that is a no-op, so a SIGTERM/SIGINT stop exits 0 after services close.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        server.run()
        if not server.started:
            # The port was taken or the lifespan failed: uvicorn logged why.
            raise typer.Exit(1)
    finally:
        services.close()
