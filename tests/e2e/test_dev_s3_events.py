"""The local stack's S3 event sources: uploads to moto invoke the functions, as deployed.

Runs the S3 fixture template: ``RecordFunction`` stores the records it gets for
``uploads/*.onnx`` (any ``ObjectCreated``), ``FailFunction`` fails on every ``fail/*`` PUT,
and ``GET /seen`` (behind a Lambda authorizer) lists what was stored. Clients upload to the
moto endpoint the stack prints, with plain HTTP (presigned POST and PUT) or boto3.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningStack, moto_clients, start_stack
from tests.e2e.conftest import wait_for as poll

pytestmark = pytest.mark.e2e

S3_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "s3_template.yaml"
BUCKET = "aiaas-local-modelsbucket"
DELIVERY_S = 2.0  # an upload reaches the function within this


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack(S3_TEMPLATE)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def aws(stack: RunningStack) -> Callable[[str], Any]:
    return moto_clients(stack)


def wait_for(check: Callable[[], Any], timeout_s: float = DELIVERY_S) -> Any:
    """Poll ``check`` until it returns something truthy; ``None`` after ``timeout_s``."""
    return poll(check, timeout_s)


def seen(aws: Callable[[str], Any], pk: str) -> Any:
    """The item the fixture's handlers stored under ``pk``, or ``None``."""
    return aws("dynamodb").get_item(TableName="SeenTable", Key={"pk": {"S": pk}}).get("Item")


def test_banner_lists_the_event_sources(stack: RunningStack) -> None:
    output = stack.output()

    assert "S3 event sources" in output
    assert re.search(
        rf"RecordFunction +s3://{BUCKET}  s3:ObjectCreated:\*  \(prefix uploads/, suffix .onnx\)",
        output,
    )
    assert f"FailFunction             s3://{BUCKET}  s3:ObjectCreated:Put  (prefix fail/)" in output


def test_presigned_post_invokes_the_function(aws: Callable[[str], Any]) -> None:
    key = "uploads/a b+c.onnx"
    post = aws("s3").generate_presigned_post(BUCKET, key)

    started = time.monotonic()
    response = httpx.post(post["url"], data=post["fields"], files={"file": ("m", b"onnx")})
    item = wait_for(lambda: seen(aws, f"{BUCKET}/{key}"))

    assert response.status_code == 204, response.text
    assert item is not None, "no S3 event within 2 s"
    assert time.monotonic() - started < DELIVERY_S
    assert item["event_name"]["S"] == "ObjectCreated:Post"
    assert item["raw_key"]["S"] == "uploads/a+b%2Bc.onnx"  # quote_plus, as S3 sends it
    assert (item["bucket"]["S"], item["size"]["N"]) == (BUCKET, "4")
    assert item["configuration_id"]["S"] == "RecordFunction-Upload"
    assert item["has_sequencer"]["BOOL"] is True


def test_put_object_and_presigned_put_invoke_only_for_matching_keys(
    aws: Callable[[str], Any],
) -> None:
    s3 = aws("s3")
    for key in ["uploads/model.txt", "other/model.onnx", "uploads.onnx"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": "uploads/ü.onnx"}
    )
    assert httpx.put(url, content=b"abc").status_code == 200
    s3.put_object(Bucket=BUCKET, Key="uploads/last.onnx", Body=b"x")

    # Notifications are queued in upload order: once the last is in, the others were handled.
    assert wait_for(lambda: seen(aws, f"{BUCKET}/uploads/last.onnx"))
    put = seen(aws, f"{BUCKET}/uploads/ü.onnx")
    assert put is not None and put["event_name"]["S"] == "ObjectCreated:Put"
    assert put["raw_key"]["S"] == "uploads/%C3%BC.onnx"
    for key in ["uploads/model.txt", "other/model.onnx", "uploads.onnx"]:
        assert seen(aws, f"{BUCKET}/{key}") is None, key


def test_failing_function_is_tried_three_times_then_dropped(
    stack: RunningStack, aws: Callable[[str], Any]
) -> None:
    aws("s3").put_object(Bucket=BUCKET, Key="fail/one", Body=b"x")

    dropped = "FailFunction: S3 event dropped after 3 attempts: ObjectCreated:Put"
    assert wait_for(lambda: dropped in stack.output(), timeout_s=5), stack.output()
    item = seen(aws, "fail:fail/one")
    assert item["attempts"]["N"] == "3"
    assert len(item["request_ids"]["SS"]) == 1  # a retry keeps the request ID
    output = stack.output()
    for attempt in (1, 2, 3):
        assert f"FailFunction: S3 event failed (attempt {attempt} of 3)" in output
    assert "RuntimeError: failing, as asked" in output  # the handler's traceback is logged


def test_http_route_and_authorizer_work_beside_the_event_sources(
    stack: RunningStack, aws: Callable[[str], Any]
) -> None:
    aws("s3").put_object(Bucket=BUCKET, Key="uploads/http.onnx", Body=b"x")
    assert wait_for(
        lambda: (
            "S3 event delivered (attempt 1 of 3): ObjectCreated:Put s3://"
            f"{BUCKET}/uploads/http.onnx" in stack.output()
        )
    )
    assert stack.base_url is not None

    with httpx.Client(base_url=stack.base_url, timeout=10) as api:
        refused = api.get("/seen")
        listed = api.get("/seen", headers={"Authorization": "Bearer good"})

    assert refused.status_code == 401
    assert listed.status_code == 200, listed.text
    assert f"{BUCKET}/uploads/http.onnx" in listed.json()["keys"]
