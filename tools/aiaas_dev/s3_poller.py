"""S3 event sources run locally: bucket notifications to SQS in moto, a poller per source.

S3 invokes a function asynchronously. Here each event source gets an SQS queue in moto and a
``QueueConfigurations`` entry on its bucket (its events and key filter); a poller thread
long-polls the queue, skips the ``s3:TestEvent`` S3 sends first, completes the record to what
S3 sends Lambda and invokes the handler through the function's worker (one invocation at a
time, shared with the HTTP routes). As Lambda's asynchronous invoke, a failed invocation is
tried twice more, then the event is dropped; the message is deleted either way. Every
outcome is logged: ``S3 event delivered``, ``S3 event failed``, ``S3 event dropped``.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from aiaas_dev.invoker import InvocationError, Invoker
from aiaas_dev.pollers import QueuePoller
from aiaas_dev.resources import ACCOUNT_ID
from aiaas_dev.s3_events import S3EventSource, decode_key, encode_key, notification_configuration

logger = logging.getLogger(__name__)

ASYNC_ATTEMPTS = 3  # Lambda's asynchronous invoke: the first try and two retries
RETRY_DELAY_S = 0.1  # Lambda waits a minute, then two; locally there is no reason to
WAIT_TIME_S = 1  # SQS long polling (an empty poll takes 1-2 s in moto)
_sequencer = itertools.count(0x0055AED6DCD90281E5)


def s3_event(body: str) -> dict[str, Any] | None:
    """The S3 event in a notification message, completed; ``None`` for ``s3:TestEvent``.

    Args:
        body: The SQS message body, as S3 (moto) sent it.

    Returns:
        ``{"Records": [...]}`` as Lambda gets it from S3 (see `complete_record`).
    """
    message = json.loads(body)
    if message.get("Event") == "s3:TestEvent":
        return None
    return {"Records": [complete_record(record) for record in message["Records"]]}


def complete_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Add what S3 puts in a record and moto leaves out; the key encoded as S3 encodes it.

    Args:
        record: One record from moto's notification.

    Returns:
        The record with ``userIdentity``, ``requestParameters``, ``responseElements``,
        the bucket's ``ownerIdentity`` and the object's ``sequencer``; the object key
        ``quote_plus``-encoded with ``/`` kept (moto also encodes ``/``).
    """
    completed = json.loads(json.dumps(record))
    principal = {"principalId": f"AWS:{ACCOUNT_ID}"}
    completed.setdefault("userIdentity", principal)
    completed.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
    request_id = uuid.uuid4().hex[:16].upper()
    completed.setdefault(
        "responseElements", {"x-amz-request-id": request_id, "x-amz-id-2": uuid.uuid4().hex}
    )
    s3 = completed["s3"]
    s3["bucket"].setdefault("ownerIdentity", {"principalId": ACCOUNT_ID})
    s3["object"]["key"] = encode_key(decode_key(s3["object"]["key"]))
    s3["object"].setdefault("sequencer", f"{next(_sequencer):018X}")
    return completed  # type: ignore[no-any-return]


def describe(event: Mapping[str, Any]) -> str:
    """``ObjectCreated:Put s3://bucket/key`` (key decoded) for the log lines."""
    parts = []
    for record in event.get("Records", []):
        s3 = record["s3"]
        key = decode_key(s3["object"]["key"])
        parts.append(f"{record['eventName']} s3://{s3['bucket']['name']}/{key}")
    return "; ".join(parts)


class S3EventPoller(QueuePoller):
    """Receives one event source's notifications and invokes its function with them."""

    def __init__(
        self,
        source: S3EventSource,
        worker: Invoker,
        sqs: Any,
        queue_url: str,
        *,
        attempts: int = ASYNC_ATTEMPTS,
        retry_delay_s: float = RETRY_DELAY_S,
    ) -> None:
        """Create the poller (call `start`).

        Args:
            source: The event source.
            worker: The function's execution environment.
            sqs: A boto3 SQS client bound to moto.
            queue_url: The source's queue.
            attempts: Invocations per event before it is dropped.
            retry_delay_s: Pause before a retry.
        """
        super().__init__(sqs, queue_url, f"s3-{source.configuration_id}")
        self.source = source
        self.worker = worker
        self.attempts = attempts
        self.retry_delay_s = retry_delay_s

    def _run(self) -> None:
        visibility_s = math.ceil(self.attempts * (self.worker.spec.timeout_s + 1)) + 30
        while not self._stopping.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=WAIT_TIME_S,
                    VisibilityTimeout=visibility_s,
                ).get("Messages", [])
            except Exception as exc:  # moto going away at shutdown, or a hiccup
                if not self._stopping.wait(0.5):
                    logger.warning("%s: polling failed: %s", self.source.configuration_id, exc)
                continue
            for message in messages:
                self._handle(message)

    def _handle(self, message: Mapping[str, Any]) -> None:
        try:
            event = s3_event(message["Body"])
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("%s: not an S3 event, dropped: %s", self.source.function, exc)
            event = None
        if event is not None:
            self.deliver(event)
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as exc:  # moto going away at shutdown
            logger.warning("%s: could not delete the message: %s", self.source.function, exc)

    def deliver(self, event: dict[str, Any]) -> bool:
        """Invoke the function with ``event``, retrying as Lambda's asynchronous invoke does.

        Args:
            event: The S3 event.

        Returns:
            Whether an attempt succeeded; else the event was dropped (and logged).
        """
        request_id = str(uuid.uuid4())  # retries keep the request ID, as in Lambda
        function, what = self.source.function, describe(event)
        for attempt in range(1, self.attempts + 1):
            try:
                self.worker.invoke(event, request_id)
            except InvocationError as exc:
                logger.warning(
                    "%s: S3 event failed (attempt %d of %d): %s: %s",
                    function, attempt, self.attempts, what, exc,
                )  # fmt: skip
                if attempt < self.attempts and self._stopping.wait(self.retry_delay_s):
                    break
                continue
            logger.info(
                "%s: S3 event delivered (attempt %d of %d): %s",
                function, attempt, self.attempts, what,
            )  # fmt: skip
            return True
        logger.error("%s: S3 event dropped after %d attempts: %s", function, attempt, what)
        return False


def start_s3_event_sources(
    sources: Iterable[S3EventSource], workers: Mapping[str, Invoker], session: Any
) -> list[S3EventPoller]:
    """Create the queues, put the buckets' notifications, start a poller per source.

    Args:
        sources: The template's S3 event sources (their buckets exist in moto).
        workers: The functions' workers, by logical ID.
        session: A ``boto3.Session`` bound to moto.

    Returns:
        The running pollers; `S3EventPoller.stop` each on shutdown.
    """
    sources = list(sources)
    if not sources:
        return []
    sqs, s3 = session.client("sqs"), session.client("s3")
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for source in sources:
        url = sqs.create_queue(QueueName=source.queue_name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        urls[source.configuration_id] = url
        arns[source.configuration_id] = attributes["Attributes"]["QueueArn"]
    for bucket, configuration in notification_configuration(sources, arns).items():
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=configuration
        )
    pollers = [
        S3EventPoller(source, workers[source.function], sqs, urls[source.configuration_id])
        for source in sources
    ]
    for poller in pollers:
        poller.start()
    return pollers
