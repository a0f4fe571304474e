"""BatchFunction's handler: SQS chunk messages, with partial batch responses.

Powertools' batch utility runs each record and reports the failed ones in
``batchItemFailures`` (the event source mapping has ``ReportBatchItemFailures``), so one bad
chunk is retried alone and its neighbours are deleted.
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from aiaas.batch.pipeline import ChunkMessage
from aiaas.batch.wiring import chunk_runner
from aiaas.settings import get_settings

logger = logging.getLogger(__name__)
processor = BatchProcessor(event_type=EventType.SQS)


def run_record(record: SQSRecord) -> str:
    """One chunk; raising marks the record failed (SQS delivers it again, or dead-letters it)."""
    try:
        message = ChunkMessage.from_json(record.body)
    except (ValueError, KeyError, TypeError):
        logger.error("message %s is not a batch chunk; dropped", record.message_id)
        return "dropped: not a chunk message"
    receives = int(record.attributes.approximate_receive_count or 1)
    outcome = chunk_runner().run(message, receives)
    logger.info("%s (delivery %d)", outcome, receives)
    return outcome


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The SQS event source's handler: ``{"batchItemFailures": [...]}``."""
    logging.getLogger().setLevel(get_settings().log_level)
    return dict(
        process_partial_response(
            event=event, record_handler=run_record, processor=processor, context=context
        )
    )
