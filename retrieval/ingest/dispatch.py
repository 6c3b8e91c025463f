"""Which ingester a path goes to: mail, ``.ics``/``.jcal`` calendars, ``.vcf`` address books.

:func:`ingest_path` is what ``mailmind ingest`` (through ``Services``) and ``POST /v1/ingest``
call: it detects the format, ingests mail through :class:`~retrieval.ingest.mail.Ingestor`,
calendar and contact files through their own ingesters, and hands new mail to an index callback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from retrieval.ingest.calendar import ICS_SUFFIXES, JCAL_SUFFIXES, ingest_ics_path
from retrieval.ingest.calendar import IngestReport as PimReport
from retrieval.ingest.contacts import VCF_SUFFIXES, ingest_vcf_path
from retrieval.sources.mail.sources import open_source
from retrieval.store.base import check_user
from retrieval.store.pim import open_pim

if TYPE_CHECKING:
    from core.settings import Settings
    from retrieval.ingest.mail import Ingestor, ProgressFn
    from retrieval.store.pim import PimStores


def ingest_path(
    user: str,
    path: Path,
    *,
    pim: PimStores,
    ingestor: Callable[[], Ingestor],
    progress: ProgressFn | None = None,
    index: Callable[[str], dict[str, int]] | None = None,
    on_stored: Callable[[list[str]], object] | None = None,
) -> dict[str, Any]:
    """Ingest whatever ``path`` holds: mail, ``.ics`` calendars, ``.vcf`` contacts, or a folder
    mixing them (calendar and contact files inside a mail tree are ingested too).

    ``ingestor()`` builds the mail ingestor only when there is mail; ``index(user)``, when given,
    is called after new mail is stored and its counts are reported under ``"index"``;
    ``on_stored(ids)`` then hears the ids of the messages this run added.
    """
    check_user(user)
    source = open_source(path)
    if source.format == "ics":
        report = ingest_ics_path(pim.calendars, user, source.path)
        return {"user": user, "path": str(source.path), "format": "ics", **report.as_dict()}
    if source.format == "vcf":
        report = ingest_vcf_path(pim.contacts, user, source.path)
        return {"user": user, "path": str(source.path), "format": "vcf", **report.as_dict()}
    pim_files = set(source.calendar_files) | set(source.contact_files)
    if source.format == "tree" and pim_files and pim_files == set(source.files):
        # A folder of calendars/contacts only: no mail source to record.
        result: dict[str, Any] = {"user": user, "path": str(source.path), "format": "pim"}
    else:
        mail = ingestor().ingest_source(user, source, progress=progress)
        result = mail.to_dict()
        if index is not None:
            result["index"] = index(user)
        if on_stored is not None:
            on_stored(mail.added_ids)
    for key, files in (("calendar", source.calendar_files), ("contacts", source.contact_files)):
        if not files:
            continue
        total = PimReport()
        for f in files:
            if key == "calendar":
                part = ingest_ics_path(pim.calendars, user, f)
            else:
                part = ingest_vcf_path(pim.contacts, user, f)
            total.files += part.files
            total.counts.update(part.counts)
            total.failures.extend(part.failures)
        result[key] = total.as_dict()
    return result


def pim_kind(path: str | Path) -> Literal["calendar", "contacts"] | None:
    """Whether ``path`` is calendar or contact data (by suffix; folders by their files)."""
    p = Path(path)
    suffixes = {p.suffix.lower()} if p.is_file() else {f.suffix.lower() for f in p.glob("*")}
    if suffixes & set(ICS_SUFFIXES + JCAL_SUFFIXES):
        return "calendar"
    if suffixes & set(VCF_SUFFIXES):
        return "contacts"
    return None


def ingest_pim_path(settings: Settings, user: str, path: str | Path) -> dict[str, Any] | None:
    """Ingest calendar or contact data at ``path``; ``None`` when it is neither (mail)."""
    kind = pim_kind(path)
    if kind is None:
        return None
    pim = open_pim(settings)
    try:
        if kind == "calendar":
            report = ingest_ics_path(pim.calendars, user, path)
        else:
            report = ingest_vcf_path(pim.contacts, user, path)
    finally:
        pim.close()
    return {"kind": kind, **report.as_dict()}
