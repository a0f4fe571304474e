"""The GPU container app (``python -m aiaas.gpu``) as a local process next to the functions.

In AWS it runs behind a SageMaker endpoint; locally it runs on the CPU on a loopback port, with
the functions' environment (the weights bucket's local name) and moto's. The functions forward
models whose runtime is ``gpu`` to it through ``AIAAS_GPU_URL``. Its output goes to this
stack's log, each line prefixed with ``[gpu] ``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Mapping, Sequence

logger = logging.getLogger(__name__)

GPU_URL_VARIABLE = "AIAAS_GPU_URL"  # the functions forward `gpu` models to this base URL
LISTENING = "aiaas-gpu listening on "  # what `python -m aiaas.gpu` prints once it serves
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
OUTPUT_LINES = 200  # the last lines kept for error messages


class GpuAppError(RuntimeError):
    """The GPU app exited or did not answer in time; the message carries its output."""


def gpu_app_environment(
    base: Mapping[str, str], aws: Mapping[str, str], functions: Mapping[str, str]
) -> dict[str, str]:
    """The app's environment: the process's, then moto's, then the functions' variables.

    Args:
        base: The current environment (``os.environ``).
        aws: moto's endpoint and dummy credentials (`aiaas_dev.aws.aws_environment`).
        functions: The functions' merged variables, ``--env`` included (``AIAAS_*``).

    Returns:
        The variables, unbuffered output on, without ``AIAAS_GPU_URL`` (the app is the target).
    """
    environment = {**base, **aws, **functions, "PYTHONUNBUFFERED": "1"}
    environment.pop(GPU_URL_VARIABLE, None)
    return environment


def listening_url(line: str) -> str | None:
    """The base URL in the app's ready line, or None for any other line."""
    _, found, url = line.partition(LISTENING)
    return (url.strip() or None) if found else None


class GpuApp:
    """``python -m aiaas.gpu`` on a free loopback port, its output forwarded to the log."""

    def __init__(
        self,
        environment: Mapping[str, str],
        *,
        host: str = "127.0.0.1",
        command: Sequence[str] | None = None,
    ) -> None:
        """Create the app (call `start`).

        Args:
            environment: The app's whole environment (`gpu_app_environment`).
            host: The address to bind.
            command: The command line; defaults to this interpreter running ``aiaas.gpu``.
        """
        self.environment = dict(environment)
        self.command = list(command or [sys.executable, "-m", "aiaas.gpu"])
        self.command += ["--host", host, "--port", "0"]
        self.process: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=OUTPUT_LINES)
        self._url: str | None = None
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT``, the value of ``AIAAS_GPU_URL``."""
        if self._url is None:
            raise RuntimeError("the GPU app is not running")
        return self._url

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """Start the process, wait for its ready line, then for ``GET /ping`` to answer 200.

        Args:
            timeout_s: How long to wait in all.

        Returns:
            The base URL.

        Raises:
            GpuAppError: The app exited or was not ready in time (it is stopped then).
        """
        deadline = time.monotonic() + timeout_s
        self.process = subprocess.Popen(  # noqa: S603  # our own interpreter and module
            self.command,
            env=self.environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_output, name="gpu-app", daemon=True)
        self._reader.start()
        self._listening.wait(timeout_s)
        if self._url is None or not _ping(self._url, deadline):
            message = self._failure(timeout_s)
            self.stop()
            raise GpuAppError(message)
        logger.info("GPU app ready at %s", self._url)
        return self._url

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end in time; wait for its output to close."""
        process, self._url = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT_S)

    def _read_output(self) -> None:
        """Forward each line to the log; note the URL from the ready line."""
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            self.output.append(line)
            logger.info("[gpu] %s", line)
            url = listening_url(line)
            if url is not None and self._url is None:
                self._url = url
                self._listening.set()
        self._listening.set()  # the process ended: stop waiting

    def _failure(self, timeout_s: float) -> str:
        """Why `start` failed, with the app's last lines."""
        assert self.process is not None
        ended = self._url is None and self._listening.is_set()  # its output closed early
        try:
            code = self.process.wait(STOP_TIMEOUT_S) if ended else self.process.poll()
        except subprocess.TimeoutExpired:
            code = None
        why = f"exited with code {code}" if code is not None else f"not ready in {timeout_s:g} s"
        output = "\n".join(self.output) or "(no output)"
        return f"the GPU app {why}: {' '.join(self.command)}\n--- its output ---\n{output}"


def _ping(base_url: str, deadline: float) -> bool:
    """Whether ``GET /ping`` answers 200 before the deadline (retrying refused connections)."""
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/ping", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError) as exc:
            logger.debug("GPU app /ping: %s", exc)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
