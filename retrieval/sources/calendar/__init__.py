"""Calendar: iCalendar parsing, recurrence expansion, invitations, a store and free time.

Public surface (import from the submodules; this package imports nothing heavy):

- :mod:`~retrieval.sources.calendar.parse`: ``parse_ics``, ``parse_jcal``, ``expand``,
  ``component_to_event``
- :mod:`~retrieval.sources.calendar.invites`: ``events_from_email``, ``invitations_from_email``
- :mod:`~retrieval.store.calendar`: ``CalendarStore`` (user-scoped, SQLite)
- :mod:`~retrieval.store.freetime`: ``find_free_time``, ``free_slots``, ``WorkingHours``
- :mod:`~retrieval.ingest.calendar`: ``ingest_ics_path``
"""
