"""``mailmind train trigger|priority``: see :mod:`evals.training.train`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import JsonOpt, emit_json, err, fail
from core.errors import MailmindError

train_app = typer.Typer(
    help="Train the learned smart-reply trigger or priority classifier.", no_args_is_help=True
)

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="A folder of mailboxes (default: ../shared Enron maildir)."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Model folder (default: <data_dir>/models/<kind>, where the "
                 "service loads it)."),
]  # fmt: skip
PrecisionOpt = Annotated[
    float, typer.Option("--precision", help="Precision the threshold is chosen for.")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]


def _run(kind: str, data: Path | None, out: Path | None, precision: float, seed: int,
         as_json: bool) -> None:  # fmt: skip
    from agents.smart_reply.learned import model_path
    from core.settings import load_settings
    from evals.training.train import DEFAULT_DATA, train
    from retrieval.index.embeddings import load_embedder

    settings = load_settings()
    folder = out or model_path(settings.data_dir, kind).parent  # type: ignore[arg-type]
    try:
        card = train(
            kind, data or DEFAULT_DATA, folder,  # type: ignore[arg-type]
            embedder=load_embedder(settings.embeddings), precision=precision, seed=seed,
            log=err.print,
        )  # fmt: skip
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        emit_json(card)
    else:
        err.print(json.dumps(card, indent=2))


@train_app.command("trigger")
def train_trigger(data: DataOpt = None, out: OutOpt = None, precision: PrecisionOpt = 0.5,
                  seed: SeedOpt = 0, as_json: JsonOpt = False) -> None:  # fmt: skip
    """Whether the user will reply: labels from the owners' sent replies."""
    _run("trigger", data, out, precision, seed, as_json)


@train_app.command("priority")
def train_priority(data: DataOpt = None, out: OutOpt = None, precision: PrecisionOpt = 0.5,
                   seed: SeedOpt = 0, as_json: JsonOpt = False) -> None:  # fmt: skip
    """Whether the message matters: quick replies, filed copies, people the user writes to."""
    _run("priority", data, out, precision, seed, as_json)
