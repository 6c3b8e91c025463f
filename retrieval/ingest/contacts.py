"""Ingest ``.vcf`` files and folders into the contact store."""

from __future__ import annotations

from pathlib import Path

from retrieval.ingest.calendar import IngestReport, iter_files
from retrieval.sources.contacts.parse import ParsedCards, parse_vcf
from retrieval.store.contacts import ContactStore

VCF_SUFFIXES = (".vcf", ".vcard")


def parse_vcf_file(path: Path) -> ParsedCards:
    """Parse one file; an unreadable file becomes a failure."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ParsedCards(failures=[(str(path), f"unreadable: {exc}")])
    return parse_vcf(data, str(path))


def ingest_vcf_path(store: ContactStore, user: str, path: str | Path) -> IngestReport:
    """Store every vCard of a ``.vcf`` file or folder for ``user`` (idempotent per file)."""
    files, others = iter_files(Path(path).expanduser(), VCF_SUFFIXES)
    report = IngestReport(skipped=[str(p) for p in others])
    for file in files:
        parsed = parse_vcf_file(file)
        report.files += 1
        report.failures.extend(parsed.failures)
        report.counts.update(store.replace_source(user, f"file:{file.resolve()}", parsed.cards))
    return report
