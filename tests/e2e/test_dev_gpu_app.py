"""The local stack with the GPU container app (``python -m aiaas.gpu`` on the CPU).

Runs the GPU fixture template (a weights bucket and the echo function): once in this process
(`LocalStack(..., gpu_app=True)`), to see the app share moto and the functions' environment,
and once as ``python -m aiaas_dev serve --gpu-app``, to see the banner name it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aiaas_dev.stack import LocalStack
from aiaas_dev.template import load_template
from tests.e2e.conftest import start_stack

pytestmark = pytest.mark.e2e

GPU_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "gpu_template.yaml"
SHA256 = "0" * 64


@pytest.fixture
def saved_environ() -> Iterator[None]:
    """The stack writes moto's and the functions' variables into os.environ; put it back."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def invocation(bucket: str) -> dict[str, object]:
    """An Open Inference Protocol request for weights the bucket does not hold."""
    return {
        "inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}],
        "parameters": {
            "model": "missing",
            "version": 1,
            "artifact": f"s3://{bucket}/models/missing/1/model.onnx",
            "sha256": SHA256,
        },
    }


@pytest.mark.usefixtures("saved_environ")
def test_stack_runs_the_gpu_app_until_stop() -> None:
    # Given a stack started with the GPU app
    stack = LocalStack(load_template(GPU_TEMPLATE), port=0, gpu_app=True)
    try:
        stack.start()
        assert stack.gpu_app is not None
        app, url = stack.gpu_app, stack.gpu_app.url

        # Then the functions forward to it, and it answers on moto with their weights bucket
        assert os.environ["AIAAS_GPU_URL"] == url == stack.gpu_url
        assert httpx.get(f"{url}/ping").json() == {"status": "healthy"}
        bucket = os.environ["AIAAS_WEIGHTS_BUCKET"]
        missing = httpx.post(f"{url}/invocations", json=invocation(bucket), timeout=30)
        assert missing.status_code == 404, missing.text
        assert "not in the weights bucket" in missing.json()["error"]
        assert httpx.get(f"{stack.base_url}/items").status_code == 200
    finally:
        # When the stack stops
        stack.stop()

    # Then so does the app
    assert app.process is not None and app.process.poll() is not None
    assert stack.gpu_app is None


@pytest.mark.usefixtures("saved_environ")
def test_an_overridden_gpu_url_starts_no_app() -> None:
    overrides = {"AIAAS_GPU_URL": "http://127.0.0.1:9"}
    stack = LocalStack(
        load_template(GPU_TEMPLATE), port=0, env_overrides=overrides, use_moto=False, gpu_app=True
    )
    try:
        stack.start()

        assert stack.gpu_app is None
        assert os.environ["AIAAS_GPU_URL"] == stack.gpu_url == "http://127.0.0.1:9"
    finally:
        stack.stop()


def test_serve_gpu_app_names_it_in_the_banner() -> None:
    running = start_stack(GPU_TEMPLATE, extra_args=["--gpu-app"])
    try:
        found = re.search(r"GPU container app \(CPU here\): (http://\S+?),", running.output())
        assert found, running.output()
        assert "models with runtime gpu are forwarded to it" in running.output()
        assert httpx.get(f"{found.group(1)}/ping").status_code == 200
    finally:
        running.stop()

    assert "aiaas-dev stopped" in running.output()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{found.group(1)}/ping")
