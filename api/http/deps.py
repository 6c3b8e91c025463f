"""Dependencies of every route: the shared :class:`~api.services.Services`, and the caller.

The caller is the API key's user, never a user id from the body or the query: ``PrincipalDep``
resolves ``Authorization: Bearer <key>`` to a :class:`Principal`, answers 401 for a missing or
unknown key and 403 for a key without the route's scope, and applies the per-key rate limit
(429 + ``Retry-After``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.http.errors import ProblemError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from api.services import Services
    from core.settings import Settings

#: Scope every user key has: read and write the key's own user's data.
USER_SCOPE = "user"
#: Scope for user and key management (``/v1/admin/...``).
ADMIN_SCOPE = "admin"

_bearer = HTTPBearer(auto_error=False, description="An API key from `mailmind keys create`.")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's user, the key's id (for limits and logs) and its scopes."""

    user: str
    key_id: str
    scopes: frozenset[str]


async def get_services(request: Request) -> Services:
    """The app's :class:`~api.services.Services` (built once in the lifespan).

    ``async`` although it does not wait: FastAPI runs a plain ``def`` dependency in the
    threadpool, a thread hop per request for an attribute read."""
    return request.app.state.services  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401, "unauthorized", detail, code="unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="mailmind"'},
    )  # fmt: skip


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency resolving the caller's key and checking it has ``scope``."""

    async def dependency(
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        if creds is None or not creds.credentials:
            raise _unauthorized("send an API key as `Authorization: Bearer <key>`")
        services: Services = request.app.state.services
        key = services.keys.verify(creds.credentials)
        if key is None:
            raise _unauthorized("unknown or revoked API key")
        principal = Principal(user=key.user, key_id=key.key_id, scopes=frozenset(key.scopes))
        request.state.principal = principal
        limits = getattr(request.app.state, "limits", None)
        if limits is not None:
            retry_after = limits.check_rate(principal.key_id)
            if retry_after is not None:
                raise ProblemError(
                    429, "too many requests", "this API key is over its rate limit",
                    code="rate_limited", headers={"Retry-After": str(retry_after)},
                )  # fmt: skip
        if scope not in principal.scopes:
            raise ProblemError(
                403, "forbidden", f"this API key lacks the `{scope}` scope", code="forbidden"
            )
        return principal

    return dependency


ServicesDep = Annotated["Services", Depends(get_services)]
SettingsDep = Annotated["Settings", Depends(get_settings)]
#: The caller, with the ``user`` scope.
PrincipalDep = Annotated[Principal, Depends(require(USER_SCOPE))]
#: The caller, with the ``admin`` scope.
AdminDep = Annotated[Principal, Depends(require(ADMIN_SCOPE))]
