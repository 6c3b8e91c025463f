"""Health and readiness bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = Field(examples=["ok"])


class Readiness(BaseModel):
    """Readiness with one boolean per component."""

    status: Literal["ready", "not ready"] = Field(examples=["ready"])
    checks: dict[str, bool] = Field(
        examples=[{"store": True, "index": True, "embedder": True, "model": True}]
    )
