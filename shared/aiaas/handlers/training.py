"""TrainingFunction's handler: the dataset's S3 event, then the training queue's steps.

SQS records are run one by one and failures reported in ``batchItemFailures`` (the event
source mapping has ``ReportBatchItemFailures`` and a batch size of 1: a step may take
minutes, and a timeout retries the whole batch).
"""

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
    """The S3 and SQS event sources' handler over one function's services."""
    logs.setup(services.settings.log_level, "aiaas-training")
    trainer = services.trainer

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """S3 records: queue their jobs; SQS records: run their steps."""
        failures = []
        for record in event.get("Records", []):
            if record.get("eventSource") == "aws:s3":
                s3 = record["s3"]
                key = unquote_plus(s3["object"]["key"])
                logger.info(trainer.uploaded(key, int(s3["object"].get("size", 0))))
                continue
            receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
            try:
                logger.info("%s (delivery %d)", trainer.handle(record["body"], receives), receives)
            except Exception:
                logger.exception("training step failed (delivery %d); it will be retried", receives)
                failures.append({"itemIdentifier": record.get("messageId", "")})
        return {"batchItemFailures": failures}

    return handle
