"""BatchFunction's handler: SQS chunk messages, with partial batch responses.

Powertools' batch utility runs each record and reports the failed ones in
``batchItemFailures`` (the event source mapping has ``ReportBatchItemFailures``), so one bad
chunk is retried alone and its neighbours are deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from aiaas import logs
from aiaas.batch.pipeline import ChunkMessage, ChunkRunner
from aiaas.services import Services

logger = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def run_record(runner: ChunkRunner, record: SQSRecord) -> str:
    """One chunk; raising marks the record failed (SQS delivers it again, or dead-letters it)."""
    try:
        message = ChunkMessage.from_json(record.body)
    except (ValueError, KeyError, TypeError):
        logger.error("message %s is not a batch chunk; dropped", record.message_id)
        return "dropped: not a chunk message"
    receives = int(record.attributes.approximate_receive_count or 1)
    outcome = runner.run(message, receives)
    logger.info("%s (delivery %d)", outcome, receives)
    return outcome


def make_handler(services: Services) -> Handler:
    """The SQS event source's handler over one function's services."""
    logs.setup(services.settings.log_level, "aiaas-batch")
    processor = BatchProcessor(event_type=EventType.SQS)
    runner = services.chunk_runner

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """``{"batchItemFailures": [...]}``."""
        return dict(
            process_partial_response(
                event=event,
                record_handler=lambda record: run_record(runner, record),
                processor=processor,
                context=context,
            )
        )

    return handle
