"""Live sync clients: IMAP (:mod:`.imap`) and CalDAV/CardDAV (:mod:`.dav`).

Both keep their own incremental state in SQLite (``imap_*`` and ``dav_*`` tables) and hand
results to callers: IMAP through callbacks (mail ingestion lives elsewhere), DAV straight into
the calendar and contact stores.
"""
