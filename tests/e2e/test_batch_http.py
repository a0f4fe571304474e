"""Batch jobs end to end on the local stack: HTTP API, presigned upload to S3 (moto), the
S3 -> BatchSplitFunction -> SQS -> BatchFunction pipeline, the output link.

The stack runs in this process (`aiaas_dev.stack.LocalStack`), so one test can make a chunk
fail for real inside BatchFunction and watch SQS retry it and dead-letter it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from aiaas.batch.inputs import Row
from aiaas.batch.records import BatchJob
from aiaas_dev.stack import LocalStack
from tests.e2e.accounts import new_account
from tests.e2e.batch_jobs import batch_headers, jsonl, output, submit, wait_for_job
from tests.e2e.inprocess import in_process_stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MINILM, IRIS = "all-minilm-l6-v2", "iris-rf"
IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "rain",
    "falls",
    "on",
    "quiet",
    "city",
    "streets",
]


@pytest.fixture(scope="module")
def stack(models_dir: Path) -> Iterator[LocalStack]:
    with in_process_stack(models_dir) as running:
        yield running


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=60) as client:
        yield client


def batch_key(http: httpx.Client) -> dict[str, Any]:
    account = new_account(http)
    return {**account, "headers": batch_headers(http, account["token"])}


@pytest.fixture(scope="module")
def alice(http: httpx.Client) -> dict[str, Any]:
    return batch_key(http)


def aws(service: str) -> Any:
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def run_job(
    http: httpx.Client, who: dict[str, Any], model: str, data: bytes, fmt: str = "jsonl"
) -> dict[str, Any]:
    """Submit a job as ``who`` and wait until it finished."""
    return wait_for_job(http, who["headers"], submit(http, who["headers"], model, data, fmt)["id"])


def texts(count: int) -> list[str]:
    return [
        " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(3 + i % 11)) + f" #{i}"
        for i in range(count)
    ]


def test_ten_thousand_texts_succeed_with_one_line_per_input_in_order(
    stack: LocalStack, http: httpx.Client, alice: dict[str, Any]
) -> None:
    lines = [{"id": f"t{i}", "input": text} for i, text in enumerate(texts(10_000))]
    job = run_job(http, alice, MINILM, jsonl(lines))
    assert job["status"] == "SUCCEEDED", job
    assert job["counts"] == {"total": 10_000, "succeeded": 10_000, "failed": 0}
    assert job["started_at"] and job["completed_at"] >= job["started_at"]
    rows = output(job)
    assert [row["id"] for row in rows] == [line["id"] for line in lines]
    assert {len(row["output"]["embedding"]) for row in rows} == {384}


def test_csv_for_iris_succeeds_in_order(http: httpx.Client, alice: dict[str, Any]) -> None:
    body = "id,sepal_length,sepal_width,petal_length,petal_width\n" + "".join(
        f"f{i},{','.join(map(str, IRIS_ROWS[i % 3]))}\n" for i in range(1200)
    )
    job = run_job(http, alice, IRIS, body.encode(), "csv")
    assert job["status"] == "SUCCEEDED", job
    rows = output(job)
    assert [row["id"] for row in rows] == [f"f{i}" for i in range(1200)]
    assert [row["output"]["label"] for row in rows[:3]] == ["setosa", "virginica", "versicolor"]
    usage = http.get("/v1/usage", headers={"x-api-key": alice["key"]}).json()
    assert usage["by_model"].get(IRIS, 0) >= 1200  # scored rows count as usage


def malformed_file(count: int, every: int) -> tuple[bytes, set[int]]:
    lines, bad = [], set()
    for i in range(count):
        if i % every == every - 1:
            bad.add(i)
            lines.append([b"{broken", b'{"id": 1}', b'"text"', b'{"input": [1,2,3,4]}'][i % 4])
        else:
            lines.append(json.dumps({"id": i, "input": IRIS_ROWS[i % 3]}).encode())
    return b"\n".join(lines) + b"\n", bad


def test_two_percent_malformed_lines_are_exactly_the_error_rows(
    http: httpx.Client, alice: dict[str, Any]
) -> None:
    data, bad = malformed_file(2000, every=50)
    job = run_job(http, alice, IRIS, data)
    assert job["status"] == "PARTIALLY_FAILED", job
    assert job["counts"] == {"total": 2000, "succeeded": 1960, "failed": 40}
    rows = output(job)
    assert len(rows) == 2000
    assert {i for i, row in enumerate(rows) if "error" in row} == bad
    assert all(rows[i]["error"]["line"] == i + 1 for i in bad)


def replay_chunks(stack: LocalStack, job_id: str) -> int:
    """Send every chunk message of a job again, as SQS would on a duplicate delivery."""
    s3, bucket = aws("s3"), os.environ["AIAAS_BATCH_BUCKET"]
    keys = s3.list_objects_v2(Bucket=bucket, Prefix=f"work/{job_id}/chunks/")["Contents"]
    bodies = []
    for number, item in enumerate(sorted(k["Key"] for k in keys)):
        rows = s3.get_object(Bucket=bucket, Key=item)["Body"].read().splitlines()
        first = Row.from_dict(json.loads(rows[0])).line
        message = {"job": job_id, "chunk": number, "first_line": first, "rows": len(rows)}
        bodies.append(json.dumps(message, separators=(",", ":")))
    queue = os.environ["AIAAS_BATCH_QUEUE_URL"]
    for body in bodies:
        aws("sqs").send_message(QueueUrl=queue, MessageBody=body)
    return len(bodies)


def test_replaying_every_message_and_the_s3_event_changes_nothing(
    stack: LocalStack, http: httpx.Client, alice: dict[str, Any]
) -> None:
    data, _ = malformed_file(1500, every=50)
    submitted = submit(http, alice["headers"], IRIS, data)
    job = wait_for_job(http, alice["headers"], submitted["id"])
    before = httpx.get(job["output_url"]).content
    assert replay_chunks(stack, job["id"]) == 3
    bucket = os.environ["AIAAS_BATCH_BUCKET"]
    key = f"uploads/{job['id']}.jsonl"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=data)  # the S3 event once more
    assert stack.wait_idle(60)
    again = wait_for_job(http, alice["headers"], job["id"])
    assert again["counts"] == job["counts"] and again["status"] == job["status"]
    assert again["completed_at"] == job["completed_at"]
    assert httpx.get(again["output_url"]).content == before


class FailingChunks:
    """A scorer whose run crashes for rows from ``line`` on (mid-way through the chunk)."""

    def __init__(self, inner: Any, line: int) -> None:
        self.inner, self.line, self.attempts = inner, line, 0

    def score(self, job: BatchJob, rows: list[Row]) -> tuple[list[bytes], int, int]:
        if any(row.line == self.line for row in rows):
            self.attempts += 1
            self.inner.score(job, [row for row in rows if row.line < self.line])
            raise RuntimeError("inference worker crashed")
        return self.inner.score(job, rows)  # type: ignore[no-any-return]


def test_a_chunk_that_keeps_failing_lands_in_the_dlq_and_its_rows_are_errors(
    stack: LocalStack, http: httpx.Client, alice: dict[str, Any]
) -> None:
    runner = sys.modules["_aiaas_dev_function_BatchFunction"].services.chunk_runner
    failing = FailingChunks(runner.scorer, line=777)  # in the second 500-row chunk
    runner.scorer = failing
    try:
        rows = [{"id": i, "input": IRIS_ROWS[i % 3]} for i in range(1500)]
        job = run_job(http, alice, IRIS, jsonl(rows))
    finally:
        runner.scorer = failing.inner
    assert failing.attempts == 3  # BatchMaxReceives
    assert job["status"] == "PARTIALLY_FAILED", job
    assert job["counts"] == {"total": 1500, "succeeded": 1000, "failed": 500}
    assert "chunk 1" in job["error"]
    out = output(job)
    assert [row["id"] for row in out] == list(range(1500))
    assert {row["error"]["code"] for row in out[500:1000]} == {"chunk_failed"}
    dlq = os.environ["AIAAS_BATCH_QUEUE_URL"].replace("BatchQueue", "BatchDeadLetterQueue")
    dlq_url = aws("sqs").get_queue_url(QueueName=dlq.rsplit("/", 1)[1])["QueueUrl"]
    # SQS moves the message on the receive after its last failed delivery: the job is
    # finished (its rows recorded) a moment before the message is in the dead-letter queue.
    assert stack.wait_idle(30)
    messages = aws("sqs").receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=5
    )["Messages"]
    assert [json.loads(m["Body"])["chunk"] for m in messages] == [1]
    assert json.loads(messages[0]["Body"])["job"] == job["id"]


def test_another_tenant_cannot_read_list_or_cancel(
    http: httpx.Client, alice: dict[str, Any]
) -> None:
    job = submit(http, alice["headers"], IRIS, jsonl([{"id": 1, "input": IRIS_ROWS[0]}]))
    bob = batch_key(http)
    assert http.get(f"/v1/batch-jobs/{job['id']}", headers=bob["headers"]).status_code == 404
    assert http.delete(f"/v1/batch-jobs/{job['id']}", headers=bob["headers"]).status_code == 404
    assert http.get("/v1/batch-jobs", headers=bob["headers"]).json()["data"] == []
    listed = http.get("/v1/batch-jobs", headers=alice["headers"]).json()["data"]
    assert job["id"] in [j["id"] for j in listed]


def test_cancel_a_job_waiting_for_its_upload(http: httpx.Client, alice: dict[str, Any]) -> None:
    created = http.post("/v1/batch-jobs", json={"model": IRIS}, headers=alice["headers"]).json()
    cancelled = http.delete(f"/v1/batch-jobs/{created['id']}", headers=alice["headers"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    again = http.delete(f"/v1/batch-jobs/{created['id']}", headers=alice["headers"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_inbox_file_is_scored_into_the_outbox(stack: LocalStack) -> None:
    s3, bucket = aws("s3"), os.environ["AIAAS_BATCH_BUCKET"]
    name = f"{uuid.uuid4().hex[:8]}.csv"
    body = "a,b,c,d\n" + "".join(",".join(map(str, r)) + "\n" for r in IRIS_ROWS)
    s3.put_object(Bucket=bucket, Key=f"inbox/{IRIS}/{name}", Body=body.encode())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"outbox/{IRIS}/{name}")
        if listed.get("KeyCount"):
            break
        time.sleep(0.2)
    out = s3.get_object(Bucket=bucket, Key=f"outbox/{IRIS}/{name}.jsonl")["Body"].read()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(row["id"], row["output"]["label"]) for row in rows] == [
        (1, "setosa"),
        (2, "virginica"),
        (3, "versicolor"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "no-such-model"}, 404, "name"),
        ({"model": MINILM, "input_format": "csv"}, 400, "input_format"),
        ({"model": IRIS, "input_format": "xml"}, 400, "input_format"),
        ({"model": IRIS, "version": 0}, 400, "version"),
        ({"model": IRIS, "extra": 1}, 400, "extra"),
    ],
)
def test_bad_job_requests_get_a_json_4xx(
    http: httpx.Client, alice: dict[str, Any], body: dict[str, Any], status: int, param: str
) -> None:
    answer = http.post("/v1/batch-jobs", json=body, headers=alice["headers"])
    assert answer.status_code == status, answer.text
    assert param in json.dumps(answer.json()["error"])


def test_the_batch_scope_is_required(http: httpx.Client) -> None:
    account = new_account(http)  # its key has predict and models scopes, not batch
    answer = http.get("/v1/batch-jobs", headers={"x-api-key": account["key"]})
    assert answer.status_code == 403 and "batch" in answer.json()["error"]["message"]
    nope = http.get("/v1/batch-jobs/batch_nope", headers={"x-api-key": account["key"]})
    assert nope.status_code in (400, 403) and nope.json()["error"]["code"] in (
        "invalid_input",
        "forbidden",
    )
