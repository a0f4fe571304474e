"""Lambda execution environments inside one process.

A worker thread plays one execution environment: it imports the handler there (the cold
start: ``app.py`` runs again, under a module name of its own, so each environment builds its
own services, caches and sessions), owns an asyncio event loop (Mangum needs a current loop
in the thread it runs on) and runs one invocation at a time, as Lambda runs one request at a
time per environment. A `FunctionPool` scales a function out as Lambda does: a request that
finds every environment busy starts a new one, up to the pool's size (``--concurrency``);
past that, requests wait for the first environment to free up. All environments share the
process, its ``os.environ`` and the modules ``app.py`` imports.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Protocol

from aiaas_dev.cfn import PSEUDO_PARAMETERS
from aiaas_dev.template import FunctionSpec

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
_Job = tuple[Callable[[], Any], Future[Any]]


class Invoker(Protocol):
    """What runs a function's invocations: a `FunctionWorker` or a `FunctionPool`."""

    spec: FunctionSpec

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        """Run the handler on ``event``; InvocationError if it failed."""
        ...


class InvocationError(Exception):
    """The invocation failed: init error, handler exception or timeout (API Gateway: 500)."""


class LambdaContext:
    """The context object Lambda's Python runtime passes to a handler.

    ``memory_limit_in_mb`` is a string, as in the real runtime (it reads an env variable).
    """

    def __init__(self, spec: FunctionSpec, request_id: str, deadline_s: float) -> None:
        """Create the context of one invocation.

        Args:
            spec: The function.
            request_id: ``aws_request_id``.
            deadline_s: When the invocation times out, as ``time.time()`` seconds.
        """
        region = PSEUDO_PARAMETERS["AWS::Region"]
        account = PSEUDO_PARAMETERS["AWS::AccountId"]
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{spec.name}"
        self.memory_limit_in_mb = str(spec.memory_mb)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self.log_stream_name = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        self.client_context: Any = None
        self.identity: Any = None
        self._deadline_ms = int(deadline_s * 1000)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's ``Timeout``."""
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def load_handler(spec: FunctionSpec, instance: int = 0) -> Handler:
    """Import a function's handler by file path, under a module name unique to the function
    and its execution environment.

    Args:
        spec: The function (``CodeUri`` + ``Handler``).
        instance: Which environment of the function (each imports its own module).

    Returns:
        The handler callable.

    Raises:
        ImportError: The file is missing or the handler is not in it.
        Exception: Whatever the module raises while it is imported.
    """
    module_name = f"_aiaas_dev_function_{spec.logical_id}" + (f"_{instance}" if instance else "")
    location = importlib.util.spec_from_file_location(module_name, spec.handler_file)
    if location is None or location.loader is None or not spec.handler_file.is_file():
        raise ImportError(f"{spec.logical_id}: no handler module at {spec.handler_file}")
    module: ModuleType = importlib.util.module_from_spec(location)
    sys.modules[module_name] = module  # pydantic and dataclasses look their module up here
    try:
        location.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    finally:
        # app.py freezes what its init made (aiaas.coldstart), as one Lambda environment
        # may; this process hosts many, so their objects stay collectable
        gc.unfreeze()
    handler = getattr(module, spec.handler_attr, None)
    if not callable(handler):
        raise ImportError(f"{spec.logical_id}: {spec.handler_file} has no {spec.handler_attr}")
    return handler  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Streamed:
    """A streamed HTTP response: status and headers now, the body as it comes."""

    status: int
    headers: list[tuple[str, str]]
    chunks: Iterator[bytes]


