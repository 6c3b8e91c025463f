"""The ``mailmind`` command line.

Thin: every command builds :class:`~api.services.Services` from settings and calls into it, one
module per command group. Human output (progress bars, tables) goes to stderr; ``--json`` prints
exactly one JSON object on stdout. Exit codes and errors follow :mod:`api.cli.common`.

Command groups owned by other packages (``mailmind eval`` and ``mailmind bench`` from ``evals``)
are attached through the ``mailmind.commands`` entry-point group: each entry point names a
``register(app)`` function. ``api`` never imports them by name.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import typer

from api.cli import (
    actions,
    agents,
    events,
    mail,
    models,
    reply,
    search,
    serve,
    sync,
    users,
    worker,
)
from api.cli import prompt as prompt_cli
from api.cli import repl as repl_cli

if TYPE_CHECKING:
    from core.settings import Settings

ENTRY_POINT_GROUP = "mailmind.commands"


def build_app(settings: Settings | None = None) -> typer.Typer:
    """The ``mailmind`` Typer app with every built-in and entry-point command attached.

    ``settings`` (tests) is handed to commands as ``ctx.obj`` instead of the environment's."""
    app = typer.Typer(
        name="mailmind",
        help="mailmind: an open-source mail assistant over your mail, calendar and contacts.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.command("ingest")(mail.ingest)
    app.command("stats")(mail.stats)
    app.command("index")(mail.index)
    app.command("search")(search.search_command)
    app.command("ask")(agents.ask_command)
    app.command("summarize")(agents.summarize_command)
    app.command("reply")(reply.reply_command)
    app.command("sync")(sync.sync_command)
    app.command("serve")(serve.serve)
    app.command("worker")(worker.worker_command)
    app.add_typer(events.events_app, name="events")
    app.add_typer(models.app, name="models")
    app.add_typer(users.users_app, name="users")
    app.add_typer(users.keys_app, name="keys")
    app.add_typer(actions.actions_app, name="actions")
    app.command("repl")(repl_cli.repl_command)
    app.add_typer(prompt_cli.prompt_app, name="prompt")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()(app)

    @app.callback()
    def _root(
        ctx: typer.Context,
        verbose: bool = typer.Option(
            False, "--verbose", "-v", help="Show third-party progress bars and warnings."
        ),
    ) -> None:
        from api.cli.quiet import quiet_third_party

        quiet_third_party(verbose)
        if settings is not None:
            ctx.obj = settings

    return app


def main() -> None:
    """Console entry point."""
    build_app()()


if __name__ == "__main__":
    main()
