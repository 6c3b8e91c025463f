"""``mailmind repl``: the developer prompt lab (see :mod:`api.repl`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import MailmindError

if TYPE_CHECKING:
    from core.settings import Settings

OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Use the scripted model: no weights are loaded.")
]
PromptsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--prompts-dir", help="Prompt files to read and save (default: MAILMIND_PROMPTS_DIR)."
    ),
]


def prompts_dir_for(settings: Settings, option: Path | None) -> Path:
    """``--prompts-dir``, else ``MAILMIND_PROMPTS_DIR``, else the packaged prompts; it must
    exist."""
    from core.errors import InputError
    from prompts.render import PROMPTS_DIR

    directory = option or settings.prompts_dir or PROMPTS_DIR
    if not directory.is_dir():
        raise InputError(f"prompts folder {directory} does not exist")
    return directory.resolve()


def repl_command(
    ctx: typer.Context,
    user: Annotated[
        str, typer.Option("--user", "-u", help="Whose mail samples come from.")
    ] = "demo",
    offline: OfflineOpt = False,
    prompts_dir: PromptsDirOpt = None,
) -> None:
    """Interactive prompt lab: edit a prompt, fill it from mail, run, diff, evaluate, save."""
    from api.cli.common import fail, settings_from
    from api.repl.app import repl_services, run_repl
    from core.ids import check_user_id

    settings = settings_from(ctx)
    try:
        check_user_id(user)
        directory = prompts_dir_for(settings, prompts_dir)
    except MailmindError as exc:
        raise fail(exc, False) from exc
    services = repl_services(settings, offline=offline)
    try:
        run_repl(services, user, prompts_dir=directory, history_path=settings.repl_history_path)
    finally:
        services.close()
