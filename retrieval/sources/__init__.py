"""Sources: parsers for mail, calendars and contacts, and the live sync clients (IMAP,
CalDAV/CardDAV)."""
