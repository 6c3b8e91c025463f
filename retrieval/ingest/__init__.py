"""Ingestion, sources → store → index: mail (:mod:`.mail`), calendars, contacts, the hooks
mail feeds into calendar and contacts, and the format dispatch (:mod:`.dispatch`)."""
