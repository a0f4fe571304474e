"""The composition root: one `Services` object per function, built once at cold start.

``functions/<name>/app.py`` calls the builder of its function (`predict_services`,
`auth_services`...), which checks every setting that function will need (the registered-model
path included) and wires the objects it uses; the object is then passed into
``create_*_app(services)`` or a plain handler's factory. Tests build their own.

AWS clients are made on first use (`LazyClient`), never at import or build time: moto must be
running first, and a function pays for boto3's import (~300 ms) only on the path that needs
it. Modules a function's layers may lack (the inference runtime, the batch package) are
imported inside the members that need them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aiaas.aws.lite import LiteClient
from aiaas.domain.catalog import CatalogService
from aiaas.domain.usage import UsageService
from aiaas.repositories.captures import S3Captures
from aiaas.repositories.models import DynamoCatalog
from aiaas.repositories.usage import DynamoUsage
from aiaas.repositories.weights import S3Weights
from aiaas.settings import Settings

if TYPE_CHECKING:
    from aiaas.batch.files import S3BatchFiles
    from aiaas.batch.jobs import JobService, ModelCheck
    from aiaas.batch.pipeline import ChunkRunner, Splitter
    from aiaas.batch.records import BatchJob
    from aiaas.batch.store import DynamoJobs
    from aiaas.domain.accounts import AccountService
    from aiaas.domain.erasure import AccountEraser
    from aiaas.domain.keys import KeyService
    from aiaas.domain.model_metrics import ModelMetricsService
    from aiaas.domain.monitoring import DriftMonitor, DriftService
    from aiaas.repositories.drift import S3DriftReports
    from aiaas.repositories.secrets import SecretReader
    from aiaas.serving.capture import CaptureBuffer
    from aiaas.serving.gpu import GpuBackend
    from aiaas.serving.predictions import PredictionService
    from aiaas.serving.resolver import ModelResolver
    from aiaas.training.service import TrainingService
    from aiaas.training.store import DynamoTrainingJobs
    from aiaas.training.worker import Trainer
    from aiaas_runtime import ModelRegistry


class LazyClient:
    """A boto3 client made on its first method call (thread-safe), then reused."""

    def __init__(self, service: str, factory: Callable[[str], Any] | None = None) -> None:
        self.service = service
        self.factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.client, name)

    @property
    def client(self) -> Any:
        """The real client."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = (self.factory or _boto3_client)(self.service)
        return self._client


def _boto3_client(service: str) -> Any:
    import boto3  # noqa: PLC0415 - only functions that talk to AWS through boto3 pay for it

    return boto3.client(service)


