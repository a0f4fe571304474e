"""The batch pipeline on moto (DynamoDB, S3), SQS played by a list: splitting, chunks,
duplicates, failures on the last delivery, cancellation, the inbox. No row is ever lost."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.batch.files import S3BatchFiles
from aiaas.batch.inputs import Row
from aiaas.batch.jobs import JobLimits, JobService, ModelCheck
from aiaas.batch.pipeline import ChunkFailed, ChunkMessage, ChunkRunner, SplitConfig, Splitter
from aiaas.batch.records import BatchJob
from aiaas.batch.scoring import ModelScorer
from aiaas.batch.store import DynamoJobs
from aiaas.errors import Conflict, InvalidInput, NotFound
from aiaas.metrics import MetricsWriter
from aiaas.services import Services
from aiaas.settings import Settings
from tests.aws import AwsResources

ALICE = Principal("t-alice", "u-alice", "key", "k-alice", ALL_SCOPES)
BOB = Principal("t-bob", "u-bob", "key", "k-bob", ALL_SCOPES)
IRIS = "iris-rf"
MINILM = "all-minilm-l6-v2"


@dataclass
class ListQueue:
    """SQS played by a list: every body sent, in order."""

    sent: list[str] = field(default_factory=list)

    def send(self, bodies: list[str]) -> None:
        self.sent.extend(bodies)


class FlakyScorer:
    """Raises for one chunk (by its first row's line), passes the rest to the real scorer."""

    def __init__(self, inner: ModelScorer, bad_line: int) -> None:
        self.inner = inner
        self.bad_line = bad_line
        self.calls = 0

    def score(self, job: BatchJob, rows: list[Row]) -> tuple[list[bytes], int, int]:
        self.calls += 1
        if rows[0].line == self.bad_line:
            raise RuntimeError("the model process crashed")
        return self.inner.score(job, rows)


@dataclass
class Pipeline:
    services: Services
    jobs: JobService
    store: DynamoJobs
    files: S3BatchFiles
    queue: ListQueue
    splitter: Splitter
    runner: ChunkRunner
    s3: Any
    bucket: str

    def upload(self, job: BatchJob, data: bytes) -> str:
        answer = self.s3.put_object(Bucket=self.bucket, Key=job.input_key, Body=data)
        return str(answer["ETag"]).strip('"')

    def drain(self, receive_count: int = 1) -> list[str]:
        """Run every queued message once (a copy of the queue: runs may not add messages)."""
        bodies, self.queue.sent = self.queue.sent, []
        return [self.runner.run(ChunkMessage.from_json(b), receive_count) for b in bodies]

    def run(self, caller: Principal, model: str, data: bytes, fmt: str = "jsonl") -> BatchJob:
        job, _ = self.jobs.create(caller, model, None, fmt)  # type: ignore[arg-type]
        etag = self.upload(job, data)
        self.splitter.on_object(job.input_key, etag)
        self.drain()
        return self.jobs.get(caller, job.id)

    def output(self, job: BatchJob) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=job.output_key)["Body"].read()
        return [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def pipeline(aws: AwsResources, models_dir: Path) -> Pipeline:
    services = Services(Settings(models_dir=models_dir))
    services.catalog.seed_builtins(services.layer.manifests().values())  # CatalogFunction's
    store = DynamoJobs(aws.client("dynamodb"), aws.jobs_table)
    files = S3BatchFiles(aws.client("s3"), aws.batch_bucket)
    check = ModelCheck(services.catalog)
    queue = ListQueue()
    splitter = Splitter(store, files, queue, SplitConfig(16, 1 << 20, 4096, "ops"), check.problem)
    scorer = ModelScorer(services.batch_predictions)
    runner = ChunkRunner(store, files, scorer, max_receives=3, on_finished=services.meter_job)
    jobs = JobService(store, store, files, check, JobLimits(1 << 20, 600))
    s3 = aws.client("s3")
    return Pipeline(services, jobs, store, files, queue, splitter, runner, s3, aws.batch_bucket)


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]] * 15