class FunctionWorker:
    """One function's execution environment: a thread, its event loop, one call at a time."""

    def __init__(self, spec: FunctionSpec, instance: int = 0) -> None:
        """Create the worker (call `start` to run the thread and import the handler).

        Args:
            spec: The function.
            instance: Which of the function's environments this is (0: the first).
        """
        self.spec = spec
        self.instance = instance
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        name = spec.logical_id + (f"-{instance}" if instance else "")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handler: Handler | None = None

    def start(self) -> bool:
        """Start the thread and import the handler there (the cold start).

        Returns:
            Whether the import worked; if not, the error is logged and every invocation
            tries again, as Lambda retries a failed init on the next request.
        """
        self._thread.start()
        try:
            self._submit(self._init).result()
        except Exception:  # logged by _init
            return False
        return True

    def stop(self) -> None:
        """Let the thread finish the queued invocations and end (does not wait)."""
        self._jobs.put(None)

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end (after `stop`); whether it did within ``timeout``."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        """Run the handler on ``event``, after the invocations queued before it.

        Args:
            event: The event.
            request_id: The Lambda request ID (``context.aws_request_id``).

        Returns:
            What the handler returned.

        Raises:
            InvocationError: Init failed, the handler raised, or it ran past ``Timeout``
                (it then keeps running in the background and the function stays busy).
        """
        started = threading.Event()

        def call() -> Any:
            started.set()
            return self._call(event, request_id)

        future = self._submit(call)
        started.wait()
        try:
            return future.result(timeout=self.spec.timeout_s)
        except TimeoutError:
            logger.error("%s: Task timed out after %.2f seconds", request_id, self.spec.timeout_s)
            raise InvocationError("timed out") from None
        except Exception as exc:  # logged by _call, with the handler's traceback
            raise InvocationError(str(exc)) from exc

    def invoke_stream(self, event: dict[str, Any], request_id: str) -> Streamed | None:
        """Run an HTTP API event through the function's ASGI app, handing back its response
        as the app sends it (Lambda's response streaming): the status and headers, then body
        chunks as they are produced. None when the handler is not an ASGI app in Mangum.

        Raises:
            InvocationError: The app failed before it started its response, or did not
                start one within ``Timeout``.
        """
        handler = self._handler or self._submit(self._init).result()
        app, infer = getattr(handler, "app", None), getattr(handler, "infer", None)
        if app is None or infer is None:
            return None
        messages: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._submit(lambda: self._run_app(app, infer, event, request_id, messages.put))
        try:
            first = messages.get(timeout=self.spec.timeout_s)
        except queue.Empty:
            raise InvocationError("timed out") from None
        if first is None or first.get("type") != "http.response.start":
            raise InvocationError("the app sent no response")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in first.get("headers", [])]

        def chunks() -> Iterator[bytes]:
            while (message := messages.get()) is not None:
                if message.get("type") == "http.response.body" and message.get("body"):
                    yield bytes(message["body"])

        return Streamed(int(first["status"]), headers, chunks())

    def _run_app(
        self,
        app: Any,
        infer: Any,
        event: dict[str, Any],
        request_id: str,
        put: Callable[[dict[str, Any] | None], None],
    ) -> None:
        """In the worker's thread: the ASGI app on Mangum's scope for ``event``, every
        message it sends handed to ``put``, then None."""
        self._use_event_loop()
        assert self._loop is not None
        context = LambdaContext(self.spec, request_id, time.time() + self.spec.timeout_s)
        adapter = infer(event, context)
        request = [{"type": "http.request", "body": adapter.body, "more_body": False}]
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if request:
                return request.pop()
            await done.wait()  # the client is there until the response has been sent
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            put(message)
            if message.get("type") == "http.response.body" and not message.get("more_body"):
                done.set()

        try:
            self._loop.run_until_complete(app(adapter.scope, receive, send))
        except Exception:
            logger.exception("%s: %s failed", request_id, self.spec.logical_id)
        finally:
            put(None)

    def _submit(self, job: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((job, future))
        return future

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)
        if self._loop is not None:
            self._loop.close()

    def _use_event_loop(self) -> None:
        """Give this thread a usable current loop (an ``asyncio.run`` may have cleared it)."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

    def _init(self) -> Handler:
        self._use_event_loop()
        started = time.perf_counter()
        try:
            self._handler = load_handler(self.spec, self.instance)
        except Exception:
            logger.exception("%s: init failed", self.spec.logical_id)
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info("%s: Init Duration: %.2f ms", self.spec.logical_id, elapsed_ms)
        return self._handler

    def _call(self, event: dict[str, Any], request_id: str) -> Any:
        handler = self._handler or self._init()
        self._use_event_loop()
        context = LambdaContext(self.spec, request_id, time.time() + self.spec.timeout_s)
        started = time.perf_counter()
        try:
            return handler(event, context)
        except Exception:
            logger.exception("%s: %s failed", request_id, self.spec.logical_id)
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.info(
                "%s: REPORT RequestId: %s Duration: %.2f ms",
                self.spec.logical_id,
                request_id,
                elapsed_ms,
            )


class FunctionPool:
    """A function's execution environments: one at start, more on demand up to ``size``.

    Lambda runs concurrent requests in separate environments, starting (cold) a new one when
    every existing one is busy; so does the pool, up to ``size`` (a reserved concurrency).
    Past it, a request waits for the first environment to free up; none is refused.
    """

    def __init__(self, spec: FunctionSpec, size: int = 1) -> None:
        """Create the pool (call `start` for the first environment).

        Args:
            spec: The function.
            size: The most environments it may run at once.
        """
        if size < 1:
            raise ValueError("a function needs at least one execution environment")
        self.spec = spec
        self.size = size
        self.environments: list[FunctionWorker] = []
        self._idle: list[FunctionWorker] = []
        self._changed = threading.Condition()

    def start(self) -> bool:
        """Start the first environment (the cold start at the stack's start); whether its
        init worked (if not, the next invocation tries again, as Lambda does)."""
        worker = FunctionWorker(self.spec)
        with self._changed:
            self.environments.append(worker)
        ok = worker.start()
        self._release(worker)
        return ok

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        """Run the handler in an idle environment, a new one if all are busy and the pool
        has room, or the first to free up (see `FunctionWorker.invoke`)."""
        worker = self._acquire()
        try:
            return worker.invoke(event, request_id)
        finally:
            self._release(worker)

    def invoke_stream(self, event: dict[str, Any], request_id: str) -> Streamed | None:
        """`FunctionWorker.invoke_stream` in an environment held until the body is read."""
        worker = self._acquire()
        try:
            streamed = worker.invoke_stream(event, request_id)
        except BaseException:
            self._release(worker)
            raise
        if streamed is None:
            self._release(worker)
            return None

        def chunks() -> Iterator[bytes]:
            try:
                yield from streamed.chunks
            finally:
                self._release(worker)

        return Streamed(streamed.status, streamed.headers, chunks())

    def stop(self) -> None:
        """Stop every environment after what it has queued (does not wait)."""
        with self._changed:
            environments = list(self.environments)
        for worker in environments:
            worker.stop()

    def join(self, timeout: float) -> bool:
        """Wait for every environment to end (after `stop`); whether all did in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            environments = list(self.environments)
        return all(w.join(max(0.0, deadline - time.monotonic())) for w in environments)

    def _acquire(self) -> FunctionWorker:
        with self._changed:
            while not self._idle and len(self.environments) >= self.size:
                self._changed.wait()
            if self._idle:
                return self._idle.pop()
            worker = FunctionWorker(self.spec, instance=len(self.environments))
            self.environments.append(worker)
        logger.info("%s: a new execution environment (%d)", self.spec.logical_id, worker.instance)
        worker.start()  # its cold start, outside the lock; a failed init retries per call
        return worker

    def _release(self, worker: FunctionWorker) -> None:
        with self._changed:
            self._idle.append(worker)
            self._changed.notify()
