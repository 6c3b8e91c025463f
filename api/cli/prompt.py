"""``mailmind prompt list|show|run``: the prompt lab for scripts and CI.

``run`` goes through :meth:`api.repl.session.ReplSession.run`, the code path of the REPL's
``/run``; ``--json`` prints the run (output, tokens, timings) as one object."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from api.cli.common import JsonOpt, emit_json, fail, settings_from
from api.cli.repl import OfflineOpt, PromptsDirOpt, prompts_dir_for
from core.errors import InputError, MailmindError

prompt_app = typer.Typer(help="List, show and run prompt files.", no_args_is_help=True)


@prompt_app.command("list")
def list_command(
    ctx: typer.Context, prompts_dir: PromptsDirOpt = None, as_json: JsonOpt = False
) -> None:
    """List the prompts with their versions and variables."""
    from prompts.render import list_prompts, load_prompt

    try:
        directory = prompts_dir_for(settings_from(ctx), prompts_dir)
        prompts = [load_prompt(n, directory) for n in list_prompts(directory)]
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        rows = [{"name": p.name, "version": p.version, "variables": [v.name for v in p.variables],
                 "output": p.output, "description": " ".join(p.description.split())}
                for p in prompts]  # fmt: skip
        emit_json({"prompts_dir": str(directory), "prompts": rows})
        return
    for p in prompts:
        names = ", ".join(v.name for v in p.variables)
        typer.echo(f"{p.id}\t{names}\t{' '.join(p.description.split())}")


@prompt_app.command("show")
def show_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    var: Annotated[list[str] | None, typer.Option("--var", help="k=v; renders the prompt.")] = None,
    prompts_dir: PromptsDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a prompt file; with --var values, also the rendered prompt."""
    from prompts.render import load_prompt, render_prompt

    try:
        directory = prompts_dir_for(settings_from(ctx), prompts_dir)
        prompt = load_prompt(name, directory)
        values = parse_vars(var or [])
        rendered = render_prompt(prompt, **values) if values else None
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    text = prompt.path.read_text(encoding="utf-8")
    if as_json:
        emit_json({"name": prompt.name, "version": prompt.version, "id": prompt.id,
                   "variables": [v.name for v in prompt.variables], "output": prompt.output,
                   "changelog": prompt.changelog, "text": text, "rendered": rendered})  # fmt: skip
        return
    typer.echo(rendered if rendered is not None else text, nl=False)


@prompt_app.command("run")
def run_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    sample: Annotated[
        str | None,
        typer.Option("--sample", help="Message id, thread id, search query or .eml file."),
    ] = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="k=v (repeatable).")] = None,
    user: Annotated[
        str, typer.Option("--user", "-u", help="Whose mail samples come from.")
    ] = "demo",
    max_tokens: Annotated[int | None, typer.Option(help="Longest output.")] = None,
    temperature: Annotated[float | None, typer.Option(help="0 = greedy.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
    constrained: Annotated[
        bool, typer.Option(help="Constrain output to the prompt's schema when it names one.")
    ] = True,
    offline: OfflineOpt = False,
    prompts_dir: PromptsDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render NAME (variables from --sample, then --var) and generate with the model."""
    from api.repl.app import repl_services
    from api.repl.samples import load_sample
    from api.repl.session import ReplSession
    from core.ids import check_user_id

    settings = settings_from(ctx)
    try:
        check_user_id(user)
        directory = prompts_dir_for(settings, prompts_dir)
        values = parse_vars(var or [])
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    services = repl_services(settings, offline=offline)
    try:
        session = ReplSession(services, user, directory)
        prompt = session.use(name).prompt()
        if sample:
            session.sample = load_sample(services.store, user, sample)
            session.values.update(session.sample.values(prompt, user))
        undeclared = sorted(set(values) - {v.name for v in prompt.variables})
        if undeclared:
            raise InputError(f"{prompt.id} does not declare {undeclared}")
        session.values.update(values)
        opts = session.options
        opts.max_tokens = max_tokens or opts.max_tokens
        opts.temperature = opts.temperature if temperature is None else temperature
        opts.seed = opts.seed if seed is None else seed
        opts.constrained = constrained
        run = session.run()
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    finally:
        services.close()
    if as_json:
        emit_json(run.to_dict())
        return
    typer.echo(run.output)
    typer.echo(
        f"{run.prompt_id} · {run.runtime}/{run.model} · TTFT {run.time_to_first_token_s:.3f} s · "
        f"{run.tokens_per_s:.1f} tok/s · {run.prompt_tokens}+{run.completion_tokens} tokens",
        err=True,
    )


def parse_vars(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs; a value starting with ``[`` is read as a JSON list when it parses."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--var must be k=v, got {pair!r}")
        parsed: Any = value
        if value.startswith("["):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = value
        out[key] = parsed
    return out


__all__ = ["prompt_app"]