def test_csv_for_a_tabular_model_gives_one_output_per_row_in_order(pipeline: Pipeline) -> None:
    csv = "id,a,b,c,d\n" + "".join(
        f"r{i},{','.join(map(str, r))}\n" for i, r in enumerate(IRIS_ROWS)
    )
    job = pipeline.run(ALICE, IRIS, csv.encode(), "csv")
    assert job.status == "SUCCEEDED"
    assert (job.total_rows, job.succeeded, job.failed, job.total_chunks) == (45, 45, 0, 3)
    output = pipeline.output(job)
    assert [row["id"] for row in output] == [f"r{i}" for i in range(45)]
    direct = pipeline.services.layer.get(IRIS).predict(IRIS_ROWS).results
    assert [row["output"]["label"] for row in output] == [r["label"] for r in direct]
    assert pipeline.jobs.output_url(job)


def test_embeddings_match_the_runtime_and_keep_input_order(pipeline: Pipeline) -> None:
    texts = [f"sentence number {i} " + "word " * (i % 7) for i in range(40)]
    job = pipeline.run(ALICE, MINILM, jsonl([{"id": i, "input": t} for i, t in enumerate(texts)]))
    assert job.status == "SUCCEEDED"
    output = pipeline.output(job)
    assert [row["id"] for row in output] == list(range(40))
    direct = pipeline.services.layer.get(MINILM).predict(texts).results
    got = np.array([row["output"]["embedding"] for row in output])
    want = np.array([r["embedding"] for r in direct])
    # Dynamic int8 quantization scales activations per batch, so a text's embedding depends
    # a little on its batch neighbours: equal in direction, not to the last digit.
    cosines = np.sum(got * want, axis=1)
    assert cosines.min() > 0.98, cosines.min()


def test_malformed_lines_are_exactly_the_error_rows(pipeline: Pipeline) -> None:
    lines = [json.dumps({"id": i, "input": f"text {i}"}).encode() for i in range(100)]
    bad = {7: b"{not json", 33: b'{"id": 33}', 58: b'["a list"]', 91: b'{"id": 91, "input": 5}'}
    for index, raw in bad.items():
        lines[index] = raw
    job = pipeline.run(ALICE, MINILM, b"\n".join(lines) + b"\n")
    assert job.status == "PARTIALLY_FAILED"
    assert (job.total_rows, job.succeeded, job.failed) == (100, 96, 4)
    output = pipeline.output(job)
    assert len(output) == 100
    errors = {i for i, row in enumerate(output) if "error" in row}
    assert errors == set(bad)
    assert output[7]["error"]["line"] == 8
    assert output[33]["id"] == 33 and "input" in output[33]["error"]["message"]
    assert all("output" in row for i, row in enumerate(output) if i not in bad)


def test_replaying_every_message_and_the_s3_event_changes_nothing(pipeline: Pipeline) -> None:
    job, _ = pipeline.jobs.create(ALICE, MINILM, None, "jsonl")
    etag = pipeline.upload(job, jsonl([{"id": i, "input": f"t {i}"} for i in range(40)]))
    pipeline.splitter.on_object(job.input_key, etag)
    first_messages = list(pipeline.queue.sent)
    pipeline.drain()
    done = pipeline.jobs.get(ALICE, job.id)
    before = pipeline.output(done)
    pipeline.queue.sent = first_messages * 2  # every message twice more
    outcomes = pipeline.drain()
    assert all(o.startswith("ignored") for o in outcomes)
    assert pipeline.splitter.on_object(job.input_key, etag).startswith("ignored")
    assert pipeline.queue.sent == []
    again = pipeline.jobs.get(ALICE, job.id)
    assert (again.succeeded, again.failed, again.status) == (40, 0, "SUCCEEDED")
    assert pipeline.output(again) == before


def test_duplicate_chunk_before_the_job_finishes_is_counted_once(pipeline: Pipeline) -> None:
    job, _ = pipeline.jobs.create(ALICE, MINILM, None, "jsonl")
    etag = pipeline.upload(job, jsonl([{"id": i, "input": f"t {i}"} for i in range(40)]))
    pipeline.splitter.on_object(job.input_key, etag)
    pipeline.splitter.on_object(job.input_key, etag)  # S3 delivered the event twice
    assert len(pipeline.queue.sent) == 6  # three chunks, queued twice
    outcomes = pipeline.drain()
    assert sum(o.startswith("duplicate") or o.startswith("ignored") for o in outcomes) == 3
    done = pipeline.jobs.get(ALICE, job.id)
    assert (done.status, done.succeeded, done.failed) == ("SUCCEEDED", 40, 0)
    assert [row["id"] for row in pipeline.output(done)] == list(range(40))


