"""S3 event sources: parsed from a template, turned into bucket notifications, polled."""

from __future__ import annotations

import json
import logging
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
from aiaas_dev.pollers import stop_pollers
from aiaas_dev.s3_events import S3EventSource, notification_configuration, queue_configuration
from aiaas_dev.s3_poller import S3EventPoller, s3_event, start_s3_event_sources
from aiaas_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
S3_TEMPLATE = ROOT / "tests" / "fixtures" / "s3_template.yaml"
BUCKET = "aiaas-local-modelsbucket"


def template_with(
    tmp_path: Path, *events: dict[str, Any], bucket_type: str = "AWS::S3::Bucket"
) -> Path:
    """A template: bucket ``Files``, function ``Fn`` with ``events`` as E0, E1, ..."""
    document = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Files": {"Type": bucket_type, "Properties": {"BucketName": "files"}},
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "app/",
                    "Handler": "app.handler",
                    "Runtime": "python3.12",
                    "Events": {
                        f"E{i}": {"Type": "S3", "Properties": props}
                        for i, props in enumerate(events)
                    },
                },
            },
        },
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(document).replace("REF_FILES", "!Ref Files"))
    return path


def test_fixture_template_sources() -> None:
    sources = load_template(S3_TEMPLATE).s3_events

    assert sources == (
        S3EventSource(
            function="RecordFunction",
            name="Upload",
            bucket_id="ModelsBucket",
            bucket=BUCKET,
            events=("s3:ObjectCreated:*",),  # a list
            rules=(("prefix", "uploads/"), ("suffix", ".onnx")),
        ),
        S3EventSource(
            function="FailFunction",
            name="Broken",
            bucket_id="ModelsBucket",
            bucket=BUCKET,
            events=("s3:ObjectCreated:Put",),  # a string
            rules=(("prefix", "fail/"),),
        ),
    )
    assert sources[0].queue_name == "aiaas-local-RecordFunction-Upload"
    assert sources[0].describe() == (
        f"RecordFunction           s3://{BUCKET}  s3:ObjectCreated:*  "
        "(prefix uploads/, suffix .onnx)"
    )


def test_rule_names_ignore_case_and_filter_is_optional(tmp_path: Path) -> None:
    path = template_with(
        tmp_path,
        {"Bucket": "REF_FILES", "Events": "s3:ObjectRemoved:*"},
        {
            "Bucket": "REF_FILES",
            "Events": ["s3:ObjectCreated:Put", "s3:ObjectCreated:Post"],
            "Filter": {"S3Key": {"Rules": [{"Name": "Suffix", "Value": ".bin"}]}},
        },
    )

    first, second = load_template(path).s3_events

    assert (first.bucket, first.events, first.rules) == ("files", ("s3:ObjectRemoved:*",), ())
    assert second.rules == (("suffix", ".bin"),)
    assert second.matches("ObjectCreated:Post", "a/b.bin")
    assert not second.matches("s3:ObjectCreated:Copy", "a/b.bin")
    assert not second.matches("s3:ObjectCreated:Put", "a/b.txt")
    assert first.matches("s3:ObjectRemoved:Delete", "anything")


@pytest.mark.parametrize(
    ("events", "bucket_type", "message"),
    [
        ([{"Bucket": "files", "Events": "s3:ObjectCreated:*"}], None, "Bucket must be !Ref"),
        ([{"Bucket": "REF_FILES", "Events": "s3:ObjectCreated:*"}], "AWS::SQS::Queue", "Bucket"),
        ([{"Bucket": "REF_FILES"}], None, "Events must be"),
        (
            [
                {
                    "Bucket": "REF_FILES",
                    "Events": "s3:ObjectCreated:*",
                    "Filter": {"S3Key": {"Rules": [{"Name": "glob", "Value": "*"}]}},
                }
            ],
            None,
            "prefix|suffix",
        ),
        (  # S3 refuses two configurations that could match the same event
            [
                {"Bucket": "REF_FILES", "Events": "s3:ObjectCreated:*"},
                {
                    "Bucket": "REF_FILES",
                    "Events": ["s3:ObjectCreated:Put"],
                    "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "a/"}]}},
                },
            ],
            None,
            "overlap",
        ),
    ],
)
def test_invalid_event_sources(
    tmp_path: Path, events: list[dict[str, Any]], bucket_type: str | None, message: str
) -> None:
    path = template_with(tmp_path, *events, bucket_type=bucket_type or "AWS::S3::Bucket")

    with pytest.raises(TemplateError, match=message):
        load_template(path)


