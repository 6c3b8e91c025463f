"""Content hardening: neutralise prompt-injection tricks in mail text and score likely phishing.

:mod:`.sanitize` runs in front of every prompt (through :func:`prompts.render.spotlight`) and on
tool results; :mod:`.phishing` scores a message from its headers, links and wording; it is shown
to the user and keeps smart-reply chips off likely scams, never hides or deletes mail.
"""
