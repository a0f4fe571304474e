"""Batch jobs and their rows: statuses, the bucket's key layout, the output line format.

A job's input is split into chunks of ``batch_chunk_rows`` lines. Each chunk is one SQS
message and one result object; the output is the results concatenated in chunk order, so
it has one line per input line, in input order.

Bucket layout (``BatchBucket``):

| key | what |
|---|---|
| ``uploads/<job id>.<jsonl or csv>`` | a job's input, uploaded through its presigned POST |
| ``inbox/<model>/<any name>`` | an operator's file: it becomes a job of the inbox tenant |
| ``work/<job id>/chunks/<n>.jsonl`` | the input split into chunks, rows normalized |
| ``work/<job id>/results/<n>.jsonl`` | each chunk's output rows |
| ``outputs/<job id>.jsonl`` | the output of an API job |
| ``outbox/<model>/<name>.jsonl`` | the output of an inbox file |
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import orjson

JobStatus = Literal[
    "UPLOADING", "QUEUED", "RUNNING", "SUCCEEDED", "PARTIALLY_FAILED", "FAILED", "CANCELLED"
]
InputFormat = Literal["jsonl", "csv"]
Source = Literal["api", "inbox"]
FINISHED: frozenset[str] = frozenset({"SUCCEEDED", "PARTIALLY_FAILED", "FAILED", "CANCELLED"})
UPLOADS, INBOX, WORK, OUTPUTS, OUTBOX = "uploads/", "inbox/", "work/", "outputs/", "outbox/"


@dataclass(frozen=True, slots=True)
class BatchJob:
    """One job: what to run, on which file, and how far it got.

    Attributes:
        id: ``batch_<hex>``.
        tenant: The owner; nobody else reads, lists or cancels it.
        model: The model's name, resolved for the owner when the job was made.
        version: A pinned version; None runs the default version.
        input_format: ``jsonl`` (``{"id", "input"}`` per line) or ``csv`` (tabular).
        status: See `JobStatus`.
        created_at: Epoch seconds.
        input_key: The input object.
        output_key: Where the output goes.
        source: ``api`` or ``inbox``.
        started_at: When the first chunk ran.
        completed_at: When the job finished (or was cancelled).
        total_rows: Input rows (known once split).
        total_chunks: Chunks (known once split).
        succeeded: Rows with an output so far.
        failed: Rows with an error so far.
        chunks_done: Chunks recorded so far.
        error: Why the whole job failed, or which chunks failed.
        meter_id: The credential its rows are counted against in the usage report.
        explain: Whether each output row also carries its explanation.
    """

    id: str
    tenant: str
    model: str
    version: int | None
    input_format: InputFormat
    status: JobStatus
    created_at: int
    input_key: str
    output_key: str
    source: Source = "api"
    meter_id: str = ""
    started_at: int | None = None
    completed_at: int | None = None
    total_rows: int = 0
    total_chunks: int = 0
    succeeded: int = 0
    failed: int = 0
    chunks_done: int = 0
    error: str = ""
    explain: bool = False

    @property
    def finished(self) -> bool:
        """Whether the job can change no more."""
        return self.status in FINISHED

    def with_changes(self, **changes: Any) -> BatchJob:
        """A copy with fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field (for the store)."""
        return asdict(self)

    def public(self, output_url: str | None = None) -> dict[str, Any]:
        """The API's view of the job."""
        return {
            "id": self.id,
            "object": "batch_job",
            "model": self.model,
            "version": self.version,
            "input_format": self.input_format,
            "status": self.status,
            "counts": {
                "total": self.total_rows,
                "succeeded": self.succeeded,
                "failed": self.failed,
            },
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "error": self.error or None,
            "explain": self.explain,
            "output_url": output_url,
        }


def upload_key(job_id: str, input_format: InputFormat) -> str:
    """Where a job's input is uploaded."""
    return f"{UPLOADS}{job_id}.{input_format}"


def chunk_key(job_id: str, chunk: int) -> str:
    """A chunk's normalized rows."""
    return f"{WORK}{job_id}/chunks/{chunk:06d}.jsonl"


def result_key(job_id: str, chunk: int) -> str:
    """A chunk's output rows."""
    return f"{WORK}{job_id}/results/{chunk:06d}.jsonl"


def output_line(row_id: Any, output: Any) -> bytes:
    """``{"id", "output"}`` and a newline (numpy arrays written as numbers)."""
    return orjson.dumps(
        {"id": row_id, "output": output},
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE,
    )


def error_line(row_id: Any, line: int, message: str, code: str = "invalid_input") -> bytes:
    """``{"id", "error": {"code", "message", "line"}}`` and a newline."""
    error = {"code": code, "message": message, "line": line}
    return orjson.dumps({"id": row_id, "error": error}, option=orjson.OPT_APPEND_NEWLINE)
