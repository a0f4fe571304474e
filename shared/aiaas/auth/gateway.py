"""The API Gateway (HTTP API, payload 2.0, simple responses) authorizer handler.

Its cold start precedes every first request, so it imports neither FastAPI, pydantic
(pydantic-settings alone costs ~200 ms to import) nor boto3 (~350 ms with a client): it reads
its four settings straight from the same ``AIAAS_*`` variables ``aiaas.settings`` documents,
and talks to DynamoDB and Secrets Manager through ``aiaas.aws.lite``.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

from aiaas.auth.authorizer import Authorizer
from aiaas.aws.lite import LiteClient
from aiaas.errors import Unauthorized
from aiaas.repositories.accounts import DynamoKeys
from aiaas.repositories.secrets import SecretReader

logger = logging.getLogger("aiaas.authorizer")


@lru_cache(maxsize=1)
def authorizer() -> Authorizer:
    """The process-wide authorizer (clients and caches survive warm invocations)."""
    env = os.environ
    missing = [n for n in ("AIAAS_ACCOUNTS_TABLE", "AIAAS_JWT_SECRET_ARN") if not env.get(n)]
    if missing:
        raise RuntimeError(f"missing configuration: {', '.join(missing)}")
    logging.getLogger().setLevel(env.get("AIAAS_LOG_LEVEL", "INFO"))
    return Authorizer(
        DynamoKeys(LiteClient("dynamodb"), env["AIAAS_ACCOUNTS_TABLE"]),
        SecretReader(LiteClient("secretsmanager"), env["AIAAS_JWT_SECRET_ARN"]),
        cache_seconds=float(env.get("AIAAS_AUTH_CACHE_SECONDS", "30")),
    )


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Allow with the principal as context, or deny (API Gateway answers 403).

    An AWS failure propagates: API Gateway answers 500 rather than letting anyone in.
    """
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        principal = authorizer().authenticate(headers)
    except Unauthorized as exc:
        logger.info("deny %s: %s", event.get("routeKey"), exc.message)
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": principal.to_context()}
