"""aiaas_dev.invoker: handlers loaded by file, run one at a time on their own event loop."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from aiaas_dev.events import build_event
from aiaas_dev.invoker import (
    FunctionPool,
    FunctionWorker,
    InvocationError,
    LambdaContext,
    load_handler,
)
from aiaas_dev.responses import to_http_response
from aiaas_dev.template import FunctionSpec, load_template

ECHO_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "echo_template.yaml"

# Mangum and asyncio.run() in one handler: asyncio.run() leaves the thread without a loop.
MIXED_HANDLER = """\
import asyncio

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/ok")
async def ok() -> dict[str, bool]:
    return {"ok": True}


mangum = Mangum(app, lifespan="off")


def handler(event, context):
    if event["rawPath"] == "/run":
        return asyncio.run(asyncio.sleep(0, result="ran"))
    if event["rawPath"] == "/sleep":
        import time

        time.sleep(0.5)
        return "slept"
    return mangum(event, context)
"""


def spec_for(code_dir: Path, *, timeout_s: float = 5, name: str = "Mixed") -> FunctionSpec:
    return FunctionSpec(
        logical_id=name, name=name, code_dir=code_dir, handler="app.handler", timeout_s=timeout_s
    )


@pytest.fixture
def echo_worker() -> Iterator[FunctionWorker]:
    worker = FunctionWorker(load_template(ECHO_TEMPLATE).functions["EchoFunction"])
    assert worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def mixed_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(MIXED_HANDLER)
    return tmp_path


def echo(worker: FunctionWorker, path: str, **kwargs: Any) -> Any:
    event = build_event("GET", path, route_key="GET /items", **kwargs)
    response = to_http_response(worker.invoke(event, "req"))
    assert response.status == 200, response.body
    return json.loads(response.body)


def test_mangum_handler_answers_from_many_threads_one_at_a_time(
    echo_worker: FunctionWorker,
) -> None:
    # Given a FastAPI + Mangum handler and calls from 8 threads at once (as the HTTP server
    # makes them), each call sleeping in the event loop
    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(
            pool.map(
                lambda i: echo(echo_worker, f"/items/{i}", raw_query_string="sleep=0.01"),
                range(16),
            )
        )

    # Then every call is answered and no two ran at the same time
    assert [body["path"] for body in bodies] == [f"/items/{i}" for i in range(16)]
    assert max(body["peak_in_flight"] for body in bodies) == 1


def test_mangum_still_works_after_the_handler_ran_asyncio_run(mixed_dir: Path) -> None:
    worker = FunctionWorker(spec_for(mixed_dir))
    assert worker.start()

    assert worker.invoke(build_event("GET", "/run"), "r1") == "ran"
    result = worker.invoke(build_event("GET", "/ok", route_key="GET /ok"), "r2")

    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"ok": True}
    worker.stop()


def test_context_is_shaped_like_lambdas(echo_worker: FunctionWorker) -> None:
    context = echo(echo_worker, "/items")["context"]

    assert context["function_name"] == "EchoFunction"
    assert context["memory_limit_in_mb"] == "256"  # a string, as in the real runtime
    assert 9_000 < context["remaining_ms"] <= 10_000  # Timeout: 10


def test_lambda_context_fields() -> None:
    spec = FunctionSpec("Fn", "my-fn", Path(), "app.handler", memory_mb=1024, timeout_s=3)

    context = LambdaContext(spec, "req-1", time.time() + 3)

    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
    assert (context.function_version, context.aws_request_id) == ("$LATEST", "req-1")
    assert context.log_group_name == "/aws/lambda/my-fn"
    assert "[$LATEST]" in context.log_stream_name
    assert 2_900 < context.get_remaining_time_in_millis() <= 3_000


def test_handler_exception_is_logged_and_raised(
    echo_worker: FunctionWorker, caplog: pytest.LogCaptureFixture
) -> None:
    plain = FunctionWorker(load_template(ECHO_TEMPLATE).functions["PlainFunction"])
    assert plain.start()

    with pytest.raises(InvocationError):
        plain.invoke(build_event("GET", "/plain/boom"), "req-boom")

    assert "req-boom: PlainFunction failed" in caplog.text
    assert "RuntimeError: boom, as asked" in caplog.text
    plain.stop()


def test_timeout(mixed_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    worker = FunctionWorker(spec_for(mixed_dir, timeout_s=0.1))
    assert worker.start()

    started = time.perf_counter()
    with pytest.raises(InvocationError, match="timed out"):
        worker.invoke(build_event("GET", "/sleep"), "req-slow")

    assert time.perf_counter() - started < 0.4
    assert "Task timed out after 0.10 seconds" in caplog.text
    worker.stop()


def test_failed_init_is_retried_on_the_next_invocation(tmp_path: Path) -> None:
    worker = FunctionWorker(spec_for(tmp_path, name="Later"))

    assert worker.start() is False  # app.py does not exist yet
    with pytest.raises(InvocationError):
        worker.invoke(build_event("GET", "/run"), "r1")
    (tmp_path / "app.py").write_text(MIXED_HANDLER)

    assert worker.invoke(build_event("GET", "/run"), "r2") == "ran"
    worker.stop()


def test_load_handler_needs_the_handler_attribute(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent("other = 1\n"))

    with pytest.raises(ImportError, match="has no handler"):
        load_handler(spec_for(tmp_path, name="NoHandler"))


def test_functions_run_on_their_own_threads(mixed_dir: Path) -> None:
    worker = FunctionWorker(spec_for(mixed_dir, name="Threads"))
    assert worker.start()
    seen: list[str] = []

    def record() -> None:
        seen.append(threading.current_thread().name)

    worker._submit(record).result()

    assert seen == ["Threads"]
    worker.stop()


POOLED_HANDLER = """\
import threading
import time
import uuid

