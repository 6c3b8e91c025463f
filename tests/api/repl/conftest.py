"""Fixtures for the REPL tests: a small mailbox, a temp copy of the prompts, offline services,
and :func:`drive`, which feeds scripted lines to the REPL through prompt_toolkit's pipe input."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from api.repl.app import repl_services, run_repl
from api.repl.session import ReplSession
from api.services import Services
from core.settings import Settings
from prompts.render import PROMPTS_DIR

MAILS = {
    "1.eml": (
        "From: Maya Chen <maya@alder.example>\nTo: demo@example.com\n"
        "Subject: Sensor swap at Alder Creek\nMessage-ID: <a1@alder.example>\n"
        "Date: Mon, 23 Nov 2026 09:00:00 +0000\n\n"
        "Both replacement sensors arrived and report again. Old units go back today.\n"
    ),
    "2.eml": (
        "From: Dana Reyes <dana@example.com>\nTo: maya@alder.example\n"
        "Subject: Re: Sensor swap at Alder Creek\nMessage-ID: <a2@example.com>\n"
        "In-Reply-To: <a1@alder.example>\nReferences: <a1@alder.example>\n"
        "Date: Mon, 23 Nov 2026 11:00:00 +0000\n\n"
        "Great news, thanks. Can you send the serial numbers by Friday?\n"
    ),
    "3.eml": (
        "From: Billing <billing@acme.example>\nTo: demo@example.com\n"
        "Subject: Invoice 4411 for November\nMessage-ID: <i1@acme.example>\n"
        "Date: Tue, 24 Nov 2026 08:00:00 +0000\n\n"
        "Your invoice 4411 over 1,250 USD is due on 10 December.\n"
    ),
}


def copy_prompts(target: Path) -> Path:
    """The packaged prompt files copied to ``target`` (tests never touch the real ones)."""
    shutil.copytree(PROMPTS_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    """A folder of three .eml files: a two-message thread and an invoice."""
    folder = tmp_path / "mail"
    folder.mkdir()
    for name, text in MAILS.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    """A writable copy of the prompts."""
    return copy_prompts(tmp_path / "prompts")


@pytest.fixture
def offline(tmp_path: Path, mail_dir: Path) -> Iterator[Services]:
    """Offline REPL services (scripted model) over the three messages of user ``demo``."""
    services = repl_services(Settings(data_dir=tmp_path / "data"), offline=True)  # type: ignore[call-arg]
    services.ingest_path("demo", mail_dir, index=False)
    yield services
    services.close()


def drive(
    services: Services, prompts: Path, lines: Sequence[str], *, width: int = 160
) -> tuple[ReplSession, str]:
    """Run the REPL on ``lines`` (then end of input); returns the session and what it printed."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    with create_pipe_input() as pipe:
        pipe.send_text("".join(line + "\n" for line in lines))
        pipe.close()  # end of input after the script: the loop ends like on Ctrl-D
        session = run_repl(
            services, "demo", prompts_dir=prompts, console=console, input=pipe,
            output=DummyOutput(),
        )  # fmt: skip
    return session, out.getvalue()
