"""Routers: one module per area, each exporting ``router`` (an ``APIRouter``)."""
