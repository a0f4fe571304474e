"""The local stack: moto, the functions' environment, their workers, the HTTP server and the
event source pollers (S3 and SQS).

Start order matters: moto and ``os.environ`` first (and the GPU container app, whose URL the
functions read once), then the handlers are imported (each in its function's worker thread),
then the server binds. All functions share this one process, so
they share ``os.environ``: a variable two functions set differently takes the last value (a
warning says so).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiaas_dev.authorizer import Authorizer
from aiaas_dev.aws import MotoServer, aws_environment, provision_resources, provisioned_values
from aiaas_dev.gpu_app import GPU_URL_VARIABLE, GpuApp, gpu_app_environment
from aiaas_dev.invoker import FunctionPool
from aiaas_dev.pollers import EventPoller, stop_pollers, wait_all_idle
from aiaas_dev.provisioners import Provisioned
from aiaas_dev.routes import RouteTable
from aiaas_dev.s3_poller import S3EventPoller, start_s3_event_sources
from aiaas_dev.schedules import Scheduler
from aiaas_dev.server import Gateway, GatewayHTTPServer
from aiaas_dev.sqs_poller import SQSEventPoller, start_sqs_event_sources
from aiaas_dev.state import load_state, save_state
from aiaas_dev.static import StaticFiles
from aiaas_dev.template import FunctionSpec, Template

DEFAULT_CONCURRENCY = 4  # execution environments per function, at most (--concurrency)

logger = logging.getLogger(__name__)


def function_environment(
    functions: Iterable[FunctionSpec], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Merge the functions' environment variables into one process environment.

    Args:
        functions: The functions, each with its resolved variables.
        overrides: ``--env`` values; they win over the template.

    Returns:
        The variables to put in ``os.environ``.
    """
    merged: dict[str, str] = {}
    for spec in functions:
        for key, value in spec.environment.items():
            if key in merged and merged[key] != value:
                logger.warning(
                    "%s differs between functions; %s sets %r", key, spec.logical_id, value
                )
            merged[key] = value
    merged.update(overrides or {})
    return merged


