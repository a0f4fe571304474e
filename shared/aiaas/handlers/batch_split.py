"""BatchSplitFunction's handler: S3 ObjectCreated on ``uploads/`` and ``inbox/`` (plain)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aiaas import logs
from aiaas.services import Services

logger = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(services: Services) -> Handler:
    """The handler over one function's services."""
    settings = services.settings
    logs.setup(settings.log_level, "aiaas-batch-split")

    def split(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Start the job of every object the event names; returns the outcome per key."""
        outcomes = {}
        for record in event.get("Records", []):
            s3 = record.get("s3", {})
            bucket = s3.get("bucket", {}).get("name")
            if bucket != settings.batch_bucket:
                logger.warning("ignoring an event for bucket %s", bucket)
                continue
            key = unquote_plus(s3.get("object", {}).get("key", ""))
            etag = str(s3.get("object", {}).get("eTag", ""))
            outcomes[key] = services.splitter.on_object(key, etag)
            logger.info("%s: %s", key, outcomes[key])
        return {"outcomes": outcomes}

    return split
