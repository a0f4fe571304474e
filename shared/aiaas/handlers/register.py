"""RegisterModelFunction's handler: S3 ObjectCreated events on ``uploads/`` (plain, no FastAPI)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aiaas import logs
from aiaas.registration.register import registrar_from
from aiaas.repositories.models import DynamoCatalog
from aiaas.repositories.weights import S3Weights
from aiaas.services import Services

logger = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(services: Services) -> Handler:
    """The handler over one function's services."""
    settings = services.settings
    logs.setup(settings.log_level, "aiaas-register")
    bucket = settings.weights_bucket
    registrar = registrar_from(
        settings,
        DynamoCatalog(services.client("dynamodb"), str(settings.models_table)),
        S3Weights(services.client("s3"), str(bucket)),
    )

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Register every upload the event names; returns the outcome per key."""
        outcomes = {}
        for record in event.get("Records", []):
            s3 = record.get("s3", {})
            key = unquote_plus(s3.get("object", {}).get("key", ""))
            if s3.get("bucket", {}).get("name") != bucket:
                logger.warning("ignoring an event for bucket %s", s3.get("bucket", {}).get("name"))
                continue
            etag = str(s3.get("object", {}).get("eTag", "")).strip('"')
            outcomes[key] = registrar.register(key, etag)
            logger.info("registration of %s: %s", key, outcomes[key])
        return {"outcomes": outcomes}

    return handle