def test_a_chunk_failing_every_delivery_becomes_error_rows(pipeline: Pipeline) -> None:
    flaky = FlakyScorer(pipeline.runner.scorer, bad_line=17)  # type: ignore[arg-type]
    pipeline.runner.scorer = flaky
    job, _ = pipeline.jobs.create(ALICE, MINILM, None, "jsonl")
    etag = pipeline.upload(job, jsonl([{"id": i, "input": f"t {i}"} for i in range(40)]))
    pipeline.splitter.on_object(job.input_key, etag)
    messages = [ChunkMessage.from_json(b) for b in pipeline.queue.sent]
    bad = messages[1]
    for message in (messages[0], messages[2]):
        pipeline.runner.run(message, 1)
    for attempt in (1, 2):
        with pytest.raises(RuntimeError, match="crashed"):
            pipeline.runner.run(bad, attempt)
        assert pipeline.jobs.get(ALICE, job.id).status == "RUNNING"
    with pytest.raises(ChunkFailed):
        pipeline.runner.run(bad, 3)  # the last delivery: SQS moves it to the DLQ
    done = pipeline.jobs.get(ALICE, job.id)
    assert (done.status, done.succeeded, done.failed) == ("PARTIALLY_FAILED", 24, 16)
    assert "chunk 1" in done.error
    output = pipeline.output(done)
    assert [row["id"] for row in output] == list(range(40))
    assert {row["error"]["code"] for row in output[16:32]} == {"chunk_failed"}


def test_a_cancelled_job_runs_no_more_chunks(pipeline: Pipeline) -> None:
    job, _ = pipeline.jobs.create(ALICE, MINILM, None, "jsonl")
    etag = pipeline.upload(job, jsonl([{"id": i, "input": f"t {i}"} for i in range(40)]))
    pipeline.splitter.on_object(job.input_key, etag)
    cancelled = pipeline.jobs.cancel(ALICE, job.id)
    assert cancelled.status == "CANCELLED"
    assert all(o.startswith("ignored") for o in pipeline.drain())
    with pytest.raises(Conflict):
        pipeline.jobs.cancel(ALICE, job.id)
    assert pipeline.jobs.output_url(pipeline.jobs.get(ALICE, job.id)) is None


class CancellingScorer:
    """Cancels the job while its first chunk is being scored (a cancel in flight)."""

    def __init__(self, inner: ModelScorer, pipeline: Pipeline) -> None:
        self.inner = inner
        self.pipeline = pipeline

    def score(self, job: BatchJob, rows: list[Row]) -> tuple[list[bytes], int, int]:
        scored = self.inner.score(job, rows)
        if self.pipeline.jobs.get(ALICE, job.id).status != "CANCELLED":
            self.pipeline.jobs.cancel(ALICE, job.id)
        return scored


def test_a_chunk_scored_while_its_job_is_cancelled_is_not_counted(pipeline: Pipeline) -> None:
    # Given a job whose first chunk is being scored when its owner cancels it
    job, _ = pipeline.jobs.create(ALICE, IRIS, None, "jsonl")
    etag = pipeline.upload(job, jsonl([{"id": i, "input": IRIS_ROWS[i]} for i in range(40)]))
    pipeline.splitter.on_object(job.input_key, etag)
    inner = pipeline.runner.scorer
    pipeline.runner.scorer = CancellingScorer(inner, pipeline)  # type: ignore[arg-type]
    # When every chunk is delivered
    pipeline.drain()
    # Then the counts stay as they were at the cancel
    after = pipeline.jobs.get(ALICE, job.id)
    assert after.status == "CANCELLED"
    assert (after.succeeded, after.failed, after.chunks_done) == (0, 0, 0)


def test_another_tenant_cannot_read_list_or_cancel(pipeline: Pipeline) -> None:
    job = pipeline.run(ALICE, IRIS, jsonl([{"id": 1, "input": IRIS_ROWS[0]}]))
    with pytest.raises(NotFound):
        pipeline.jobs.get(BOB, job.id)
    with pytest.raises(NotFound):
        pipeline.jobs.cancel(BOB, job.id)
    assert pipeline.jobs.page(BOB, 10, None)[0] == []
    assert [j.id for j in pipeline.jobs.page(ALICE, 10, None)[0]] == [job.id]