class Services:
    """Everything a function's handlers use, wired from one `Settings`.

    Members are made on first access, once (``cached_property``); the builders below touch
    the members of their function at cold start, so a function's first request finds them
    made and a missing setting fails the init phase.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients: dict[str, LazyClient] = {}

    def client(self, service: str) -> LazyClient:
        """The function's client of one AWS service."""
        if service not in self._clients:
            self._clients[service] = LazyClient(service)
        return self._clients[service]

    @cached_property
    def model_store(self) -> DynamoCatalog:
        """Models and versions on the models table."""
        self.settings.require("models_table")
        return DynamoCatalog(self.client("dynamodb"), str(self.settings.models_table))

    @cached_property
    def captures(self) -> S3Captures:
        """Captured requests in the weights bucket."""
        self.settings.require("weights_bucket")
        return S3Captures(self.client("s3"), str(self.settings.weights_bucket))

    @cached_property
    def catalog(self) -> CatalogService:
        """The catalog on the models table and the weights bucket."""
        s = self.settings
        s.require("models_table", "weights_bucket")
        return CatalogService(
            self.model_store,
            S3Weights(self.client("s3"), str(s.weights_bucket)),
            admin_tenants=s.admins,
            max_upload_bytes=s.max_upload_bytes,
            capture_files=self.captures,
        )

    @cached_property
    def usage(self) -> UsageService:
        """Quotas and usage on the usage table (also touches keys' last use).

        Metering runs on every prediction, so it uses the stdlib client: importing boto3
        would add ~300 ms to the predict function's cold start.
        """
        s = self.settings
        s.require("usage_table")
        store = DynamoUsage(LiteClient("dynamodb"), str(s.usage_table), str(s.accounts_table or ""))
        return UsageService(store, s.daily_quota)

    @cached_property
    def model_metrics(self) -> ModelMetricsService:
        """Per-model counters and latency histograms in the usage table (stdlib client: the
        predict path writes one record per request)."""
        from aiaas.domain.model_metrics import ModelMetricsService  # noqa: PLC0415
        from aiaas.repositories.model_metrics import DynamoModelMetrics  # noqa: PLC0415

        s = self.settings
        s.require("usage_table")
        store = DynamoModelMetrics(LiteClient("dynamodb"), str(s.usage_table))
        return ModelMetricsService(store, self.catalog if s.models_table else None)

    @cached_property
    def drift_store(self) -> S3DriftReports:
        """Baselines and drift reports in the weights bucket."""
        from aiaas.repositories.drift import S3DriftReports  # noqa: PLC0415

        self.settings.require("weights_bucket")
        return S3DriftReports(self.client("s3"), str(self.settings.weights_bucket))

    @cached_property
    def drift(self) -> DriftService:
        """Owners' drift baselines and reports."""
        from aiaas.domain.monitoring import DriftService  # noqa: PLC0415

        return DriftService(self.catalog, self.captures, self.drift_store)

    @cached_property
    def drift_monitor(self) -> DriftMonitor:
        """DriftFunction's job: every captured version's window against its baseline; one
        ``FeatureDrift`` EMF line (drifted features) per report."""
        from aiaas.domain.drift import Thresholds  # noqa: PLC0415
        from aiaas.domain.monitoring import DriftMonitor  # noqa: PLC0415
        from aiaas.metrics import MetricsWriter  # noqa: PLC0415

        s = self.settings
        s.require("models_table", "weights_bucket")
        writer = MetricsWriter()

        def emit(version: Any, report: dict[str, Any]) -> None:
            writer.emit(
                {"FeatureDrift": (len(report["drifted"]), "Count"),
                 "DriftRows": (report["rows"], "Count")},
                {"model": version.name, "version": str(version.version), "route": "drift"},
                {"tenant": version.tenant, "drifted": report["drifted"]},
                rollups=(("route",),),
            )  # fmt: skip

        return DriftMonitor(
            self.model_store,
            self.captures,
            self.drift_store,
            limits=Thresholds(min_rows=s.drift_min_rows),
            window_s=s.drift_window_s,
            settle_s=s.drift_settle_s,
            emit=emit,
        )

    @cached_property
    def signing_key(self) -> SecretReader:
        """The JWT signing key from Secrets Manager, cached."""
        from aiaas.repositories.secrets import SecretReader  # noqa: PLC0415

        self.settings.require("jwt_secret_arn")
        return SecretReader(self.client("secretsmanager"), str(self.settings.jwt_secret_arn))

    @cached_property
    def accounts(self) -> AccountService:
        """Signup and login on the accounts table."""
        from aiaas.domain.accounts import AccountService  # noqa: PLC0415
        from aiaas.repositories.accounts import DynamoUsers  # noqa: PLC0415

        s = self.settings
        s.require("accounts_table")
        return AccountService(
            DynamoUsers(self.client("dynamodb"), str(s.accounts_table)),
            self.signing_key,
            token_ttl=s.token_ttl_seconds,
            max_failures=s.login_max_failures,
            failure_window=s.login_window_seconds,
        )

    @cached_property
    def eraser(self) -> AccountEraser:
        """Deleting an account: every table and bucket that holds the tenant's data."""
        from aiaas.batch.erasure import JobEraser  # noqa: PLC0415
        from aiaas.domain.erasure import AccountEraser  # noqa: PLC0415
        from aiaas.repositories.accounts import DynamoKeys, DynamoUsers  # noqa: PLC0415
        from aiaas.training.erasure import TrainingEraser  # noqa: PLC0415

        s = self.settings
        s.require("accounts_table", "usage_table", "models_table", "weights_bucket")
        dynamodb = self.client("dynamodb")
        return AccountEraser(
            self.accounts,
            users=DynamoUsers(dynamodb, str(s.accounts_table)),
            keys=DynamoKeys(dynamodb, str(s.accounts_table)),
            models=DynamoCatalog(dynamodb, str(s.models_table)),
            weights=S3Weights(self.client("s3"), str(s.weights_bucket)),
            jobs=JobEraser(self.job_store, self.batch_files),
            usage=DynamoUsage(dynamodb, str(s.usage_table)),  # boto3: BatchWriteItem
            training=TrainingEraser(self.training_store, self.batch_files),
        )

    @cached_property
    def keys(self) -> KeyService:
        """Key management on the accounts table."""
        from aiaas.domain.keys import KeyService  # noqa: PLC0415
        from aiaas.repositories.accounts import DynamoKeys  # noqa: PLC0415

        self.settings.require("accounts_table")
        store = DynamoKeys(self.client("dynamodb"), str(self.settings.accounts_table))
        return KeyService(store, default_quota=self.settings.daily_quota)

    @cached_property
    def layer(self) -> ModelRegistry:
        """The models layer's built-ins (sessions survive warm invocations)."""
        from aiaas_runtime import ModelPool, ModelRegistry  # noqa: PLC0415 - InferenceLayer

        s = self.settings
        pool = ModelPool[Any](max_items=s.max_sessions, max_bytes=s.max_session_bytes)
        return ModelRegistry(
            s.models_dir, threads=s.inference_threads, pool=pool, only=s.layer_model_names
        )

    @cached_property
    def gpu_backend(self) -> GpuBackend | None:
        """Where ``gpu`` models run: the SageMaker endpoint, a local container app, or nowhere."""
        from aiaas.serving.gpu import backend_from  # noqa: PLC0415

        return backend_from(self.settings)

    @cached_property
    def resolver(self) -> ModelResolver:
        """Every model, by name: the layer's and the catalog's (weights from S3)."""
        from aiaas.serving.loader import CatalogLoader  # noqa: PLC0415
        from aiaas.serving.resolver import ModelResolver  # noqa: PLC0415
        from aiaas.serving.weights_cache import WeightsCache  # noqa: PLC0415

        s = self.settings
        s.require("models_table", "weights_bucket")
        cache = WeightsCache(
            S3Weights(self.client("s3"), str(s.weights_bucket)),
            s.weights_cache_dir,
            s.weights_cache_bytes,
        )
        loader = CatalogLoader(cache, gpu=self.gpu_backend, threads=s.inference_threads)
        return ModelResolver(self.layer, self.catalog, loader, ttl_s=s.catalog_cache_seconds)

    @cached_property
    def predictions(self) -> PredictionService:
        """Predictions for API callers: metered and under quota."""
        from aiaas.serving.predictions import PredictionService  # noqa: PLC0415

        return PredictionService(self.resolver, self.usage, capture=self.capture)

    @cached_property
    def capture(self) -> CaptureBuffer:
        """Sampled requests of versions with data capture on, batched into the weights
        bucket (written at interpreter exit too)."""
        import atexit  # noqa: PLC0415

        from aiaas.serving.capture import CaptureBuffer  # noqa: PLC0415

        s = self.settings
        s.require("weights_bucket")
        buffer = CaptureBuffer(
            self.captures,
            max_records=s.capture_max_records,
            max_age_s=s.capture_max_age_s,
        )
        atexit.register(buffer.flush)
        return buffer

    @cached_property
    def batch_predictions(self) -> PredictionService:
        """Predictions for batch jobs: metered once a job finishes, not per chunk; captured
        like the API's where a version's capture is on."""
        from aiaas.serving.predictions import PredictionService  # noqa: PLC0415

        return PredictionService(self.resolver, capture=self.capture)

    @cached_property
    def job_store(self) -> DynamoJobs:
        """Batch jobs on the jobs table."""
        from aiaas.batch.store import DynamoJobs  # noqa: PLC0415

        self.settings.require("jobs_table")
        return DynamoJobs(self.client("dynamodb"), str(self.settings.jobs_table))

    @cached_property
    def batch_files(self) -> S3BatchFiles:
        """The batch bucket."""
        from aiaas.batch.files import S3BatchFiles  # noqa: PLC0415

        self.settings.require("batch_bucket")
        return S3BatchFiles(self.client("s3"), str(self.settings.batch_bucket))

    @cached_property
    def model_check(self) -> ModelCheck:
        """Which models a tenant may run in a batch job (the layer's, then the catalog's)."""
        from aiaas.batch.jobs import ModelCheck  # noqa: PLC0415

        return ModelCheck(self.catalog)

    @cached_property
    def jobs(self) -> JobService:
        """The jobs API's service."""
        from aiaas.batch.jobs import JobLimits, JobService  # noqa: PLC0415

        s = self.settings
        limits = JobLimits(s.batch_max_input_bytes, s.batch_link_seconds)
        store = self.job_store
        return JobService(store, store, self.batch_files, self.model_check, limits)

    @cached_property
    def splitter(self) -> Splitter:
        """BatchSplitFunction's splitter."""
        from aiaas.batch.files import SqsChunks  # noqa: PLC0415
        from aiaas.batch.pipeline import SplitConfig, Splitter  # noqa: PLC0415

        s = self.settings
        s.require("batch_queue_url")
        config = SplitConfig(
            s.batch_chunk_rows,
            s.batch_max_input_bytes,
            s.batch_max_line_bytes,
            s.batch_inbox_tenant,
        )
        queue = SqsChunks(self.client("sqs"), str(s.batch_queue_url))
        return Splitter(self.job_store, self.batch_files, queue, config, self.model_check.problem)

    @cached_property
    def chunk_runner(self) -> ChunkRunner:
        """BatchFunction's chunk runner (imports the inference runtime)."""
        from aiaas.batch.pipeline import ChunkRunner  # noqa: PLC0415
        from aiaas.batch.scoring import ModelScorer  # noqa: PLC0415
        from aiaas.metrics import MetricsWriter  # noqa: PLC0415

        return ChunkRunner(
            self.job_store,
            self.batch_files,
            ModelScorer(self.batch_predictions),
            max_receives=self.settings.batch_max_receives,
            on_finished=self.meter_job,
            metrics=MetricsWriter(),
        )

    @cached_property
    def training_store(self) -> DynamoTrainingJobs:
        """Training jobs on the jobs table."""
        from aiaas.training.store import DynamoTrainingJobs  # noqa: PLC0415

        self.settings.require("jobs_table")
        return DynamoTrainingJobs(self.client("dynamodb"), str(self.settings.jobs_table))

    @cached_property
    def training(self) -> TrainingService:
        """The training jobs API's service."""
        from aiaas.training.service import TrainingLimits, TrainingService  # noqa: PLC0415

        s = self.settings
        limits = TrainingLimits(
            s.training_max_bytes, s.training_max_grid, s.training_max_runtime_s,
            s.batch_link_seconds,
        )  # fmt: skip
        return TrainingService(self.training_store, self.batch_files, self.catalog, limits)

    @cached_property
    def trainer(self) -> Trainer:
        """TrainingFunction's steps (scikit-learn is imported by the steps that fit)."""
        from aiaas.batch.files import SqsChunks  # noqa: PLC0415
        from aiaas.training.table import Limits  # noqa: PLC0415
        from aiaas.training.worker import Trainer, WorkerConfig  # noqa: PLC0415

        s = self.settings
        s.require("training_queue_url", "weights_bucket")
        config = WorkerConfig(
            Limits(s.training_max_bytes, s.training_max_rows, s.training_max_columns),
            candidates_per_message=s.training_candidates_per_message,
            max_receives=s.training_max_receives,
        )
        return Trainer(
            self.training_store,
            self.batch_files,
            SqsChunks(self.client("sqs"), str(s.training_queue_url)),
            self.catalog,
            weights=S3Weights(self.client("s3"), str(s.weights_bucket)),
            config=config,
        )

    def meter_job(self, job: BatchJob) -> None:
        """Count a finished job's scored rows in its tenant's usage (no quota applies)."""
        if job.succeeded:
            self.usage.record(job.tenant, job.meter_id or "batch", job.model, job.succeeded)


