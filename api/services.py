"""The service object: one place that builds and owns the heavy collaborators.

The CLI, the REPL and the FastAPI app all hold one :class:`Services` and ask it for the store,
the ingestor and (as later issues land) the index, the model runtime and the graphs. Everything is
built lazily on first use, so constructing it is free and importing this module does no I/O.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.cli_sync import PimStores
    from core.settings import Settings
    from retrieval.ingest import Ingestor, ProgressFn
    from retrieval.store.base import Store
    from retrieval.sync.mail_sink import MailSink


class Services:
    """Lazily built collaborators shared by every front end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        """The relational store, migrated to the current schema."""
        from retrieval.store import open_store

        return open_store(self.settings)

    @cached_property
    def pim(self) -> PimStores:
        """Calendar and contact stores plus sync state (one SQLite file beside the mail store)."""
        from api.cli_sync import open_pim

        return open_pim(self.settings)

    def ingestor(self, *, workers: int | None = None, pim_hooks: bool = True) -> Ingestor:
        """An ingestor writing into :attr:`store`; by default it also feeds contacts (people
        seen in mail) and the calendar (invitations attached to mail)."""
        from retrieval.ingest import Ingestor
        from retrieval.mail_hooks import PimMailHook

        s = self.settings
        hooks = [PimMailHook(self.pim.calendars, self.pim.contacts)] if pim_hooks else []
        return Ingestor(
            self.store,
            quarantine_dir=s.quarantine_dir,
            batch_size=s.store.batch_size,
            max_bytes=s.ingest.max_message_bytes,
            body_chars=s.ingest.body_chars,
            workers=workers,
            hooks=hooks,
        )

    def ingest_path(
        self,
        user: str,
        path: Path,
        *,
        workers: int | None = None,
        progress: ProgressFn | None = None,
    ) -> dict[str, Any]:
        """Ingest whatever ``path`` holds: mail, ``.ics`` calendars, ``.vcf`` contacts, or a
        folder mixing them (calendar and contact files inside a mail tree are ingested too)."""
        from retrieval.calendar.ingest import IngestReport as PimReport
        from retrieval.calendar.ingest import ingest_ics_path
        from retrieval.contacts.ingest import ingest_vcf_path
        from retrieval.mail.sources import open_source
        from retrieval.store.base import check_user

        check_user(user)
        source = open_source(path)
        if source.format == "ics":
            report = ingest_ics_path(self.pim.calendars, user, source.path)
            return {"user": user, "path": str(source.path), "format": "ics", **report.as_dict()}
        if source.format == "vcf":
            report = ingest_vcf_path(self.pim.contacts, user, source.path)
            return {"user": user, "path": str(source.path), "format": "vcf", **report.as_dict()}
        pim_files = set(source.calendar_files) | set(source.contact_files)
        if source.format == "tree" and pim_files and pim_files == set(source.files):
            # A folder of calendars/contacts only: no mail source to record.
            result: dict[str, Any] = {"user": user, "path": str(source.path), "format": "pim"}
        else:
            mail = self.ingestor(workers=workers).ingest_source(user, source, progress=progress)
            result = mail.to_dict()
        for key, files, fn in (
            ("calendar", source.calendar_files, ingest_ics_path),
            ("contacts", source.contact_files, ingest_vcf_path),
        ):
            if not files:
                continue
            total = PimReport()
            target = self.pim.calendars if key == "calendar" else self.pim.contacts
            for f in files:
                part = fn(target, user, f)  # type: ignore[arg-type]
                total.files += part.files
                total.counts.update(part.counts)
                total.failures.extend(part.failures)
            result[key] = total.as_dict()
        return result

    def mail_sink(self) -> MailSink:
        """Callbacks through which IMAP sync stores mail (call ``finish()`` after the sync)."""
        from retrieval.sync.mail_sink import MailSink

        return MailSink(self.ingestor(workers=0))

    def close(self) -> None:
        """Release connections."""
        if "store" in self.__dict__:
            self.store.close()
        if "pim" in self.__dict__:
            self.pim.close()
