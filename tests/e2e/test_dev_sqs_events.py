"""The local stack's SQS event sources: queued messages invoke the functions in batches.

Runs the SQS fixture template: ``POST /messages`` queues bodies on the work queue,
``BatchFunction`` reads it in batches (window 1 s, ``ReportBatchItemFailures``; ``fail:*``
messages fail, ``forward:*`` go to the plain queue), its dead-letter queue takes what failed
``MaxReceives`` (3) times, and ``PlainFunction`` reads the plain queue (no partial responses;
``crash:*`` fails its first delivery). Tests read the table and queues on the moto endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningStack, moto_clients, start_stack
from tests.e2e.conftest import wait_for as poll

pytestmark = pytest.mark.e2e

SQS_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "sqs_template.yaml"
ACCOUNT = "123456789012"
WORK_QUEUE = "aiaas-local-WorkQueue"
DEAD_LETTER_QUEUE = "aiaas-local-DeadLetterQueue"
PLAIN_QUEUE = "aiaas-local-plain"
DELIVERY_S = 6.0  # the 1 s batching window, three times, and then some


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack(SQS_TEMPLATE)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def aws(stack: RunningStack) -> Callable[[str], Any]:
    return moto_clients(stack)


def wait_for(check: Callable[[], Any], timeout_s: float = DELIVERY_S) -> Any:
    """Poll ``check`` until it returns something truthy; ``None`` after ``timeout_s``."""
    return poll(check, timeout_s)


def seen(aws: Callable[[str], Any], pk: str) -> dict[str, Any] | None:
    """What the fixture's handlers recorded under ``pk``: deliveries, batch sizes, ..."""
    item = aws("dynamodb").get_item(TableName="SeenTable", Key={"pk": {"S": pk}}).get("Item")
    if item is None:
        return None
    return {
        "deliveries": [int(value["N"]) for value in item["deliveries"]["L"]],
        "batch_sizes": [int(value["N"]) for value in item["batch_sizes"]["L"]],
        "request_ids": set(item["request_ids"]["SS"]),
        "record": json.loads(item["last_record"]["S"]),
    }


def seen_all(aws: Callable[[str], Any], pks: list[str]) -> list[dict[str, Any]] | None:
    """What was recorded under each of ``pks``, or ``None`` until all are there."""
    items = [seen(aws, pk) for pk in pks]
    return [item for item in items if item is not None] if all(items) else None


def queue_url(aws: Callable[[str], Any], name: str) -> str:
    return str(aws("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def queue_empty(aws: Callable[[str], Any], name: str) -> bool:
    """No message visible or in flight."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=queue_url(aws, name), AttributeNames=names
    )["Attributes"]
    return all(attributes[name] == "0" for name in names)


def test_banner_lists_the_queues_and_event_sources(stack: RunningStack) -> None:
    output = stack.output()

    assert f"WorkQueue            {WORK_QUEUE} (visibility 30 s, DLQ {DEAD_LETTER_QUEUE}" in output
    assert "SQS event sources" in output
    assert (
        f"BatchFunction            {WORK_QUEUE}  (batch 10, window 1 s, ReportBatchItemFailures)"
        in output
    )
    assert f"PlainFunction            {PLAIN_QUEUE}  (batch 5)" in output
    assert "DeadLetterAlarm" not in output  # not emulated, without a warning
    assert "AlertTopic" not in output  # its condition is false


def test_http_messages_arrive_in_one_batch_and_are_deleted(
    stack: RunningStack, aws: Callable[[str], Any]
) -> None:
    assert stack.base_url is not None
    bodies = [f"ok:http-{index}" for index in range(4)]

    response = httpx.post(f"{stack.base_url}/messages", json=bodies, timeout=10)
    items = wait_for(lambda: seen_all(aws, [f"work:{body}" for body in bodies]))

    assert response.status_code == 202, response.text
    assert items is not None, stack.output()
    assert len(set().union(*(item["request_ids"] for item in items))) == 1  # one invocation
    assert all(item["deliveries"] == [1] and item["batch_sizes"] == [4] for item in items)
    record = items[0]["record"]
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "us-east-1")
    assert record["eventSourceARN"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{WORK_QUEUE}"
    assert record["messageAttributes"] == {
        "source": {
            "stringValue": "http",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"
    }  # fmt: skip
    assert wait_for(lambda: queue_empty(aws, WORK_QUEUE)), "the batch was not deleted"


def test_failed_item_is_retried_then_moved_to_the_dead_letter_queue(
    stack: RunningStack, aws: Callable[[str], Any]
) -> None:
    sqs = aws("sqs")
    sqs.send_message_batch(
        QueueUrl=queue_url(aws, WORK_QUEUE),
        Entries=[{"Id": "0", "MessageBody": "ok:partial"}, {"Id": "1", "MessageBody": "fail:dlq"}],
    )

    dead = wait_for(
        lambda: sqs.receive_message(
            QueueUrl=queue_url(aws, DEAD_LETTER_QUEUE), MessageSystemAttributeNames=["All"]
        ).get("Messages")
    )

    assert dead is not None, stack.output()
    assert [message["Body"] for message in dead] == ["fail:dlq"]
    failed, succeeded = seen(aws, "work:fail:dlq"), seen(aws, "work:ok:partial")
    assert failed is not None and succeeded is not None
    assert failed["deliveries"] == [1, 2, 3]  # ApproximateReceiveCount, up to maxReceiveCount
    assert succeeded["deliveries"] == [1]  # deleted, not retried with its batch
    assert queue_empty(aws, WORK_QUEUE)
    output = stack.output()
    assert "BatchFunction: SQS batch partly failed: 1 of 2 messages back to" in output
    assert "failed 3 times: to the dead-letter queue" in output


def test_forwarded_message_and_a_failed_plain_batch_are_retried_whole(
    stack: RunningStack, aws: Callable[[str], Any]
) -> None:
    aws("sqs").send_message(QueueUrl=queue_url(aws, WORK_QUEUE), MessageBody="forward:crash:x")

    item = wait_for(lambda: seen(aws, "plain:crash:x"))

    assert item is not None, stack.output()
    assert item["deliveries"] == [2]  # the first delivery raised: the batch came back
    assert item["record"]["eventSourceARN"].endswith(f":{PLAIN_QUEUE}")
    assert wait_for(lambda: queue_empty(aws, PLAIN_QUEUE))
    output = stack.output()
    assert "PlainFunction: SQS batch failed: 1 messages back to aiaas-local-plain" in output
    assert "RuntimeError: crashing on the first delivery, as asked" in output
