"""The batch pipeline: split an input into chunks, run each chunk once, assemble the output.

Every step is idempotent, because S3 and SQS both deliver at least once:

- splitting writes chunk objects under fixed keys and queues them while the job is
  ``UPLOADING`` or ``QUEUED``; a replay rewrites the same chunks, and a chunk queued twice is
  run once (below);
- a chunk's result object has a fixed key, and its rows are counted in one transaction that
  also records the chunk: a duplicate delivery finds the chunk recorded and changes nothing;
- the chunk that brings ``chunks_done`` to ``total_chunks`` assembles the output and finishes
  the job with a conditional update, and so does any later delivery that finds the job done
  but not finished (a crash in between is retried by SQS).

A chunk that raises is retried by SQS. On its last delivery (``batch_max_receives``), its rows
become error rows and are counted before the message goes to the dead-letter queue, so the
job still finishes with every row accounted for.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import orjson

from aiaas.batch.inputs import Row, read_rows
from aiaas.batch.records import (
    INBOX,
    OUTBOX,
    UPLOADS,
    BatchJob,
    InputFormat,
    chunk_key,
    error_line,
    result_key,
)
from aiaas.metrics import MetricsWriter

logger = logging.getLogger(__name__)


class JobStore(Protocol):
    """Jobs and their chunk records (`aiaas.batch.store.DynamoJobs`)."""

    def create(self, job: BatchJob) -> bool: ...
    def get(self, job_id: str) -> BatchJob | None: ...
    def transition(self, job_id: str, allowed: Iterable[str], changes: dict[str, Any]) -> bool: ...
    def record_chunk(self, job_id: str, chunk: int, succeeded: int, failed: int) -> bool: ...
    def chunk_recorded(self, job_id: str, chunk: int) -> bool: ...


class BatchFiles(Protocol):
    """The batch bucket (`aiaas.batch.files.S3BatchFiles`)."""

    def head(self, key: str) -> dict[str, Any] | None: ...
    def lines(self, key: str) -> Iterator[bytes]: ...
    def read(self, key: str) -> bytes: ...
    def write(self, key: str, data: bytes) -> None: ...
    def concatenate(self, keys: Iterable[str], destination: str) -> int: ...


class ChunkQueue(Protocol):
    """The chunk queue (`aiaas.batch.files.SqsChunks`)."""

    def send(self, bodies: list[str]) -> None: ...


class Scorer(Protocol):
    """Runs a chunk's rows through the job's model."""

    def score(self, job: BatchJob, rows: list[Row]) -> tuple[list[bytes], int, int]:
        """One output line per row, in order, and the counts of outputs and errors.

        Rows that cannot run (bad input) become error lines; anything that should be
        retried (the model cannot load, AWS is down) raises.
        """
        ...


def now() -> int:
    """Epoch seconds."""
    return int(time.time())


def new_job_id() -> str:
    """``batch_`` and 24 random hex digits."""
    return f"batch_{secrets.token_hex(12)}"


def final_status(job: BatchJob) -> str:
    """SUCCEEDED with no error rows, FAILED with no outputs, PARTIALLY_FAILED otherwise."""
    if job.failed == 0:
        return "SUCCEEDED"
    return "FAILED" if job.succeeded == 0 else "PARTIALLY_FAILED"


@dataclass(frozen=True, slots=True)
class ChunkMessage:
    """One SQS message: which chunk of which job, and what it holds."""

    job: str
    chunk: int
    first_line: int
    rows: int

    def to_json(self) -> str:
        """The message body."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, body: str) -> ChunkMessage:
        """Parse a body; ValueError if it is not one of ours."""
        doc = json.loads(body)
        if not isinstance(doc, dict) or set(doc) != {"job", "chunk", "first_line", "rows"}:
            raise ValueError("not a batch chunk message")
        return cls(str(doc["job"]), int(doc["chunk"]), int(doc["first_line"]), int(doc["rows"]))


@dataclass(frozen=True, slots=True)
class SplitConfig:
    """Limits of splitting."""

    chunk_rows: int
    max_input_bytes: int
    max_line_bytes: int
    inbox_tenant: str


