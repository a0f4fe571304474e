"""SQS event sources: parsed from a template, events built, responses read, queues polled."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from aiaas_dev.aws import provision_resources
from aiaas_dev.cfn import TemplateError
from aiaas_dev.invoker import InvocationError
from aiaas_dev.pollers import stop_pollers, wait_all_idle
from aiaas_dev.sqs_batch import BatchResponseError, failed_message_ids, sqs_event, sqs_record
from aiaas_dev.sqs_events import SQSEventSource
from aiaas_dev.sqs_poller import SQSEventPoller, start_sqs_event_sources
from aiaas_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SQS_TEMPLATE = ROOT / "tests" / "fixtures" / "sqs_template.yaml"
ARN_PREFIX = "arn:aws:sqs:us-east-1:123456789012:"


def template_with(
    tmp_path: Path,
    *events: dict[str, Any],
    queue: dict[str, Any] | None = None,
    timeout: int = 3,
) -> Path:
    """A template: queue ``Jobs``, bucket ``Files``, function ``Fn`` with ``events`` as E0, E1."""
    document = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Jobs": {"Type": "AWS::SQS::Queue", "Properties": queue or {}},
            "Files": {"Type": "AWS::S3::Bucket"},
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "app/",
                    "Handler": "app.handler",
                    "Runtime": "python3.12",
                    "Timeout": timeout,
                    "Events": {
                        f"E{i}": {"Type": "SQS", "Properties": props}
                        for i, props in enumerate(events)
                    },
                },
            },
        },
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def jobs_arn() -> dict[str, Any]:
    return {"Fn::GetAtt": ["Jobs", "Arn"]}


def test_fixture_template_sources() -> None:
    batch, plain = load_template(SQS_TEMPLATE).sqs_events

    assert batch == SQSEventSource(
        function="BatchFunction",
        name="Work",
        queue_id="WorkQueue",
        queue_name="aiaas-local-WorkQueue",
        queue_arn=f"{ARN_PREFIX}aiaas-local-WorkQueue",
        batch_size=10,
        batching_window_s=1,
        report_batch_item_failures=True,
    )
    assert (plain.queue_name, plain.batch_size, plain.batching_window_s) == (
        "aiaas-local-plain",  # QueueName: !Sub ${AWS::StackName}-plain
        5,
        0,
    )
    assert not plain.report_batch_item_failures
    assert plain.describe() == "PlainFunction            aiaas-local-plain  (batch 5)"


def test_defaults_string_arn_form_and_disabled(tmp_path: Path) -> None:
    path = template_with(
        tmp_path, {"Queue": {"Fn::GetAtt": "Jobs.Arn"}}, {"Queue": jobs_arn(), "Enabled": False}
    )

    first, second = load_template(path).sqs_events

    assert (first.batch_size, first.batching_window_s, first.enabled) == (10, 0, True)
    assert not second.enabled
    assert second.describe().endswith("(batch 10, disabled)")


@pytest.mark.parametrize(
    ("props", "queue", "timeout", "message"),
    [
        ({"Queue": "arn:aws:sqs:us-east-1:123456789012:jobs"}, None, 3, "Queue must be !GetAtt"),
        ({"Queue": {"Fn::GetAtt": ["Files", "Arn"]}}, None, 3, "Queue must be !GetAtt"),
        ({"Queue": {"Fn::GetAtt": ["Jobs", "QueueName"]}}, None, 3, "Queue must be !GetAtt"),
        ({"Queue": {"Ref": "Jobs"}}, None, 3, "Queue must be !GetAtt"),
        ({"Queue": jobs_arn(), "BatchSize": 11}, None, 3, "BatchSize must be 1 to 10 without"),
        ({"Queue": jobs_arn(), "BatchSize": 0}, None, 3, "BatchSize must be 1 to 10"),
        ({"Queue": jobs_arn(), "BatchSize": "many"}, None, 3, "BatchSize must be an integer"),
        (
            {"Queue": jobs_arn(), "MaximumBatchingWindowInSeconds": 301},
            None,
            3,
            "0 to 300",
        ),
        (
            {"Queue": jobs_arn(), "FunctionResponseTypes": ["Everything"]},
            None,
            3,
            "FunctionResponseTypes may only hold ReportBatchItemFailures",
        ),
        (
            {"Queue": jobs_arn(), "MaximumBatchingWindowInSeconds": 1},
            {"FifoQueue": True},
            3,
            "FIFO queue takes no MaximumBatchingWindowInSeconds",
        ),
        ({"Queue": jobs_arn()}, None, 60, r"VisibilityTimeout \(30 s\) is shorter than"),
        (
            {"Queue": jobs_arn()},
            {"VisibilityTimeout": 100},
            300,
            r"VisibilityTimeout \(100 s\) is shorter than the function's Timeout \(300 s\)",
        ),
    ],
)
def test_invalid_event_sources(
    tmp_path: Path,
    props: dict[str, Any],
    queue: dict[str, Any] | None,
    timeout: int,
    message: str,
) -> None:
    path = template_with(tmp_path, props, queue=queue, timeout=timeout)

    with pytest.raises(TemplateError, match=message):
        load_template(path)


def test_big_batches_with_a_window_and_fifo_names(tmp_path: Path) -> None:
    path = template_with(
        tmp_path,
        {"Queue": jobs_arn(), "BatchSize": 500, "MaximumBatchingWindowInSeconds": 5},
        queue={"FifoQueue": True, "VisibilityTimeout": 60},
    )

    with pytest.raises(TemplateError, match="FIFO"):
        load_template(path)
    fifo = load_template(template_with(tmp_path, {"Queue": jobs_arn()}, queue={"FifoQueue": True}))
    (source,) = fifo.sqs_events
    assert (source.queue_name, source.fifo) == ("aiaas-local-Jobs.fifo", True)
    (big,) = load_template(
        template_with(
            tmp_path, {"Queue": jobs_arn(), "BatchSize": 500, "MaximumBatchingWindowInSeconds": 5}
        )
    ).sqs_events
    assert (big.batch_size, big.batching_window_s) == (500, 5)


def test_unsupported_properties_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = template_with(
        tmp_path,
        {
            "Queue": jobs_arn(),
            "FilterCriteria": {"Filters": [{"Pattern": "{}"}]},
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    )

    with caplog.at_level(logging.WARNING, logger="aiaas_dev"):
        load_template(path)

    assert "Fn event E0: FilterCriteria is not applied locally" in caplog.text
    assert "ScalingConfig" not in caplog.text  # one batch at a time locally anyway


MESSAGE = {
    "MessageId": "m-1",
    "ReceiptHandle": "handle-1",
    "MD5OfBody": "md5",
    "Body": '{"a": 1}',
    "Attributes": {
        "SenderId": "AIDA",
        "SentTimestamp": "1700000000000",
        "ApproximateReceiveCount": "2",
        "ApproximateFirstReceiveTimestamp": "1700000000001",
        "MessageGroupId": "g",
        "MessageDeduplicationId": "d",
        "SequenceNumber": "1",
    },
    "MD5OfMessageAttributes": "md5-attributes",
    "MessageAttributes": {
        "kind": {"StringValue": "chunk", "DataType": "String"},
        "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
        "count": {"StringValue": "3", "DataType": "Number.int"},
    },
}


def test_record_has_lambdas_shape() -> None:
    record = sqs_record(MESSAGE, f"{ARN_PREFIX}jobs.fifo")

    assert list(record) == [
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion",
    ]  # fmt: skip
    assert record["attributes"] == {
        "ApproximateReceiveCount": "2",
        "SentTimestamp": "1700000000000",
        "SenderId": "AIDA",
        "ApproximateFirstReceiveTimestamp": "1700000000001",
        "SequenceNumber": "1",
        "MessageGroupId": "g",
        "MessageDeduplicationId": "d",
    }
    assert record["messageAttributes"] == {
        "kind": {
            "stringValue": "chunk",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
        "count": {
            "stringValue": "3",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number.int",
        },
    }
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "us-east-1")
    assert record["eventSourceARN"] == f"{ARN_PREFIX}jobs.fifo"
    plain = {key: value for key, value in MESSAGE.items() if "MessageAttributes" not in key}
    assert sqs_record(plain, "arn")["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in sqs_record(plain, "arn")
    assert [r["messageId"] for r in sqs_event([MESSAGE, MESSAGE], "arn")["Records"]] == ["m-1"] * 2


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}, {"a", "b"}),
    ],
)
def test_batch_item_failures(response: Any, failed: set[str]) -> None:
    assert failed_message_ids(response, ["a", "b", "c"]) == failed


@pytest.mark.parametrize(
    "response",
    [
        "ok",
        [],
        {"batchItemFailures": "b"},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "b"}]},
        {"batchItemFailures": [{"itemIdentifier": "unknown"}]},
        {"batchItemFailures": ["b"]},
    ],
)
def test_malformed_responses_fail_the_whole_batch(response: Any) -> None:
    with pytest.raises(BatchResponseError):
        failed_message_ids(response, ["a", "b", "c"])


class FakeWorker:
    """Records each batch's bodies and receive counts; answers by the bodies.

    ``fail:*`` are reported as failed; ``raise`` anywhere in a batch raises; ``bad`` answers
    with an unknown ``itemIdentifier``; ``set`` answers with something JSON cannot hold.
    """

    def __init__(self) -> None:
        self.spec = type("Spec", (), {"timeout_s": 1.0, "logical_id": "Fn"})()
        self.batches: list[list[tuple[str, str]]] = []
        self.lock = threading.Lock()

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        records = event["Records"]
        with self.lock:
            self.batches.append(
                [(r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in records]
            )
        bodies = [record["body"] for record in records]
        if "raise" in bodies:
            raise InvocationError("failing")
        if "bad" in bodies:
            return {"batchItemFailures": [{"itemIdentifier": "unknown"}]}
        if "set" in bodies:
            return {"batchItemFailures": {1, 2}}
        failed = [r["messageId"] for r in records if r["body"].startswith("fail:")]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def source(*, report: bool = True) -> SQSEventSource:
    return SQSEventSource(
        "Fn", "E", "Jobs", "jobs", f"{ARN_PREFIX}jobs", report_batch_item_failures=report
    )


def event_of(*bodies: str) -> dict[str, Any]:
    attributes = {"ApproximateReceiveCount": "1"}
    records = [{"messageId": f"id-{b}", "body": b, "attributes": attributes} for b in bodies]
    return {"Records": records}


@pytest.mark.parametrize(
    ("bodies", "report", "failed", "log"),
    [
        (["ok:1", "ok:2"], True, set(), "Fn: SQS batch delivered: 2 messages from jobs"),
        (["ok:1", "fail:2"], True, {"id-fail:2"}, "partly failed: 1 of 2 messages back to jobs"),
        (["ok:1", "fail:2"], False, set(), "SQS batch delivered"),  # the response is ignored
        (["ok:1", "raise"], True, {"id-ok:1", "id-raise"}, "SQS batch failed: 2 messages"),
        (["ok:1", "raise"], False, {"id-ok:1", "id-raise"}, "back to jobs: failing"),
        (["ok:1", "bad"], True, {"id-ok:1", "id-bad"}, "not a message of the batch"),
        (["set"], False, {"id-set"}, "is not JSON serializable"),
    ],
)
def test_deliver_reads_the_response_as_lambda_does(
    caplog: pytest.LogCaptureFixture,
    bodies: list[str],
    report: bool,
    failed: set[str],
    log: str,
) -> None:
    poller = SQSEventPoller(source(report=report), FakeWorker(), None, "url")  # type: ignore[arg-type]

    with caplog.at_level(logging.INFO, logger="aiaas_dev"):
        assert poller.deliver(event_of(*bodies)) == failed

    assert log in caplog.text


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def test_pollers_delete_retry_and_dead_letter_in_moto(
    session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the fixture's queues in moto (work queue: DLQ after 3 receives) and fake workers
    template = load_template(SQS_TEMPLATE)
    provision_resources(template, session)
    sqs = session.client("sqs")
    work = sqs.get_queue_url(QueueName="aiaas-local-WorkQueue")["QueueUrl"]
    bodies = ["ok:1", "fail:2", "ok:3"]
    sqs.send_message_batch(
        QueueUrl=work, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )
    batch, plain = FakeWorker(), FakeWorker()

    # When the pollers run until the pipeline is quiet
    with caplog.at_level(logging.INFO, logger="aiaas_dev"):
        pollers = start_sqs_event_sources(
            template.sqs_events,
            {"BatchFunction": batch, "PlainFunction": plain},  # type: ignore[dict-item]
            session,
        )
        try:
            assert wait_all_idle(pollers, 15)
        finally:
            stop_pollers(pollers)

    # Then the three arrived in one batch, the failed one came back alone until the DLQ took it
    assert batch.batches == [
        [("ok:1", "1"), ("fail:2", "1"), ("ok:3", "1")],
        [("fail:2", "2")],
        [("fail:2", "3")],
    ]
    assert plain.batches == []
    dlq = sqs.get_queue_url(QueueName="aiaas-local-DeadLetterQueue")["QueueUrl"]
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in dead] == ["fail:2"]
    assert "BatchFunction: message" in caplog.text
    assert "failed 3 times: to the dead-letter queue" in caplog.text


def test_whole_batch_comes_back_after_an_error(session: Any) -> None:
    sqs = session.client("sqs")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    worker = FakeWorker()
    poller = SQSEventPoller(source(report=False), worker, sqs, url, retry_delay_s=0)  # type: ignore[arg-type]
    sqs.send_message(QueueUrl=url, MessageBody="raise")
    messages = sqs.receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]

    failed = poller.process(messages)

    assert failed == {messages[0]["MessageId"]}
    again = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"  # visible at once, again


class FlakyPoller:
    """Busy for its first ``busy`` checks."""

    def __init__(self, busy: int) -> None:
        self.busy = busy

    def idle(self) -> bool:
        self.busy -= 1
        return self.busy < 0

    def stop(self, *, wait: bool = True, timeout_s: float = 5.0) -> None:
        """Nothing to stop."""


def test_wait_all_idle_needs_two_quiet_rounds_in_a_row() -> None:
    quiet, busy = FlakyPoller(0), FlakyPoller(2)

    assert wait_all_idle([quiet, busy], 5)
    assert busy.busy == -2  # busy twice, then idle twice in a row
    assert not wait_all_idle([FlakyPoller(1000)], 0.05)
