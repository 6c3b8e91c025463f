"""Services over a fresh data dir holding the bundled demo mailbox, calendar and contacts
(the latency suite's and the smoke test's fixture; the agent suite builds its own the same way
in :func:`evals.agent.live.run_live_eval`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

from api.services import Services
from core.settings import REPO_ROOT, Settings

DEMO_USER = "demo"


def ingest_demo(services: Services, user: str = DEMO_USER) -> None:
    """Ingest and index the demo mail, calendar and contacts as ``user``."""
    for part in ("mail", "calendar", "contacts"):
        services.ingest_path(user, REPO_ROOT / "demo" / part)


@contextmanager
def demo_services(settings: Settings) -> Iterator[Services]:
    """Services on a temporary data dir with the demo data; the pulled model weights are
    linked in, not copied."""
    with TemporaryDirectory(prefix="mailmind-eval-") as tmp:
        if settings.model_cache_dir.is_dir():
            (Path(tmp) / "models").symlink_to(settings.model_cache_dir)
        services = Services(settings.scratch(Path(tmp)))
        try:
            ingest_demo(services)
            yield services
        finally:
            services.close()
