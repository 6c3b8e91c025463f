"""The HTTP service: a FastAPI app built by :func:`api.http.app.create_app`.

Layout: ``app.py`` (factory + lifespan), ``deps.py`` (``ServicesDep``, ``PrincipalDep``,
``AdminDep``), ``errors.py`` (problem+json everywhere), ``routers/`` (thin routes, one module per
area), ``schemas/`` (wire models, separate from domain types). Importing this package does no I/O.
"""
