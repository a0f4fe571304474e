"""BatchSplitFunction's handler: S3 ObjectCreated on ``uploads/`` and ``inbox/`` (plain).

BatchFunction's SQS handler is in `aiaas.batch.worker` (it needs the inference runtime).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote_plus

from aiaas.batch.wiring import splitter
from aiaas.settings import get_settings

logger = logging.getLogger(__name__)


def split(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Start the job of every object the event names; returns the outcome per key."""
    settings = get_settings()
    logging.getLogger().setLevel(settings.log_level)
    outcomes = {}
    for record in event.get("Records", []):
        s3 = record.get("s3", {})
        bucket = s3.get("bucket", {}).get("name")
        if bucket != settings.batch_bucket:
            logger.warning("ignoring an event for bucket %s", bucket)
            continue
        key = unquote_plus(s3.get("object", {}).get("key", ""))
        etag = str(s3.get("object", {}).get("eTag", ""))
        outcomes[key] = splitter().on_object(key, etag)
        logger.info("%s: %s", key, outcomes[key])
    return {"outcomes": outcomes}
