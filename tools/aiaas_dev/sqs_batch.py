"""One batch of an SQS event source: the event Lambda builds, the response it reads back.

The records carry what Lambda's SQS event source writes: the message, its system attributes,
its message attributes in lower camel case (binary values in base64), the queue's ARN. With
``ReportBatchItemFailures`` the function answers ``{"batchItemFailures": [{"itemIdentifier":
messageId}, ...]}``; a response Lambda cannot read fails the whole batch.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiaas_dev.resources import REGION

# The system attributes Lambda passes on, in the order it writes them.
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


class BatchResponseError(ValueError):
    """The function's response is not a batch item failures response Lambda can read."""


def _base64(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda writes it: lower camel case, binary values in base64.

    Args:
        value: The attribute as ``ReceiveMessage`` gives it (``DataType``, ``StringValue`` ...).

    Returns:
        ``{"stringValue"?, "binaryValue"?, "stringListValues", "binaryListValues", "dataType"}``.
    """
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues", [])]
    attribute["dataType"] = value["DataType"]
    return attribute


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One message as a record of Lambda's SQS event.

    Args:
        message: A message from ``ReceiveMessage`` (all system and message attributes).
        queue_arn: The queue it came from.

    Returns:
        ``messageId``, ``receiptHandle``, ``body``, ``attributes``, ``messageAttributes``,
        ``md5OfBody`` (``md5OfMessageAttributes`` if it has some), ``eventSource``,
        ``eventSourceARN``, ``awsRegion``.
    """
    system = message.get("Attributes") or {}
    attributes = message.get("MessageAttributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: system[name] for name in RECORD_ATTRIBUTES if name in system},
        "messageAttributes": {name: message_attribute(v) for name, v in attributes.items()},
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": REGION})
    return record


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda invokes the function with for one batch: ``{"Records": [...]}``."""
    return {"Records": [sqs_record(message, queue_arn) for message in messages]}


def failed_message_ids(response: Any, message_ids: Sequence[str]) -> set[str]:
    """The messages a ``ReportBatchItemFailures`` response names as failed.

    Args:
        response: What the function returned (after a JSON round trip).
        message_ids: The batch's message IDs.

    Returns:
        The failed IDs; none for ``None``, ``{}``, or a null or empty ``batchItemFailures``.

    Raises:
        BatchResponseError: The response is not an object, ``batchItemFailures`` is not a
            list, or an item has no ``itemIdentifier`` naming a message of the batch; Lambda
            then retries the whole batch.
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise BatchResponseError(f"the response is not a JSON object: {response!r}")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise BatchResponseError(f"batchItemFailures is not a list: {failures!r}")
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            raise BatchResponseError(f"not a message of the batch: {item!r}")
        failed.add(identifier)
    return failed
