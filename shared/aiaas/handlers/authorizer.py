"""The API Gateway (HTTP API, payload 2.0, simple responses) authorizer handler.

Its cold start precedes every first request, so it imports neither FastAPI, pydantic
(pydantic alone costs ~150 ms to import) nor boto3 (~350 ms with a client): it reads
its four settings straight from the same ``AIAAS_*`` variables ``aiaas.settings`` documents,
with the defaults and bounds of ``aiaas.defaults``, and talks to DynamoDB and Secrets Manager
through ``aiaas.aws.lite``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from aiaas import defaults, logs
from aiaas.auth.authorizer import Authorizer
from aiaas.aws.lite import LiteClient, set_deadline
from aiaas.errors import Unauthorized
from aiaas.repositories.accounts import DynamoKeys
from aiaas.repositories.secrets import SecretReader

logger = logging.getLogger("aiaas.authorizer")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def authorizer_from(env: Mapping[str, str]) -> Authorizer:
    """The authorizer the environment configures (clients and caches survive warm calls).

    Raises:
        RuntimeError: A required variable is missing or malformed.
    """
    missing = [n for n in ("AIAAS_ACCOUNTS_TABLE", "AIAAS_JWT_SECRET_ARN") if not env.get(n)]
    if missing:
        raise RuntimeError(f"missing configuration: {', '.join(missing)}")
    logs.setup(env.get("AIAAS_LOG_LEVEL", defaults.LOG_LEVEL), "aiaas-authorizer")
    keys = DynamoKeys(LiteClient("dynamodb"), env["AIAAS_ACCOUNTS_TABLE"])
    return Authorizer(
        keys,
        SecretReader(LiteClient("secretsmanager"), env["AIAAS_JWT_SECRET_ARN"]),
        cache_seconds=defaults.auth_cache_seconds(env.get("AIAAS_AUTH_CACHE_SECONDS")),
        tenants=keys,
    )


def make_handler(authorizer: Authorizer) -> Handler:
    """The Lambda handler over one authorizer."""

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Allow with the principal as context, or deny (API Gateway answers 403).

        An AWS failure propagates: API Gateway answers 500 rather than letting anyone in.
        """
        set_deadline(context)
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        try:
            principal = authorizer.authenticate(headers, str(event.get("routeKey") or ""))
        except Unauthorized as exc:
            logger.info("deny %s: %s", event.get("routeKey"), exc.message)
            return {"isAuthorized": False}
        return {"isAuthorized": True, "context": principal.to_context()}

    return handle


def from_environment() -> Handler:
    """AuthorizerFunction's handler, configured from ``os.environ`` at cold start."""
    return make_handler(authorizer_from(os.environ))
