"""Named dependencies (``Annotated[..., Depends()]``), read from the app's services object.

Kept light, since every function imports it: predict-side dependencies (the inference
runtime, which AuthFunction does not ship) are in ``aiaas.web.serving``, the account ones
(PyJWT and cryptography, ~80 ms of imports) in ``aiaas.web.accounts``; the jobs router
declares its own.

Each function's app is built by ``create_*_app(services)``, which stores the `Services` it
was given on ``app.state``; these dependencies hand its members to the routes. Tests build
their own services object, or swap a dependency with ``app.dependency_overrides``.

Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, and each
hop there cost ~0.2 ms and stole a core from onnxruntime (measured in bench/).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import Scope
from aiaas.domain.catalog import CatalogService
from aiaas.domain.usage import UsageService
from aiaas.services import Services
from aiaas.settings import Settings


def services_of(request: Request) -> Services:
    """The services object the app was built with."""
    services: Services = request.app.state.services
    return services


async def settings_dependency(request: Request) -> Settings:
    """The function's settings."""
    return services_of(request).settings


async def get_usage_service(request: Request) -> UsageService:
    """Quotas and usage."""
    return services_of(request).usage


async def get_catalog_service(request: Request) -> CatalogService:
    """The catalog."""
    return services_of(request).catalog


def principal_of(request: Request) -> Principal:
    """The caller, from the authorizer context API Gateway put in the event."""
    event = request.scope.get("aws.event") or {}
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    return Principal.from_context(context.get("lambda"))


def require(scope: Scope) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency returning the caller, 403 (naming ``scope``) if it lacks the scope."""

    async def dependency(request: Request) -> Principal:
        principal = principal_of(request)
        principal.require(scope)
        return principal

    return dependency


SettingsDep = Annotated[Settings, Depends(settings_dependency)]
CatalogDep = Annotated[CatalogService, Depends(get_catalog_service)]
ModelReader = Annotated[Principal, Depends(require(Scope.MODELS_READ))]
ModelWriter = Annotated[Principal, Depends(require(Scope.MODELS_WRITE))]
UsageServiceDep = Annotated[UsageService, Depends(get_usage_service)]
Predictor = Annotated[Principal, Depends(require(Scope.PREDICT))]
KeyManager = Annotated[Principal, Depends(require(Scope.KEYS_MANAGE))]