class Splitter:
    """S3 ObjectCreated on ``uploads/`` or ``inbox/`` -> chunks in S3 and messages in SQS."""

    def __init__(
        self,
        store: JobStore,
        files: BatchFiles,
        queue: ChunkQueue,
        config: SplitConfig,
        check_model: Callable[[str, str, int | None], str],
    ) -> None:
        """``check_model(tenant, model, version)`` says why the tenant cannot run it ("": ok)."""
        self.store = store
        self.files = files
        self.queue = queue
        self.config = config
        self.check_model = check_model

    def on_object(self, key: str, etag: str) -> str:
        """Start the job an object belongs to; returns what happened (for the log)."""
        if key.startswith(UPLOADS):
            return self._upload(key)
        if key.startswith(INBOX):
            return self._inbox(key, etag)
        return "ignored: not an input key"

    def _upload(self, key: str) -> str:
        job_id = key.removeprefix(UPLOADS).rpartition(".")[0]
        job = self.store.get(job_id) if job_id else None
        if job is None or job.input_key != key:
            return "ignored: no job expects this upload"
        return self.split(job)

    def _inbox(self, key: str, etag: str) -> str:
        model, _, name = key.removeprefix(INBOX).partition("/")
        if not model or not name or name.endswith("/"):
            return "ignored: inbox files go under inbox/<model>/"
        digest = hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:24]
        output = f"{OUTBOX}{model}/{name}" + ("" if name.endswith(".jsonl") else ".jsonl")
        input_format: InputFormat = "csv" if name.lower().endswith(".csv") else "jsonl"
        job = BatchJob(
            id=f"batch_{digest}",  # the same file and content: the same job, once
            tenant=self.config.inbox_tenant,
            model=model,
            version=None,
            input_format=input_format,
            status="UPLOADING",
            created_at=now(),
            input_key=key,
            output_key=output,
            source="inbox",
            meter_id="inbox",
        )
        if self.store.create(job):
            logger.info("inbox file %s is job %s", key, job.id)
            return self.split(job)
        stored = self.store.get(job.id)  # a replayed event: the job as it stands
        return self.split(stored) if stored is not None else "ignored: job vanished"

    def split(self, job: BatchJob) -> str:
        """Write the chunks, record the totals, queue the chunks (again, on a replay)."""
        if job.status not in ("UPLOADING", "QUEUED"):
            return f"ignored: job {job.id} is {job.status}"
        problem = self.check_model(job.tenant, job.model, job.version) or self._check_input(job)
        if problem:
            self.store.transition(
                job.id,
                ["UPLOADING", "QUEUED"],
                {"status": "FAILED", "error": problem, "completed_at": now()},
            )
            return f"job {job.id} failed: {problem}"
        messages = list(self._write_chunks(job))
        if not messages:
            self.store.transition(
                job.id,
                ["UPLOADING", "QUEUED"],
                {"status": "FAILED", "error": "the input has no rows", "completed_at": now()},
            )
            return f"job {job.id} failed: no rows"
        rows = sum(m.rows for m in messages)
        queued = self.store.transition(
            job.id,
            ["UPLOADING", "QUEUED"],
            {"status": "QUEUED", "total_rows": rows, "total_chunks": len(messages)},
        )
        if not queued:
            return f"ignored: job {job.id} changed while splitting"
        self.queue.send([m.to_json() for m in messages])
        return f"job {job.id}: {rows} rows queued in {len(messages)} chunks"

    def _check_input(self, job: BatchJob) -> str:
        head = self.files.head(job.input_key)
        if head is None:
            return "the input file is gone"
        if head["size"] > self.config.max_input_bytes:
            return f"the input is {head['size']} bytes; the limit is {self.config.max_input_bytes}"
        return ""

    def _write_chunks(self, job: BatchJob) -> Iterator[ChunkMessage]:
        rows = read_rows(
            self.files.lines(job.input_key), job.input_format, self.config.max_line_bytes
        )
        batch: list[Row] = []
        chunk = 0
        for row in rows:
            batch.append(row)
            if len(batch) == self.config.chunk_rows:
                yield self._write_chunk(job, chunk, batch)
                chunk, batch = chunk + 1, []
        if batch:
            yield self._write_chunk(job, chunk, batch)

    def _write_chunk(self, job: BatchJob, chunk: int, rows: list[Row]) -> ChunkMessage:
        data = b"".join(
            orjson.dumps(row.to_dict(), option=orjson.OPT_APPEND_NEWLINE) for row in rows
        )
        self.files.write(chunk_key(job.id, chunk), data)
        return ChunkMessage(job.id, chunk, rows[0].line, len(rows))


class ChunkFailed(Exception):
    """A chunk failed on its last delivery: its rows are error rows, the message goes to the DLQ."""


