"""E2E fixtures: the local stack (``python -m aiaas_dev serve``) in a subprocess on loopback.

``local_stack`` serves the repository's ``template.yaml``; ``local_stack_factory`` serves any
template (``factory(path, stage=..., env={...}, extra_args=[...])``). Both give the base URL,
with the stage prefix for a named stage, and stop their servers when the session ends.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest

from aiaas_dev.cli import READY_LINE_PREFIX
from tests.e2e.accounts import new_account

ROOT = Path(__file__).resolve().parents[2]
REPO_TEMPLATE = ROOT / "template.yaml"
CONSOLE_DIR = ROOT / "build" / "console"
STARTUP_TIMEOUT_S = float(os.environ.get("AIAAS_DEV_STARTUP_TIMEOUT_S", "60"))
STOP_TIMEOUT_S = 10.0

StackFactory = Callable[..., str]
RUNNING: dict[str, RunningStack] = {}  # base URL -> stack, to read what it printed


@dataclass
class RunningStack:
    """One ``serve`` subprocess and everything it printed (stdout and stderr)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    base_url: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)

    def read_output(self) -> None:
        """Collect output until the process closes it; note the URL from the ready line."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith(READY_LINE_PREFIX) and self.base_url is None:
                self.base_url = line.removeprefix(READY_LINE_PREFIX).strip()
                self.ready.set()
        self.ready.set()  # the process ended: stop waiting

    def output(self) -> str:
        """What the process printed so far."""
        return "".join(self.lines)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _accepts_connections(base_url: str, deadline: float) -> bool:
    parts = urlsplit(base_url)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((parts.hostname, parts.port or 80), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_stack(
    template: Path | str = REPO_TEMPLATE,
    *,
    stage: str | None = None,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
) -> RunningStack:
    """Start ``python -m aiaas_dev serve`` on a free loopback port and wait until it serves.

    Args:
        template: The SAM template to serve.
        stage: ``--stage``, over the template's StageName.
        env: ``--env`` values for the functions.
        extra_args: More ``serve`` arguments (``--no-moto``, ``--param K=V`` ...).

    Returns:
        The running stack; `RunningStack.base_url` is set.
    """
    command = [sys.executable, "-m", "aiaas_dev", "serve", "--template", str(template)]
    command += ["--host", "127.0.0.1", "--port", "0", *extra_args]
    command += ["--stage", stage] if stage else []
    for key, value in (env or {}).items():
        command += ["--env", f"{key}={value}"]
    process = subprocess.Popen(  # our own command line
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    stack = RunningStack(process)
    threading.Thread(target=stack.read_output, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    stack.ready.wait(STARTUP_TIMEOUT_S)
    if stack.base_url is None or not _accepts_connections(stack.base_url, deadline):
        stack.stop()
        pytest.fail(
            f"the local stack did not start within {STARTUP_TIMEOUT_S:.0f} s "
            f"(exit code {process.poll()}): {' '.join(command)}\n--- its output ---\n"
            f"{stack.output()}",
            pytrace=False,
        )
    return stack


@pytest.fixture(scope="session")
def local_stack_factory() -> Iterator[StackFactory]:
    """Start local stacks for any template; gives ``factory(template, ...) -> base URL``."""
    stacks: list[RunningStack] = []

    def factory(template: Path | str = REPO_TEMPLATE, **options: object) -> str:
        stack = start_stack(template, **options)  # type: ignore[arg-type]
        stacks.append(stack)
        assert stack.base_url is not None
        RUNNING[stack.base_url] = stack
        return stack.base_url

    yield factory
    for stack in stacks:
        stack.stop()


@pytest.fixture(scope="session")
def local_stack(local_stack_factory: StackFactory) -> str:
    """The repository's template served locally; gives the base URL (``http://127.0.0.1:N``).

    The functions read the models from ``AIAAS_MODELS_DIR`` when it is set (the template's
    ``/opt/models`` is where the layer lands in Lambda).
    """
    env = {}
    if "AIAAS_MODELS_DIR" in os.environ:
        env["AIAAS_MODELS_DIR"] = os.environ["AIAAS_MODELS_DIR"]
    # the web console's built files (make console), as `make run` serves them
    console = ["--console", str(CONSOLE_DIR)]
    return local_stack_factory(REPO_TEMPLATE, env=env, extra_args=console)


@pytest.fixture(scope="module")
def http(local_stack: str) -> Iterator[httpx.Client]:
    """A client of the shared stack, per test module (a module may define its own)."""
    with httpx.Client(base_url=local_stack, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def account(http: httpx.Client) -> dict[str, Any]:
    """A new account of the module's own (its ``key`` holds every scope an API key may)."""
    return new_account(http)


@pytest.fixture(scope="module")
def key(account: dict[str, Any]) -> dict[str, str]:
    """The module account's API key header."""
    return {"x-api-key": account["key"]}


@pytest.fixture(scope="session")
def local_moto(local_stack: str) -> str:
    """The endpoint of the moto server behind ``local_stack`` (tests read and seed AWS there)."""
    match = re.search(r"moto at (http://\S+?);", RUNNING[local_stack].output())
    assert match, RUNNING[local_stack].output()
    return match.group(1)


def moto_clients(stack: RunningStack) -> Callable[[str], Any]:
    """boto3 clients for the moto server a ``serve`` subprocess printed it started."""
    match = re.search(r"moto at (http://\S+?);", stack.output())
    assert match, stack.output()
    endpoint = match.group(1)

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


def wait_for(check: Callable[[], Any], timeout_s: float) -> Any:
    """Poll ``check`` until it returns something truthy; ``None`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    return None