def test_listing_pages_newest_first(pipeline: Pipeline) -> None:
    made = [pipeline.jobs.create(ALICE, IRIS, None, "csv")[0].id for _ in range(3)]
    first, cursor = pipeline.jobs.page(ALICE, 2, None)
    rest, end = pipeline.jobs.page(ALICE, 2, cursor)
    assert cursor is not None and end is None
    assert {j.id for j in first + rest} == set(made)
    with pytest.raises(InvalidInput):
        pipeline.jobs.page(ALICE, 2, "not-a-cursor")
    with pytest.raises(InvalidInput):
        pipeline.jobs.page(BOB, 2, cursor)  # another tenant's cursor is no way in


def test_bad_job_requests_are_refused(pipeline: Pipeline) -> None:
    with pytest.raises(NotFound):
        pipeline.jobs.create(ALICE, "no-such-model", None, "jsonl")
    with pytest.raises(InvalidInput, match="CSV"):
        pipeline.jobs.create(ALICE, MINILM, None, "csv")
    with pytest.raises(NotFound):
        pipeline.jobs.create(ALICE, IRIS, 7, "jsonl")


def test_inbox_file_runs_as_a_job_of_the_inbox_tenant(pipeline: Pipeline) -> None:
    key = "inbox/iris-rf/2026/flowers.csv"
    data = "a,b,c,d\n" + "".join(",".join(map(str, r)) + "\n" for r in IRIS_ROWS[:5])
    etag = pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=data.encode())["ETag"]
    assert "5 rows queued" in pipeline.splitter.on_object(key, etag.strip('"'))
    assert pipeline.splitter.on_object(key, etag.strip('"')).startswith(("job", "ignored"))
    pipeline.drain()
    ops = Principal("ops", "u", "key", "k", ALL_SCOPES)
    (job,), _ = pipeline.jobs.page(ops, 10, None)
    assert (job.status, job.source, job.output_key) == (
        "SUCCEEDED",
        "inbox",
        "outbox/iris-rf/2026/flowers.csv.jsonl",
    )
    assert [row["id"] for row in pipeline.output(job)] == [1, 2, 3, 4, 5]


def test_inbox_file_for_an_unknown_model_fails_the_job(pipeline: Pipeline) -> None:
    key = "inbox/nope/x.jsonl"
    etag = pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=b'{"id":1,"input":1}\n')
    outcome = pipeline.splitter.on_object(key, etag["ETag"])
    assert "failed" in outcome and "not found" in outcome
    assert pipeline.queue.sent == []


def test_a_finished_job_counts_its_scored_rows_in_the_usage_report(pipeline: Pipeline) -> None:
    lines = [{"id": i, "input": IRIS_ROWS[i % 3]} for i in range(30)] + [{"id": 30, "input": 1}]
    job = pipeline.run(ALICE, IRIS, jsonl(lines))
    assert (job.succeeded, job.failed) == (30, 1)
    report = pipeline.services.usage.report(ALICE, None, None)
    assert report["by_model"] == {IRIS: 30} and report["by_key"] == {"k-alice": 30}
    replay = ChunkMessage(job.id, 0, 1, 16)
    pipeline.runner.run(replay, 1)  # a late duplicate meters nothing more
    assert pipeline.services.usage.report(ALICE, None, None)["total"] == 30
    assert pipeline.services.usage.report(BOB, None, None)["total"] == 0


def test_each_scored_chunk_writes_one_emf_line(pipeline: Pipeline) -> None:
    stream = io.StringIO()
    pipeline.runner.metrics = MetricsWriter(stream)
    lines = [{"id": i, "input": r} for i, r in enumerate(IRIS_ROWS[:20])] + [
        {"id": "bad", "input": "not a row"}
    ]
    job = pipeline.run(ALICE, IRIS, jsonl(lines))
    assert job.status == "PARTIALLY_FAILED" and job.total_chunks == 2
    docs = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(docs) == 2
    assert {(d["model"], d["version"], d["route"]) for d in docs} == {(IRIS, "default", "batch")}
    assert sum(d["Predictions"] for d in docs) == 20 and sum(d["Errors"] for d in docs) == 1
    assert sum(d["BatchSize"] for d in docs) == 21
    spec = docs[0]["_aws"]["CloudWatchMetrics"][0]
    assert spec["Dimensions"] == [["model", "version", "route"], ["route"]]
    assert all(d["tenant"] == ALICE.tenant and d["job"] == job.id for d in docs)
