"""Contacts: vCard parsing, people seen in mail, a merged user-scoped store, fuzzy lookup.

- :mod:`~retrieval.sources.contacts.parse`: ``parse_vcf``
- :mod:`~retrieval.sources.contacts.people`: ``people_from_mail``
- :mod:`~retrieval.store.contacts`: ``ContactStore`` (``record_mail_people[_batch]``,
  ``lookup``, ``contacts``, ``get_by_email``), ``rank_contacts``
- :mod:`~retrieval.ingest.contacts`: ``ingest_vcf_path``
"""
