"""Wire schemas: request and response models of the HTTP API, one module per area.

They are separate from the domain types in ``core.types`` so the API can stay stable while the
internals change, and every model carries examples for ``/docs``.
"""
