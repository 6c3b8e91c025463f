"""Side-effecting actions, always with approval.

``intent`` tells an action request from a question, ``propose`` turns the request into a typed
proposal whose every argument carries :mod:`provenance`, ``policy`` refuses what must never be
offered for approval, ``service`` persists proposals and applies the user's decision, and
``executor`` runs an approved action (``outbox`` for mail, ``itip`` and ``calendar_write`` for
the calendar).
"""
