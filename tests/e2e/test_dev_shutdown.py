"""SIGTERM in the middle of a batch job (issue #19 item 17): the local stack stops its
pollers, lets or leaves the running invocation, and exits 0 without an abort."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.accounts import new_account
from tests.e2e.batch_jobs import batch_headers, jsonl, submit
from tests.e2e.conftest import start_stack

pytestmark = pytest.mark.e2e


def test_sigterm_during_a_batch_job_exits_cleanly(models_dir: Path) -> None:
    stack = start_stack(env={"AIAAS_MODELS_DIR": str(models_dir)})
    try:
        assert stack.base_url is not None
        with httpx.Client(base_url=stack.base_url, timeout=30) as http:
            headers = batch_headers(http, new_account(http)["token"])
            texts = [f"sentence {i} about the local stack shutting down" for i in range(3000)]
            job = submit(http, headers, "all-minilm-l6-v2",
                         jsonl([{"id": i, "input": t} for i, t in enumerate(texts)]))  # fmt: skip
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until chunks are being scored
                status = http.get(f"/v1/batch-jobs/{job['id']}", headers=headers).json()
                if status["status"] == "RUNNING":
                    break
                time.sleep(0.1)
            assert status["status"] == "RUNNING", status
        stack.process.send_signal(signal.SIGTERM)
        code = stack.process.wait(timeout=60)
    finally:
        if stack.process.poll() is None:
            stack.stop()
    output = stack.output()
    assert code == 0, output[-3000:]
    assert "terminate called" not in output and "Traceback" not in output, output[-3000:]
    assert "aiaas-dev stopped" in output