class ChunkRunner:
    """One SQS message -> one chunk's output rows, counted once; the last chunk finishes the job."""

    def __init__(
        self,
        store: JobStore,
        files: BatchFiles,
        scorer: Scorer,
        *,
        max_receives: int,
        on_finished: Callable[[BatchJob], None] | None = None,
        metrics: MetricsWriter | None = None,
    ) -> None:
        """``on_finished(job)`` runs once per job, when this runner finished it (metering);
        ``metrics`` gets one EMF line per scored chunk (route ``batch``)."""
        self.store = store
        self.files = files
        self.scorer = scorer
        self.max_receives = max_receives
        self.on_finished = on_finished
        self.metrics = metrics

    def run(self, message: ChunkMessage, receive_count: int) -> str:
        """Process a chunk; raises to have SQS deliver it again (or dead-letter it)."""
        job = self.store.get(message.job)
        if job is None:
            return f"ignored: job {message.job} does not exist"
        if job.finished:
            return f"ignored: job {job.id} is {job.status}"
        if self.store.chunk_recorded(job.id, message.chunk):
            self.complete(job.id)
            return f"duplicate: chunk {message.chunk} of {job.id} was recorded"
        if job.status == "QUEUED":
            self.store.transition(job.id, ["QUEUED"], {"status": "RUNNING", "started_at": now()})
        rows: list[Row] = []
        started = time.perf_counter()
        try:
            rows = self._rows(job, message.chunk)
            lines, succeeded, failed = self.scorer.score(job, rows)
        except Exception as exc:
            if receive_count < self.max_receives:
                raise
            self._give_up(job, message, rows, exc)
            raise ChunkFailed(f"chunk {message.chunk} of {job.id}: {exc}") from exc
        self._record(job.id, message.chunk, lines, succeeded, failed)
        if self.metrics is not None:
            self.metrics.emit(
                {
                    "Requests": (1, "Count"),
                    "Predictions": (succeeded, "Count"),
                    "Errors": (failed, "Count"),
                    "BatchSize": (len(rows), "Count"),
                    "LatencyMs": (round((time.perf_counter() - started) * 1e3, 3), "Milliseconds"),
                },
                {"model": job.model, "version": str(job.version or "default"), "route": "batch"},
                {"tenant": job.tenant, "job": job.id, "chunk": message.chunk},
                rollups=(("route",),),
            )
        return f"chunk {message.chunk} of {job.id}: {succeeded} outputs, {failed} errors"

    def _rows(self, job: BatchJob, chunk: int) -> list[Row]:
        data = self.files.read(chunk_key(job.id, chunk))
        return [Row.from_dict(orjson.loads(line)) for line in data.splitlines() if line]

    def _record(self, job_id: str, chunk: int, lines: list[bytes], ok: int, bad: int) -> None:
        self.files.write(result_key(job_id, chunk), b"".join(lines))
        self.store.record_chunk(job_id, chunk, ok, bad)
        self.complete(job_id)

    def _give_up(
        self, job: BatchJob, message: ChunkMessage, rows: list[Row], exc: Exception
    ) -> None:
        """The last delivery failed: every row of the chunk becomes an error row."""
        reason = f"chunk failed after {self.max_receives} attempts: {str(exc)[:300]}"
        logger.error("job %s chunk %d: %s", job.id, message.chunk, reason)
        known = rows or [
            Row(message.first_line + i, None) for i in range(message.rows)
        ]  # unreadable chunk: the count and the first line are all we know
        lines = [error_line(row.id, row.line, reason, code="chunk_failed") for row in known]
        self.store.transition(
            job.id, ["QUEUED", "RUNNING"], {"error": f"chunk {message.chunk} {reason}"}
        )
        self._record(job.id, message.chunk, lines, 0, len(lines))

    def complete(self, job_id: str) -> bool:
        """Assemble the output and finish the job once every chunk is recorded."""
        job = self.store.get(job_id)
        if job is None or job.finished or not job.total_chunks:
            return False
        if job.chunks_done < job.total_chunks:
            return False
        keys = [result_key(job.id, chunk) for chunk in range(job.total_chunks)]
        size = self.files.concatenate(keys, job.output_key)
        status = final_status(job)
        done = self.store.transition(
            job.id, ["QUEUED", "RUNNING"], {"status": status, "completed_at": now()}
        )
        if done:
            logger.info(
                "job %s %s: %d outputs, %d errors, %d bytes in %s",
                job.id, status, job.succeeded, job.failed, size, job.output_key,
            )  # fmt: skip
            if self.on_finished is not None:
                try:
                    self.on_finished(job)
                except Exception:  # the job is done; a metering hiccup must not redo it
                    logger.exception("job %s: on_finished failed", job.id)
        return done