class LocalStack:
    """Serves a template's HttpApi routes on loopback, functions in-process, AWS on moto."""

    def __init__(
        self,
        template: Template,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        env_overrides: Mapping[str, str] | None = None,
        use_moto: bool = True,
        gpu_app: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        state_dir: Path | None = None,
        schedules: bool = True,
        console_dir: Path | None = None,
    ) -> None:
        """Create the stack (call `start`).

        Args:
            template: The parsed template.
            host: The address to bind.
            port: The port to bind; 0 picks a free one.
            env_overrides: ``--env`` values, over the template's and moto's.
            use_moto: Start moto and point boto3 at it.
            gpu_app: Start the GPU container app (needs moto) and set ``AIAAS_GPU_URL`` to
                it, unless ``env_overrides`` sets ``AIAAS_GPU_URL``.
            concurrency: The most execution environments each function runs at once.
            state_dir: Where moto's contents are saved at `stop` and loaded at `start`
                (``--state``; see ``aiaas_dev.state``); None keeps them in memory only.
            schedules: Run ``rate(...)`` schedules on their rate (False: on demand only,
                ``--no-schedules``; see ``aiaas_dev.schedules``).
            console_dir: The web console's built files, served for every GET no route
                takes (``--console``); None serves the API only.
        """
        self.template = template
        self.host = host
        self.port = port
        self.env_overrides = dict(env_overrides or {})
        self.moto = MotoServer(host) if use_moto else None
        self.want_gpu_app = gpu_app
        self.gpu_app: GpuApp | None = None
        self.concurrency = concurrency
        self.state_dir = state_dir
        self.console_dir = console_dir
        self.workers: dict[str, FunctionPool] = {}
        self.provisioned: list[Provisioned] = []
        self.s3_pollers: list[S3EventPoller] = []
        self.sqs_pollers: list[SQSEventPoller] = []
        self.scheduler = Scheduler(template.schedules, self.workers, on_demand_only=not schedules)
        self._httpd: GatewayHTTPServer | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` plus the stage prefix for a named stage."""
        if self._httpd is None:
            raise RuntimeError("the local stack is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{self.table.prefix}"

    @property
    def gpu_url(self) -> str | None:
        """Where the functions forward ``gpu`` models: the GPU app, ``--env``, or None."""
        if self.gpu_app is not None:
            return self.gpu_app.url
        return self.env_overrides.get(GPU_URL_VARIABLE) or None

    @property
    def table(self) -> RouteTable:
        """The route table."""
        return RouteTable(self.template.routes, self.template.stage)

    def start(self) -> str:
        """Start moto and create resources, set the environment, import handlers, then serve.

        The functions' environments are resolved again once the resources exist (a secret's
        ``Ref`` is the ARN moto made); the GPU app starts before the handlers are imported;
        the server runs in a thread.

        Returns:
            The base URL.

        Raises:
            GpuAppError: The GPU app did not start.
        """
        if self.moto is not None:
            os.environ.update(aws_environment(self.moto.start()))
            self._provision()
            self._load_state()
        environment = function_environment(self.template.functions.values(), self.env_overrides)
        os.environ.update(environment)
        if self.moto is not None:
            seed_s3_builtins(environment)
        self._start_gpu_app(environment)
        for logical_id, spec in self.template.functions.items():
            self.workers[logical_id] = FunctionPool(spec, self.concurrency)
            self.workers[logical_id].start()
        authorizers = {
            name: Authorizer(spec, self.workers[spec.function])
            for name, spec in self.template.authorizers.items()
        }
        self._start_event_sources()
        self.scheduler.start()
        console = StaticFiles(self.console_dir) if self.console_dir is not None else None
        gateway = Gateway(self.table, self.workers, authorizers, self.scheduler, console)
        self._httpd = GatewayHTTPServer((self.host, self.port), gateway)
        threading.Thread(
            target=self._httpd.serve_forever, args=(0.1,), name="http", daemon=True
        ).start()
        return self.base_url

    def run_schedule(self, function: str) -> Any:
        """Run a scheduled function now, as its EventBridge rule would; its result.

        Raises:
            KeyError: The function has no schedule.
        """
        return self.scheduler.run_now(function)

    def wait_s3_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until every S3 notification sent so far has been delivered or dropped.

        Args:
            timeout_s: How long to wait, for each event source.

        Returns:
            Whether all pollers went idle in time.
        """
        return all([poller.wait_idle(timeout_s) for poller in self.s3_pollers])

    def wait_sqs_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until every SQS message sent so far has been deleted or moved to its DLQ.

        Args:
            timeout_s: How long to wait, for each event source.

        Returns:
            Whether all pollers went idle in time.
        """
        return all([poller.wait_idle(timeout_s) for poller in self.sqs_pollers])

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until the whole pipeline is quiet: every S3 and SQS source idle, twice in a row.

        A handler may upload or send messages that another source (or its own) delivers;
        this waits for those too.

        Args:
            timeout_s: How long to wait in all.

        Returns:
            Whether everything went idle in time.
        """
        return wait_all_idle(self.pollers, timeout_s)

    @property
    def pollers(self) -> list[EventPoller]:
        """Every running event source poller, S3 then SQS."""
        return [*self.s3_pollers, *self.sqs_pollers]

    def stop(self, drain_s: float = 20.0) -> list[str]:
        """Stop serving and polling, let the workers finish what they run (up to
        ``drain_s``), stop moto; the functions still running then (abandoned)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        stop_pollers(self.pollers)
        self.scheduler.stop()
        self.s3_pollers, self.sqs_pollers = [], []
        for worker in self.workers.values():
            worker.stop()
        deadline = time.monotonic() + drain_s
        busy = [
            logical_id
            for logical_id, worker in self.workers.items()
            if not worker.join(max(0.0, deadline - time.monotonic()))
        ]
        if self.gpu_app is not None:
            self.gpu_app.stop()
            self.gpu_app = None
        if self.moto is not None:
            self._save_state()
            self.moto.stop()
        return busy

    def _load_state(self) -> None:
        """Before any function or event source starts: no S3 event fires for what returns."""
        if self.state_dir is None:
            return
        import boto3  # noqa: PLC0415  # only with moto

        counts = load_state(boto3.Session(), self.provisioned, self.state_dir)
        logger.info("state loaded from %s: %s", self.state_dir, counts or "nothing saved yet")

    def _save_state(self) -> None:
        if self.state_dir is None:
            return
        import boto3  # noqa: PLC0415  # only with moto

        try:
            counts = save_state(boto3.Session(), self.provisioned, self.state_dir)
        except Exception:
            logger.exception("saving the state to %s failed (the last one stays)", self.state_dir)
            return
        logger.info("state saved to %s: %s", self.state_dir, counts)

    def _start_event_sources(self) -> None:
        if not (self.template.s3_events or self.template.sqs_events):
            return
        if self.moto is None:
            logger.warning("S3 and SQS event sources need moto: not started (--no-moto)")
            return
        import boto3  # noqa: PLC0415  # only with moto

        session = boto3.Session()
        self.s3_pollers = start_s3_event_sources(self.template.s3_events, self.workers, session)
        self.sqs_pollers = start_sqs_event_sources(self.template.sqs_events, self.workers, session)

    def _start_gpu_app(self, environment: dict[str, str]) -> None:
        """Start the GPU app with the functions' environment and point them at it."""
        if not self.want_gpu_app or GPU_URL_VARIABLE in self.env_overrides:
            return
        if self.moto is None:
            logger.warning("the GPU app needs moto (its weights bucket): not started (--no-moto)")
            return
        aws = aws_environment(self.moto.endpoint_url)
        self.gpu_app = GpuApp(gpu_app_environment(os.environ, aws, environment))
        os.environ[GPU_URL_VARIABLE] = self.gpu_app.start()

    def _provision(self) -> None:
        import boto3  # noqa: PLC0415  # only with moto

        self.provisioned = provision_resources(self.template, boto3.Session())
        self.template = self.template.with_resource_values(provisioned_values(self.provisioned))


def seed_s3_builtins(environment: dict[str, str]) -> list[str]:
    """What ``make seed`` does after a deploy: built models the layer does not carry
    (``AIAAS_LAYER_MODELS``) go to the weights bucket as public built-ins."""
    import boto3  # noqa: PLC0415  # only with moto

    from aiaas.registration.seed import not_in_layer  # noqa: PLC0415
    from aiaas.registration.seed import seed_s3_builtins as seed  # noqa: PLC0415
    from aiaas.repositories.models import DynamoCatalog  # noqa: PLC0415
    from aiaas.repositories.weights import S3Weights  # noqa: PLC0415

    models_dir = Path(environment.get("AIAAS_MODELS_DIR", ""))
    layer = [n.strip() for n in environment.get("AIAAS_LAYER_MODELS", "").split(",") if n.strip()]
    table, bucket = environment.get("AIAAS_MODELS_TABLE"), environment.get("AIAAS_WEIGHTS_BUCKET")
    if not layer or not table or not bucket or not models_dir.is_dir():
        return []  # every built model is in the layer, or there is no catalog
    manifests = not_in_layer(models_dir, layer)
    if not manifests:
        return []
    store = DynamoCatalog(boto3.client("dynamodb"), table)
    # built-ins the GPU container serves (make seed's --gpu), as --env AIAAS_GPU_BUILTINS=a,b
    gpu = {n.strip() for n in environment.get("AIAAS_GPU_BUILTINS", "").split(",") if n.strip()}
    seeded = seed(store, S3Weights(boto3.client("s3"), bucket), manifests, gpu)
    logger.info("built-ins served from S3: %s", ", ".join(seeded))
    return seeded
