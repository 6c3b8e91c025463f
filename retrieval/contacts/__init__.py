"""Contacts: vCard parsing, people seen in mail, a merged user-scoped store, fuzzy lookup.

- :mod:`~retrieval.contacts.parse`: ``parse_vcf``
- :mod:`~retrieval.contacts.people`: ``people_from_mail``
- :mod:`~retrieval.contacts.store`: ``ContactStore`` (``record_mail_people[_batch]``,
  ``lookup``, ``contacts``, ``get_by_email``), ``rank_contacts``
- :mod:`~retrieval.contacts.ingest`: ``ingest_vcf_path``
"""
