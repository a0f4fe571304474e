"""aiaas_dev.gpu_app: the GPU app's environment, ready line, start/stop and banner line.

A few lines of Python play the app here (a tiny HTTP server that prints the ready line), so
these tests run in a fraction of a second; tests/e2e/test_dev_gpu_app.py runs the real one.
"""

from __future__ import annotations

import logging
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiaas.gpu.__main__ import LISTENING as APP_LISTENING
from aiaas_dev.cli import _gpu_lines, _parser
from aiaas_dev.gpu_app import LISTENING, GpuApp, GpuAppError, gpu_app_environment, listening_url
from aiaas_dev.stack import LocalStack
from aiaas_dev.template import load_template

GPU_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "gpu_template.yaml"

FAKE_APP = """
import http.server

class Ping(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ping" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Ping)
print("loading models")
print("aiaas-gpu listening on http://127.0.0.1:%d" % server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def fake_app() -> Iterator[GpuApp]:
    app = GpuApp({}, command=[sys.executable, "-c", FAKE_APP])
    yield app
    app.stop()


def test_environment_layers_moto_and_the_functions_over_the_process() -> None:
    environment = gpu_app_environment(
        {"PATH": "/bin", "AWS_REGION": "eu-west-1", "AIAAS_GPU_URL": "http://loop"},
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "us-east-1"},
        {"AIAAS_WEIGHTS_BUCKET": "aiaas-local-weights", "AIAAS_GPU_URL": "http://loop"},
    )

    assert environment == {
        "PATH": "/bin",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_REGION": "us-east-1",
        "AIAAS_WEIGHTS_BUCKET": "aiaas-local-weights",
        "PYTHONUNBUFFERED": "1",
    }  # no AIAAS_GPU_URL: the app would forward to itself


def test_ready_line_matches_the_app() -> None:
    assert LISTENING.strip() == APP_LISTENING
    assert listening_url(f"{APP_LISTENING} http://127.0.0.1:8123\n") == "http://127.0.0.1:8123"
    assert listening_url("INFO: Uvicorn running on http://127.0.0.1:8123") is None


def test_start_waits_for_ping_and_forwards_output(
    fake_app: GpuApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiaas_dev.gpu_app")

    url = fake_app.start(timeout_s=10)

    with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
        assert response.status == 200
    assert fake_app.url == url
    assert "[gpu] loading models" in caplog.messages


def test_stop_ends_the_process(fake_app: GpuApp) -> None:
    fake_app.start(timeout_s=10)

    fake_app.stop()

    assert fake_app.process is not None and fake_app.process.poll() is not None
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake_app.url


def test_an_app_that_exits_is_an_error_with_its_output() -> None:
    app = GpuApp({}, command=[sys.executable, "-c", "print('no weights bucket'); exit(3)"])

    with pytest.raises(GpuAppError, match=r"exited with code 3(.|\n)*no weights bucket"):
        app.start(timeout_s=10)


def test_an_app_that_never_gets_ready_is_stopped() -> None:
    app = GpuApp({}, command=[sys.executable, "-c", "import time; print('slow'); time.sleep(60)"])

    with pytest.raises(GpuAppError, match=r"not ready in 0.5 s(.|\n)*slow"):
        app.start(timeout_s=0.5)

    assert app.process is not None and app.process.poll() is not None


def test_banner_names_the_gpu_app(fake_app: GpuApp) -> None:
    stack = LocalStack(load_template(GPU_TEMPLATE), port=0, gpu_app=True)
    assert _gpu_lines(stack) == []  # not started yet

    stack.gpu_app = fake_app
    url = fake_app.start(timeout_s=10)

    assert _gpu_lines(stack)[0] == (
        f"GPU container app (CPU here): {url}, models with runtime gpu are forwarded to it"
    )


def test_banner_names_an_overridden_gpu_url() -> None:
    overrides = {"AIAAS_GPU_URL": "http://gpu.internal:8080"}
    stack = LocalStack(load_template(GPU_TEMPLATE), env_overrides=overrides, gpu_app=True)

    assert stack.gpu_url == "http://gpu.internal:8080"
    assert "(--env AIAAS_GPU_URL): http://gpu.internal:8080" in _gpu_lines(stack)[0]


@pytest.mark.parametrize(
    ("flags", "expected"), [([], False), (["--gpu-app"], True), (["--no-gpu-app"], False)]
)
def test_gpu_app_is_off_unless_asked(flags: list[str], expected: bool) -> None:
    assert _parser().parse_args(["serve", *flags]).gpu_app is expected
