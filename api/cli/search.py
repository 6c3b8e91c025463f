"""``mailmind search``: hybrid search over one user's mail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer

from api.cli.common import emit_json, err, fail, settings_from
from core.errors import InputError, MailmindError
from core.ids import check_thread_id, check_user_id
from core.settings import Settings
from retrieval.index.base import SearchFilters


def _parse_date(value: str | None, name: str) -> datetime | date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"--{name} must be an ISO date like 2001-03-31: {value!r}") from exc


def run_search(
    settings: Settings,
    user: str,
    query: str,
    *,
    filters: SearchFilters | None = None,
    limit: int = 10,
    mode: str = "hybrid",
) -> tuple[list[dict[str, Any]], int]:
    """Search the configured index (results come from the payload); also returns how many of
    the user's stored messages are not in the index yet (``ingest --no-index``)."""
    from api.services import Services
    from retrieval.index import IndexingConfig, open_index
    from retrieval.index.embeddings import load_embedder
    from retrieval.index.search import FusionConfig, Searcher

    check_user_id(user)
    embedder = load_embedder(settings.embeddings)
    index = open_index(settings, dim=embedder.dim, model=embedder.name)
    services = Services(settings)
    try:
        searcher = Searcher(
            index,
            embedder,
            indexing=IndexingConfig.from_settings(settings.index),
            fusion=FusionConfig.from_settings(settings.index),
        )
        hits = searcher.search(user, query, filters=filters, limit=limit, mode=mode)  # type: ignore[arg-type]
        stored = services.store.message_ids(user)
        unindexed = len(stored - set(index.message_hashes(user))) if stored else 0
        return [h.to_dict() for h in hits], unindexed
    finally:
        services.close()
        index.close()


def search_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    user: Annotated[str, typer.Option("--user", "-u", help="Whose mail to search.")],
    sender: Annotated[str | None, typer.Option("--from", help="Sender address or name.")] = None,
    recipient: Annotated[str | None, typer.Option("--to", help="To/Cc address.")] = None,
    after: Annotated[str | None, typer.Option(help="On or after this date (ISO).")] = None,
    before: Annotated[str | None, typer.Option(help="Before this date (ISO).")] = None,
    folder: Annotated[str | None, typer.Option(help="Only this folder.")] = None,
    thread: Annotated[str | None, typer.Option(help="Only this thread id.")] = None,
    attachment: Annotated[
        bool | None, typer.Option("--attachment/--no-attachment", help="With/without files.")
    ] = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Hybrid search over one user's indexed mail."""
    try:
        if mode not in ("hybrid", "dense", "sparse"):
            raise InputError("--mode must be hybrid, dense or sparse")
        filters = SearchFilters(
            sender=sender,
            recipient=recipient,
            after=_parse_date(after, "after"),
            before=_parse_date(before, "before"),
            folder=folder,
            thread_id=thread,
            has_attachment=attachment,
        )
        if thread is not None:
            check_thread_id(thread)
        hits, unindexed = run_search(
            settings_from(ctx), user, query, filters=filters, limit=limit, mode=mode
        )
    except MailmindError as exc:
        raise fail(exc, as_json) from exc
    if as_json:
        emit_json({"query": query, "user": user, "results": hits, "unindexed": unindexed})
        return
    if unindexed:
        err.print(
            f"[yellow]note:[/] {unindexed:,} of {user}'s messages are not indexed yet and cannot "
            f"be found; index them with `mailmind index --user {user}`",
            highlight=False,
        )
    from rich.console import Console
    from rich.table import Table

    table = Table("#", "score", "date", "from", "subject / snippet", show_lines=True)
    for i, h in enumerate(hits, start=1):
        snippet = h["snippet"]
        table.add_row(
            str(i),
            f"{h['score']:.3f}",
            (h["date"] or "")[:10],
            h["from"],
            f"[bold]{h['subject']}[/bold]\n{snippet}\n[dim]{h['message_id']}[/dim]",
        )
    Console().print(table)
