"""Time-zone resolution for calendar data.

iCalendar carries three kinds of TZID: IANA names (``Europe/Berlin``), Windows/Outlook names
(``W. Europe Standard Time``) and vendor-prefixed "globally unique" ids
(``/mozilla.org/.../Europe/Berlin``). icalendar 7 maps all three through its ``tzp`` provider
(it ships Unicode CLDR's Windows table) and builds a tzinfo from an embedded VTIMEZONE for
anything else, so we delegate to it and only add the "floating time" policy on top.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import InputError

UTC = ZoneInfo("UTC")


def resolve_tzid(tzid: str) -> tzinfo | None:
    """Return the IANA zone for an IANA, Windows or globally unique TZID, or ``None``.

    >>> resolve_tzid("Pacific Standard Time")
    zoneinfo.ZoneInfo(key='America/Los_Angeles')

    Deliberately not ``icalendar.timezone.tzp.timezone``: that caches zones built from any
    VTIMEZONE parsed earlier in the process, so the answer would depend on what was read before.
    """
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    cleaned = tzid.strip().strip('"').strip("/")
    parts = cleaned.split("/")
    # Olson name, Windows name, then the trailing Olson part of "/vendor/.../Europe/Berlin".
    candidates = [cleaned, WINDOWS_TO_OLSON.get(cleaned, "")]
    candidates += ["/".join(parts[i:]) for i in range(1, len(parts))]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return None


def get_zone(tz: str | tzinfo | None) -> tzinfo:
    """Turn a user-supplied zone (name, tzinfo or ``None`` = UTC) into a tzinfo.

    Raises :class:`InputError` for names neither zoneinfo nor the Windows table know.
    """
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        resolved = resolve_tzid(tz)
        if resolved is None:
            raise InputError(
                f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Berlin'"
            ) from None
        return resolved


def to_aware(value: date | datetime, tz: tzinfo) -> datetime:
    """Make a DTSTART/DTEND value an aware datetime.

    Floating times (no TZID, no ``Z``) mean "wall-clock time wherever the user is" (RFC 5545
    3.3.5), so they are placed in the user's zone ``tz``; all-day dates start at local midnight.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    return datetime.combine(value, time(), tzinfo=tz)


def to_utc(value: date | datetime, tz: tzinfo = UTC) -> datetime:
    """Aware UTC datetime for any DTSTART-like value (floating and dates interpreted in ``tz``)."""
    return to_aware(value, tz).astimezone(UTC)
