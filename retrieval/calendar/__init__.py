"""Calendar: iCalendar parsing, recurrence expansion, invitations, a store and free time.

Public surface (import from the submodules; this package imports nothing heavy):

- :mod:`~retrieval.calendar.parse`: ``parse_ics``, ``parse_jcal``, ``expand``,
  ``component_to_event``
- :mod:`~retrieval.calendar.invites`: ``events_from_email``, ``invitations_from_email``
- :mod:`~retrieval.calendar.store`: ``CalendarStore`` (user-scoped, SQLite)
- :mod:`~retrieval.calendar.freetime`: ``find_free_time``, ``free_slots``, ``WorkingHours``
- :mod:`~retrieval.calendar.ingest`: ``ingest_ics_path``
"""