def test_disjoint_filters_on_one_bucket_are_fine(tmp_path: Path) -> None:
    def prefixed(prefix: str) -> dict[str, Any]:
        rules = [{"Name": "prefix", "Value": prefix}]
        return {
            "Bucket": "REF_FILES",
            "Events": "s3:ObjectCreated:*",
            "Filter": {"S3Key": {"Rules": rules}},
        }

    assert (
        len(load_template(template_with(tmp_path, prefixed("a/"), prefixed("b/"))).s3_events) == 2
    )


def test_notification_configuration_per_bucket() -> None:
    record, fail = load_template(S3_TEMPLATE).s3_events
    arns = {record.configuration_id: "arn:q1", fail.configuration_id: "arn:q2"}

    assert notification_configuration([record, fail], arns) == {
        BUCKET: {
            "QueueConfigurations": [
                {
                    "Id": "RecordFunction-Upload",
                    "QueueArn": "arn:q1",
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": "uploads/"},
                                {"Name": "suffix", "Value": ".onnx"},
                            ]
                        }
                    },
                },
                queue_configuration(fail, "arn:q2"),
            ]
        }
    }
    assert "Filter" not in queue_configuration(
        S3EventSource("F", "E", "B", "b", ("s3:ObjectCreated:*",)), "arn:q"
    )


def test_s3_event_skips_test_events_and_completes_records() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}
    moto_record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "F-E",
            "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
            "object": {"key": "uploads%2Fa+b%2Bc.onnx", "size": 3, "eTag": "x"},
        },
    }

    event = s3_event(json.dumps({"Records": [moto_record]}))

    assert s3_event(json.dumps(test_event)) is None
    assert event is not None
    (record,) = event["Records"]
    assert record["s3"]["object"]["key"] == "uploads/a+b%2Bc.onnx"  # "/" kept, as S3 does
    assert {"userIdentity", "requestParameters", "responseElements"} <= record.keys()
    assert record["s3"]["bucket"]["ownerIdentity"]["principalId"]
    assert record["s3"]["object"]["sequencer"]
    assert record["eventTime"] == moto_record["eventTime"]


class FakeWorker:
    """Records invocations; raises for keys containing ``fail``."""

    def __init__(self) -> None:
        self.spec = type("Spec", (), {"timeout_s": 1.0, "logical_id": "Fn"})()
        self.calls: list[tuple[str, str]] = []

    def invoke(self, event: dict[str, Any], request_id: str) -> None:
        key = event["Records"][0]["s3"]["object"]["key"]
        self.calls.append((key, request_id))
        if "fail" in key:
            raise InvocationError("failing")


def test_deliver_retries_twice_then_drops(caplog: pytest.LogCaptureFixture) -> None:
    worker = FakeWorker()
    source = S3EventSource("Fn", "E", "B", "b", ("s3:ObjectCreated:*",))
    poller = S3EventPoller(source, worker, None, "url", retry_delay_s=0)  # type: ignore[arg-type]
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "fail/x"}},
            }
        ]
    }

    with caplog.at_level(logging.INFO, logger="aiaas_dev"):
        delivered = poller.deliver(event)

    assert delivered is False
    assert len(worker.calls) == 3 and len({request_id for _, request_id in worker.calls}) == 1
    assert "Fn: S3 event failed (attempt 3 of 3): ObjectCreated:Put s3://b/fail/x" in caplog.text
    assert "Fn: S3 event dropped after 3 attempts" in caplog.text


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def test_pollers_deliver_uploads_in_moto(session: Any) -> None:
    template = load_template(S3_TEMPLATE)
    provision_resources(template, session)
    record, fail = FakeWorker(), FakeWorker()
    pollers = start_s3_event_sources(
        template.s3_events,
        {"RecordFunction": record, "FailFunction": fail},  # type: ignore[dict-item]
        session,
    )
    s3 = session.client("s3")
    try:
        for key in ["uploads/a b.onnx", "uploads/a.txt", "fail/x", "elsewhere/a.onnx"]:
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
        assert all(poller.wait_idle(10) for poller in pollers)
    finally:
        stop_pollers(pollers)

    assert [key for key, _ in record.calls] == ["uploads/a+b.onnx"]
    assert [key for key, _ in fail.calls] == ["fail/x"] * 3
    configuration = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    assert [c["Id"] for c in configuration["QueueConfigurations"]] == [
        "RecordFunction-Upload",
        "FailFunction-Broken",
    ]
