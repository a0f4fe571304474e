"""SQS event sources run locally: a poller per source invokes its function with batches.

As Lambda's event source mapping, a poller thread long-polls the queue in moto, gathers up to
``BatchSize`` messages (waiting up to ``MaximumBatchingWindowInSeconds`` for a full batch),
builds the event Lambda builds and invokes the function through its worker (one invocation at
a time, shared with the HTTP routes and S3 events). A batch that succeeds is deleted; with
``ReportBatchItemFailures`` only the messages the response does not list as failed are. A
failed message goes back to the queue, and SQS (moto, when it is received again) moves it to
the dead-letter queue once it has been received ``maxReceiveCount`` times. Every outcome is
logged: ``SQS batch delivered``, ``SQS batch partly failed``, ``SQS batch failed``.

Local differences: a failed message is visible again after `RETRY_DELAY_S` (not when the
queue's visibility timeout runs out, often minutes later); one batch at a time per source
(Lambda runs several; ``ScalingConfig`` is ignored); ``FilterCriteria`` is not applied.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiaas_dev.invoker import InvocationError, Invoker
from aiaas_dev.pollers import QueuePoller
from aiaas_dev.sqs_batch import failed_message_ids, sqs_event
from aiaas_dev.sqs_events import SQSEventSource

logger = logging.getLogger(__name__)

RETRY_DELAY_S = 0.1  # before a failed message is visible again (SQS: the visibility timeout)
WAIT_TIME_S = 1  # SQS long polling (an empty poll takes 1-2 s in moto)
GATHER_POLL_S = 0.05  # between receives while a batching window is open
MAX_RECEIVE = 10  # SQS returns at most 10 messages per receive


def _chunks(items: Sequence[Any], size: int = MAX_RECEIVE) -> Iterable[Sequence[Any]]:
    return (items[start : start + size] for start in range(0, len(items), size))


class SQSEventPoller(QueuePoller):
    """Receives one event source's messages in batches and invokes its function with them."""

    def __init__(
        self,
        source: SQSEventSource,
        worker: Invoker,
        sqs: Any,
        queue_url: str,
        *,
        max_receive_count: int | None = None,
        retry_delay_s: float = RETRY_DELAY_S,
    ) -> None:
        """Create the poller (call `start`).

        Args:
            source: The event source.
            worker: The function's execution environment.
            sqs: A boto3 SQS client bound to moto.
            queue_url: The source's queue.
            max_receive_count: The queue's ``RedrivePolicy.maxReceiveCount``, if it has one
                (for the log line when a message is about to go to the dead-letter queue).
            retry_delay_s: How long a failed message stays invisible.
        """
        super().__init__(sqs, queue_url, f"sqs-{source.function}-{source.name}")
        self.source = source
        self.worker = worker
        self.max_receive_count = max_receive_count
        self.retry_delay_s = retry_delay_s

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = self._receive_batch()
            except Exception as exc:  # moto going away at shutdown, or a hiccup
                if not self._stopping.wait(0.5):
                    logger.warning("%s: polling %s failed: %s", self.source.function,
                                   self.source.queue_name, exc)  # fmt: skip
                continue
            try:
                if messages:
                    self.process(messages)
            except Exception:  # a bug here must not end the poller; the messages come back
                logger.exception("%s: could not process a batch", self.source.function)

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(count, MAX_RECEIVE),
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _receive_batch(self) -> list[dict[str, Any]]:
        """Long-poll for a message, then gather more until the batch is full or the window ends."""
        size = self.source.batch_size
        messages = self._receive(size, WAIT_TIME_S)
        deadline = time.monotonic() + self.source.batching_window_s
        while messages and len(messages) < size and time.monotonic() < deadline:
            more = self._receive(size - len(messages), 0)
            messages += more
            if not more and self._stopping.wait(GATHER_POLL_S):
                break
        return messages

    def process(self, messages: Sequence[Mapping[str, Any]]) -> set[str]:
        """Invoke the function with one batch; delete what succeeded, return the rest.

        Args:
            messages: The batch, as ``ReceiveMessage`` gave it.

        Returns:
            The IDs of the messages that failed (visible again after `retry_delay_s`).
        """
        failed = self.deliver(sqs_event(messages, self.source.queue_arn))
        done = [message for message in messages if message["MessageId"] not in failed]
        self._delete(done)
        if failed:
            self._retry([message for message in messages if message["MessageId"] in failed])
        return failed

    def deliver(self, event: dict[str, Any]) -> set[str]:
        """Invoke the function with a batch and read its response as Lambda does.

        Args:
            event: The SQS event.

        Returns:
            The IDs of the failed messages: all of them if the invocation failed or the
            response cannot be read; those in ``batchItemFailures`` with
            ``ReportBatchItemFailures``; else none.
        """
        ids = [record["messageId"] for record in event["Records"]]
        function, queue = self.source.function, self.source.queue_name
        try:
            response = json.loads(json.dumps(self.worker.invoke(event, str(uuid.uuid4()))))
            failed: set[str] = set()
            if self.source.report_batch_item_failures:
                failed = failed_message_ids(response, ids)
        # The invocation failed, JSON cannot hold the response (Lambda: Runtime.MarshalError),
        # or it is no batch item failures response (BatchResponseError, a ValueError).
        except (InvocationError, TypeError, ValueError) as exc:
            logger.warning("%s: SQS batch failed: %d messages back to %s: %s",
                           function, len(ids), queue, exc)  # fmt: skip
            return set(ids)
        if failed:
            logger.warning("%s: SQS batch partly failed: %d of %d messages back to %s",
                           function, len(failed), len(ids), queue)  # fmt: skip
        else:
            logger.info("%s: SQS batch delivered: %d messages from %s", function, len(ids), queue)
        return failed

    def _delete(self, messages: Sequence[Mapping[str, Any]]) -> None:
        for chunk in _chunks(messages):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
            ]
            try:
                response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as exc:  # moto going away at shutdown
                logger.warning("%s: could not delete messages: %s", self.source.function, exc)
                continue
            for failure in response.get("Failed", []):
                logger.warning("%s: could not delete a message: %s", self.source.function,
                               failure.get("Message"))  # fmt: skip

    def _retry(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Make failed messages visible again, after `retry_delay_s` (no backoff locally)."""
        for message in messages:
            self._log_redrive(message)
        self._stopping.wait(self.retry_delay_s)
        for chunk in _chunks(messages):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ]
            try:
                self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as exc:  # moto going away at shutdown
                logger.warning("%s: could not return messages: %s", self.source.function, exc)

    def _log_redrive(self, message: Mapping[str, Any]) -> None:
        received = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 0))
        if self.max_receive_count is not None and received >= self.max_receive_count:
            logger.warning("%s: message %s failed %d times: to the dead-letter queue",
                           self.source.function, message["MessageId"], received)  # fmt: skip


def start_sqs_event_sources(
    sources: Iterable[SQSEventSource], workers: Mapping[str, Invoker], session: Any
) -> list[SQSEventPoller]:
    """Start a poller per enabled event source.

    Args:
        sources: The template's SQS event sources (their queues exist in moto).
        workers: The functions' workers, by logical ID.
        session: A ``boto3.Session`` bound to moto.

    Returns:
        The running pollers; `aiaas_dev.pollers.stop_pollers` them on shutdown.
    """
    sources = [source for source in sources if source.enabled]
    if not sources:
        return []
    sqs = session.client("sqs")
    pollers: list[SQSEventPoller] = []
    for source in sources:
        url = sqs.get_queue_url(QueueName=source.queue_name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
        policy = (attributes.get("Attributes") or {}).get("RedrivePolicy")
        max_receives = int(json.loads(policy)["maxReceiveCount"]) if policy else None
        poller = SQSEventPoller(
            source, workers[source.function], sqs, url, max_receive_count=max_receives
        )
        poller.start()
        pollers.append(poller)
    return pollers
