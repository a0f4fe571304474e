"""One settings class, read from ``AIAAS_*`` environment variables, checked at cold start.

A plain pydantic model fills what the caller does not pass from the environment
(``AIAAS_<FIELD>``), so ``Settings()`` reads the environment and ``Settings(models_dir=...)``
overrides it: pydantic-settings did the same and cost ~100 ms of every cold start to import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aiaas import defaults

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseModel):
    """Configuration of every function.

    Attributes:
        models_dir: Directory of installed models (``/opt/models`` from ModelsLayer in AWS).
        log_level: Root log level.
        preload_models: Models to open during the init phase (Lambda bills init at full CPU
            and it precedes the first request), comma-separated.
        inference_threads: onnxruntime intra-op threads; default: the CPUs available.
        max_body_bytes: Largest accepted request body (Lambda's sync payload limit is 6 MB).
        stage: HTTP API stage; a named stage prefixes every path with ``/<stage>``.
        accounts_table: DynamoDB table of users and API keys.
        usage_table: DynamoDB table of quota counters and usage meters.
        jwt_secret_arn: Secrets Manager secret holding the JWT signing key.
        daily_quota: Requests per API key per UTC day unless the key carries its own.
        token_ttl_seconds: Lifetime of a login token.
        login_max_failures: Failed logins per account within the window before 429.
        login_window_seconds: The failed-login window.
        auth_cache_seconds: How long the authorizer reuses a key record (revocation delay).
        models_table: DynamoDB table of the model catalog.
        weights_bucket: S3 bucket of uploads and registered weights.
        admin_tenants: Tenants allowed to publish public models, comma-separated.
        max_upload_bytes: Largest model file a version upload may be.
        gate_min_mean_cosine: int8 variants must reach this mean cosine to fp32 (floats).
        gate_min_min_cosine: ...and this worst-row cosine.
        gate_max_label_disagreement: ...and differ on at most this share of labels.
        serving_memory_mb: Memory of the serving function, for the cost estimate.
        price_per_gb_second: Lambda duration price (x86, USD), for the cost estimate.
        price_per_request: Lambda request price (USD), for the cost estimate.
        weights_cache_dir: Where registered models' files are kept (Lambda: /tmp).
        weights_cache_bytes: Budget of that directory; least recently used files go first.
        max_sessions: Models (built-in and registered) kept open at once.
        max_session_bytes: Estimated memory of those open sessions, at most.
        catalog_cache_seconds: How long a warm function reuses a catalog record (model and
            version) before reading it again: a delete, a new default version or a new
            visibility shows within this time.
        capture_max_records: Data capture: records of a version buffered before they are
            written to S3 as one file.
        capture_max_age_s: Data capture: the longest a record waits in the buffer.
        drift_window_s: The drift job's first window of a version (later ones start where
            the last report ended).
        drift_settle_s: The drift job leaves out captures newer than this (a buffer may
            still hold their batch).
        drift_min_rows: Fewer captured rows than this are not tested yet.
        layer_models: The models the models layer carries, comma-separated (the template
            sets it); empty: every model under ``models_dir``. Other built-ins are served
            from S3, like registered models.
        jobs_table: DynamoDB table of batch jobs and their chunks.
        batch_bucket: S3 bucket of batch inputs, chunk results and outputs.
        batch_queue_url: SQS queue of batch chunks.
        batch_chunk_rows: Input lines per chunk (one SQS message, one BatchFunction record).
        batch_max_receives: The queue's ``maxReceiveCount``: on the last delivery a failing
            chunk is recorded as error rows before SQS moves it to the dead-letter queue.
        batch_max_input_bytes: Largest input file a job's upload may be.
        batch_max_line_bytes: Longest input line; a longer one becomes an error row.
        batch_inbox_tenant: The tenant that owns jobs started by files under ``inbox/``.
        batch_link_seconds: Lifetime of presigned upload and output links.
        training_queue_url: SQS queue of training steps (profile, candidates, finish).
        training_max_bytes: Largest training dataset (CSV) the Lambda path takes.
        training_max_rows: Most data rows of a training dataset.
        training_max_columns: Most columns of a training dataset.
        training_max_grid: Most candidates of one search (a larger grid needs
            ``max_candidates``, a random search).
        training_max_runtime_s: Longest ``max_runtime_s`` a job may ask for.
        training_candidates_per_message: Candidates scored per SQS message (invocation).
        training_max_receives: The training queue's ``maxReceiveCount``.
        gpu_endpoint: SageMaker endpoint that serves ``gpu`` models (empty: none).
        gpu_url: Base URL of a GPU container app reached over HTTP (local stack), instead.
        gpu_timeout_s: How long a forwarded request may take.
        gpu_max_batch: The container's dynamic batcher: most rows in one run.
        gpu_max_delay_ms: ...longest wait for more requests before a run.
        gpu_max_queue: ...requests waiting per model before new ones get 503.
        gpu_fp16: Serve an fp16 variant on a GPU where it passes the accuracy gate.
        gpu_tensorrt: Put onnxruntime's TensorRT provider before CUDA (engines are built
            per input shape on first use: worth it for long-running endpoints).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _environment(cls, data: Any) -> Any:
        """Fields not passed come from ``AIAAS_<FIELD>`` (values given win)."""
        given = dict(data) if isinstance(data, dict) else {}
        for name in cls.model_fields:
            value = os.environ.get(f"AIAAS_{name.upper()}")
            if name not in given and value is not None:
                given[name] = value
        return given

    models_dir: Path = Path("/opt/models")
    log_level: LogLevel = defaults.LOG_LEVEL  # type: ignore[assignment]
    preload_models: str = ""
    inference_threads: int | None = Field(default=None, ge=1, le=64)
    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)
    stage: str = Field(default="$default", pattern=r"^(\$default|[A-Za-z0-9_-]+)$")

    accounts_table: str | None = None
    usage_table: str | None = None
    jwt_secret_arn: str | None = None
    daily_quota: int = Field(default=10_000, ge=1)
    token_ttl_seconds: int = Field(default=900, ge=60, le=defaults.TOKEN_MAX_TTL_SECONDS)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    auth_cache_seconds: float = Field(
        default=defaults.AUTH_CACHE_SECONDS, ge=0, le=defaults.AUTH_CACHE_MAX_SECONDS
    )
    models_table: str | None = None
    weights_bucket: str | None = None
    admin_tenants: str = ""
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    gate_min_mean_cosine: float = Field(default=0.98, ge=0, le=1)
    gate_min_min_cosine: float = Field(default=0.95, ge=0, le=1)
    gate_max_label_disagreement: float = Field(default=0.02, ge=0, le=1)
    serving_memory_mb: int = Field(default=2048, ge=128, le=10_240)
    price_per_gb_second: float = Field(default=0.0000166667, gt=0)
    price_per_request: float = Field(default=0.0000002, ge=0)
    weights_cache_dir: Path = Path("/tmp/aiaas-weights")  # noqa: S108 - Lambda's only disk
    weights_cache_bytes: int = Field(default=400 * 1024 * 1024, ge=1024 * 1024)
    max_sessions: int = Field(default=8, ge=1, le=64)
    catalog_cache_seconds: float = Field(
        default=defaults.CATALOG_CACHE_SECONDS, ge=0, le=defaults.CATALOG_CACHE_MAX_SECONDS
    )
    layer_models: str = ""
    capture_max_records: int = Field(default=100, ge=1, le=10_000)
    capture_max_age_s: float = Field(default=10.0, ge=0, le=900)
    drift_window_s: float = Field(default=3600.0, gt=0, le=30 * 86400)
    drift_settle_s: float = Field(default=120.0, ge=0, le=3600)
    drift_min_rows: int = Field(default=30, ge=1, le=100_000)
    max_session_bytes: int = Field(default=768 * 1024 * 1024, ge=1024 * 1024)
    jobs_table: str | None = None
    batch_bucket: str | None = None
    batch_queue_url: str | None = None
    batch_chunk_rows: int = Field(default=500, ge=1, le=10_000)
    batch_max_receives: int = Field(default=3, ge=1, le=1000)
    batch_max_input_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    batch_max_line_bytes: int = Field(default=1024 * 1024, ge=64)
    batch_inbox_tenant: str = "operator"
    batch_link_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    training_queue_url: str | None = None
    training_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    training_max_rows: int = Field(default=100_000, ge=10)
    training_max_columns: int = Field(default=200, ge=2)
    training_max_grid: int = Field(default=500, ge=1)
    training_max_runtime_s: int = Field(default=6 * 3600, ge=60)
    training_candidates_per_message: int = Field(default=1, ge=1, le=100)
    training_max_receives: int = Field(default=3, ge=1, le=1000)
    gpu_endpoint: str = ""
    gpu_url: str = ""
    gpu_timeout_s: float = Field(default=25.0, gt=0, le=900)
    gpu_max_batch: int = Field(default=64, ge=1, le=4096)
    gpu_max_delay_ms: float = Field(default=2.0, ge=0, le=1000)
    gpu_max_queue: int = Field(default=1024, ge=1)
    gpu_fp16: bool = True
    gpu_tensorrt: bool = False

    @property
    def admins(self) -> list[str]:
        """``admin_tenants`` as a list."""
        return [t.strip() for t in self.admin_tenants.split(",") if t.strip()]

    def require(self, *names: str) -> None:
        """Fail at cold start, naming the variables, if a function lacks its configuration."""
        missing = [f"AIAAS_{n.upper()}" for n in names if getattr(self, n) in (None, "")]
        if missing:
            raise RuntimeError(f"missing configuration: {', '.join(missing)}")

    @property
    def base_path(self) -> str:
        """The path prefix API Gateway adds for the stage (``/`` for ``$default``)."""
        return "/" if self.stage == "$default" else f"/{self.stage}"

    @property
    def layer_model_names(self) -> frozenset[str] | None:
        """``layer_models`` as a set; None for every model under ``models_dir``."""
        names = frozenset(n.strip() for n in self.layer_models.split(",") if n.strip())
        return names or None

    @property
    def preload(self) -> list[str]:
        """``preload_models`` as a list of names."""
        return [name.strip() for name in self.preload_models.split(",") if name.strip()]
