"""Named dependencies (``Annotated[..., Depends()]``); tests swap them with overrides.

Nothing here imports the inference runtime: AuthFunction ships without it (AppLayer only).
The predict-side dependencies live in ``aiaas.web.serving``.

Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, and each
hop there cost ~0.2 ms and stole a core from onnxruntime (measured in bench/).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import Scope
from aiaas.domain.accounts import AccountService
from aiaas.domain.catalog import CatalogService
from aiaas.domain.keys import KeyService
from aiaas.domain.usage import UsageService
from aiaas.repositories.accounts import DynamoKeys, DynamoUsers
from aiaas.repositories.secrets import SecretReader
from aiaas.services import aws_client, catalog_service, usage_service
from aiaas.settings import Settings, get_settings


@lru_cache(maxsize=1)
def get_signing_key() -> SecretReader:
    """The JWT signing key from Secrets Manager, cached."""
    settings = get_settings()
    settings.require("jwt_secret_arn")
    return SecretReader(aws_client("secretsmanager"), str(settings.jwt_secret_arn))


async def settings_dependency() -> Settings:
    """The process-wide settings."""
    return get_settings()


async def get_account_service() -> AccountService:
    """Signup and login on the accounts table."""
    s = get_settings()
    return AccountService(
        DynamoUsers(aws_client("dynamodb"), str(s.accounts_table)),
        get_signing_key(),
        token_ttl=s.token_ttl_seconds,
        max_failures=s.login_max_failures,
        failure_window=s.login_window_seconds,
    )


async def get_key_service() -> KeyService:
    """Key management on the accounts table."""
    return KeyService(DynamoKeys(aws_client("dynamodb"), str(get_settings().accounts_table)))


async def get_usage_service() -> UsageService:
    """The process-wide usage service."""
    return usage_service()


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


async def get_catalog_service() -> CatalogService:
    """The process-wide catalog service."""
    return catalog_service()


SettingsDep = Annotated[Settings, Depends(settings_dependency)]
CatalogDep = Annotated[CatalogService, Depends(get_catalog_service)]
ModelReader = Annotated[Principal, Depends(require(Scope.MODELS_READ))]
ModelWriter = Annotated[Principal, Depends(require(Scope.MODELS_WRITE))]
AccountServiceDep = Annotated[AccountService, Depends(get_account_service)]
KeyServiceDep = Annotated[KeyService, Depends(get_key_service)]
UsageServiceDep = Annotated[UsageService, Depends(get_usage_service)]
Predictor = Annotated[Principal, Depends(require(Scope.PREDICT))]
KeyManager = Annotated[Principal, Depends(require(Scope.KEYS_MANAGE))]
