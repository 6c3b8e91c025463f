"""``mailmind finetune subject-lines``: see :mod:`evals.training.finetune`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import JsonOpt, emit_json, err, fail
from core.errors import MailmindError
from evals.training.finetune import CPU_SCHEDULE as D

finetune_app = typer.Typer(
    help="Fine-tune the open chat model (LoRA with peft on the transformers runtime).",
    no_args_is_help=True,
)


@finetune_app.command("subject-lines")
def finetune_subject_lines(
    data: Annotated[Path | None, typer.Option(
        "--data", help="An AESLC-format folder (default: ../shared AESLC train).")] = None,
    base: Annotated[str, typer.Option("--base", help="Registered base chat model.")] = D.base,
    name: Annotated[str, typer.Option("--name", help="Name the tuned model registers under.")]
    = D.name,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Model folder (default: <data_dir>/models/<name>, where the registry "
        "finds it).")] = None,
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps.")] = D.steps,
    examples: Annotated[int, typer.Option("--examples", help="Training emails drawn.")]
    = D.examples,
    eval_examples: Annotated[int, typer.Option(
        "--eval-examples", help="Held-out emails for the loss before/after.")] = D.eval_examples,
    batch_size: Annotated[int, typer.Option("--batch-size")] = D.batch_size,
    learning_rate: Annotated[float, typer.Option("--lr")] = D.learning_rate,
    rank: Annotated[int, typer.Option("--rank", help="LoRA rank.")] = D.rank,
    layers: Annotated[int, typer.Option(
        "--layers", help="LoRA on the top N decoder layers (0 = all).")] = D.layers,
    seed: Annotated[int, typer.Option("--seed")] = D.seed,
    gguf: Annotated[str, typer.Option(
        "--gguf", help="Also export a GGUF for llama.cpp: q8_0, f16, bf16, f32 or none.")]
    = D.gguf,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """LoRA on AESLC subject lines: adapter, merged model, GGUF, and a card (data fingerprint,
    hyper-parameters, loss curve, held-out loss before/after, sha256 of every file)."""
    from dataclasses import replace

    from core.settings import load_settings
    from evals.training.finetune import DEFAULT_DATA
    from evals.training.finetune import finetune_subject_lines as run

    settings = load_settings()
    config = replace(
        D, base=base, name=name, steps=steps, examples=examples, eval_examples=eval_examples,
        batch_size=batch_size, learning_rate=learning_rate, rank=rank, layers=layers, seed=seed,
        gguf=gguf,
    )  # fmt: skip
    try:
        card = run(
            data or DEFAULT_DATA, out or settings.model_cache_dir / name, settings=settings,
            config=config, log=err.print,
        )  # fmt: skip
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        emit_json(card)
    else:
        shown = {k: v for k, v in card.items() if k != "loss"} | {
            "loss": {k: v for k, v in card["loss"].items() if k != "train_curve"}
        }
        err.print(json.dumps(shown, indent=2))


@finetune_app.command("export-gguf")
def export_gguf_command(
    folder: Annotated[Path, typer.Argument(help="A tuned model folder (with card.json).")],
    outtype: Annotated[str, typer.Option("--type", help="q8_0, f16, bf16 or f32.")] = "q8_0",
    as_json: JsonOpt = False,
) -> None:
    """Export a tuned model's merged weights to GGUF with llama.cpp's converter; the registry
    then serves the GGUF through the llama.cpp runtime."""
    from evals.training.finetune import export_to_gguf

    try:
        card = export_to_gguf(folder, outtype=outtype, log=err.print)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        emit_json(card["gguf"])
    else:
        err.print(json.dumps(card["gguf"], indent=2))