def predict_services(settings: Settings) -> Services:
    """PredictFunction: predictions over every model (the catalog path checked too)."""
    return _serving(settings)


def chat_services(settings: Settings) -> Services:
    """ChatFunction: chat, completions and transcriptions, on the same prediction service."""
    return _serving(settings)


def _serving(settings: Settings) -> Services:
    if not settings.models_dir.is_dir():
        raise RuntimeError(f"AIAAS_MODELS_DIR {settings.models_dir} is not a directory")
    services = built(settings, "predictions", "model_metrics")
    # opened beside the rest of the cold start (the web stack's imports), not before it
    services.layer.preload(settings.preload, background=True)
    return services


def built(settings: Settings, *members: str) -> Services:
    """A services object whose ``members`` are made now (the cold start), not on first use."""
    services = Services(settings)
    for member in members:
        getattr(services, member)
    return services


def auth_services(settings: Settings) -> Services:
    """AuthFunction: accounts, keys, usage, and deleting an account."""
    return built(settings, "accounts", "keys", "usage", "eraser")


def catalog_services(settings: Settings) -> Services:
    """CatalogFunction: the catalog (and the layer's manifests, to seed the built-ins), the
    per-model metrics its owners read, and their drift baselines and reports."""
    return built(settings, "catalog", "model_metrics", "drift")


def drift_services(settings: Settings) -> Services:
    """DriftFunction: the scheduled drift job."""
    return built(settings, "drift_monitor")


def jobs_services(settings: Settings) -> Services:
    """JobsFunction: batch and training jobs."""
    return built(settings, "jobs", "training")


def training_services(settings: Settings) -> Services:
    """TrainingFunction: the training steps."""
    return built(settings, "trainer")


def batch_services(settings: Settings) -> Services:
    """BatchFunction: the chunk runner over every model."""
    return built(settings, "chunk_runner", "usage")


def split_services(settings: Settings) -> Services:
    """BatchSplitFunction: the splitter."""
    return built(settings, "splitter")


def register_services(settings: Settings) -> Services:
    """RegisterModelFunction: the catalog store and weights bucket (the handler builds the
    registrar on them: only that function ships onnx)."""
    settings.require("models_table", "weights_bucket")
    return Services(settings)