ENVIRONMENT = uuid.uuid4().hex  # made once per import: one per execution environment


def handler(event, context):
    time.sleep(0.3)
    return {"environment": ENVIRONMENT, "thread": threading.current_thread().name}
"""


def test_a_pool_scales_out_to_its_size_with_an_environment_per_concurrent_call(
    tmp_path: Path,
) -> None:
    (tmp_path / "app.py").write_text(POOLED_HANDLER)
    pool = FunctionPool(spec_for(tmp_path, name="Pooled"), size=2)
    assert pool.start() and len(pool.environments) == 1  # one cold start up front
    started = time.monotonic()
    with ThreadPoolExecutor(4) as clients:
        answers = list(clients.map(lambda i: pool.invoke({}, f"r{i}"), range(4)))
    elapsed = time.monotonic() - started
    # two environments, each its own import of app.py, each serving two of the four calls
    assert len(pool.environments) == 2
    environments = {a["environment"] for a in answers}
    assert len(environments) == 2
    assert {a["thread"] for a in answers} == {"Pooled", "Pooled-1"}
    assert 0.55 < elapsed < 1.1  # 2 rounds of 0.3 s, not 4 in a row, not 4 at once
    # a quiet pool reuses a warm environment instead of starting another
    assert pool.invoke({}, "again")["environment"] in environments
    assert len(pool.environments) == 2
    pool.stop()
    assert pool.join(5)


def test_a_pool_of_one_serves_one_call_at_a_time(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(POOLED_HANDLER)
    pool = FunctionPool(spec_for(tmp_path, name="Single"), size=1)
    assert pool.start()
    started = time.monotonic()
    with ThreadPoolExecutor(3) as clients:
        answers = list(clients.map(lambda i: pool.invoke({}, f"r{i}"), range(3)))
    assert time.monotonic() - started > 0.85  # queued, none refused
    assert len({a["environment"] for a in answers}) == 1
    pool.stop()
    assert pool.join(5)
