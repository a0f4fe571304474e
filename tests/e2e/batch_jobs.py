"""Batch jobs through the public API, for the e2e tests: a key, a job with its input, the end."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

FINISHED = {"SUCCEEDED", "PARTIALLY_FAILED", "FAILED", "CANCELLED"}


def batch_headers(http: httpx.Client, token: str) -> dict[str, str]:
    """Headers with a new key of the ``batch`` scope, made with a login token."""
    key = http.post(
        "/v1/keys",
        json={"name": "jobs", "scopes": ["batch"]},
        headers={"authorization": f"Bearer {token}"},
    )
    assert key.status_code == 201, key.text
    return {"x-api-key": key.json()["key"]}


def submit(
    http: httpx.Client, headers: dict[str, str], model: str, data: bytes, fmt: str = "jsonl"
) -> dict[str, Any]:
    """Create a job and upload its input with the presigned POST (plain HTTP)."""
    created = http.post(
        "/v1/batch-jobs", json={"model": model, "input_format": fmt}, headers=headers
    )
    assert created.status_code == 201, created.text
    job: dict[str, Any] = created.json()
    assert job["status"] == "UPLOADING"
    upload = job["upload"]
    sent = httpx.post(upload["url"], data=upload["fields"], files={"file": ("in", data)})
    assert sent.status_code in (200, 204), sent.text
    return job


def wait_for_job(
    http: httpx.Client, headers: dict[str, str], job_id: str, timeout_s: float = 240
) -> dict[str, Any]:
    """Poll the job until it finished; fails the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(f"/v1/batch-jobs/{job_id}", headers=headers).json()
        if job["status"] in FINISHED:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def output(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The finished job's output rows, by its presigned link."""
    answer = httpx.get(job["output_url"], timeout=60)
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.content.splitlines()]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    """Rows as a JSONL file."""
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)
