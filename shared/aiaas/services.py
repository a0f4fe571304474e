"""The composition root: process-wide clients and services, made on first use.

No web framework here: the plain handlers (S3, SQS) build what they need from this module
too. Nothing is imported at module import that a function's layers may lack: the inference
runtime and boto3 are imported inside the functions that need them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aiaas.aws.lite import LiteClient
from aiaas.domain.catalog import CatalogService
from aiaas.domain.usage import UsageService
from aiaas.repositories.models import DynamoCatalog
from aiaas.repositories.usage import DynamoUsage
from aiaas.repositories.weights import S3Weights
from aiaas.settings import get_settings

if TYPE_CHECKING:
    from aiaas.serving.catalog_models import RegisteredModels
    from aiaas.serving.gpu import GpuBackend
    from aiaas_runtime import ModelRegistry


@lru_cache(maxsize=8)
def aws_client(service: str) -> Any:
    """A boto3 client, made on first use (never at import: moto must start first)."""
    import boto3  # noqa: PLC0415 - only functions that talk to AWS pay for the import

    return boto3.client(service)


@lru_cache(maxsize=1)
def catalog_service() -> CatalogService:
    """The catalog on the models table and the weights bucket."""
    s = get_settings()
    return CatalogService(
        DynamoCatalog(aws_client("dynamodb"), str(s.models_table)),
        S3Weights(aws_client("s3"), str(s.weights_bucket)),
        admin_tenants=s.admins,
        max_upload_bytes=s.max_upload_bytes,
    )


@lru_cache(maxsize=1)
def usage_service() -> UsageService:
    """Quotas and usage on the usage table (also touches keys' last use).

    Metering runs on every prediction, first request included, so it uses the stdlib
    client: importing boto3 would add ~300 ms to the predict function's cold start.
    """
    s = get_settings()
    store = DynamoUsage(LiteClient("dynamodb"), str(s.usage_table), str(s.accounts_table or ""))
    return UsageService(store, s.daily_quota)


@lru_cache(maxsize=1)
def get_registry() -> ModelRegistry:
    """The process-wide model registry: sessions survive warm invocations."""
    from aiaas_runtime import ModelRegistry  # noqa: PLC0415 - InferenceLayer only

    settings = get_settings()
    return ModelRegistry(settings.models_dir, threads=settings.inference_threads)


def is_builtin(name: str) -> bool:
    """A model of the layer (public names cannot be taken by a tenant's model)."""
    return name in get_registry().manifests()


@lru_cache(maxsize=1)
def gpu_backend() -> GpuBackend | None:
    """Where ``gpu`` models run: the SageMaker endpoint, a local container app, or nowhere."""
    s = get_settings()
    if s.gpu_endpoint:
        import boto3  # noqa: PLC0415 - only with an endpoint
        from botocore.config import Config  # noqa: PLC0415

        from aiaas.serving.gpu_client import SageMakerGpuBackend  # noqa: PLC0415

        # The HTTP API gives up after 30 s: one retry at most, reads bounded by the setting.
        config = Config(
            connect_timeout=3,
            read_timeout=s.gpu_timeout_s,
            retries={"mode": "standard", "max_attempts": 2},
        )
        return SageMakerGpuBackend(boto3.client("sagemaker-runtime", config=config), s.gpu_endpoint)
    if s.gpu_url:
        from aiaas.serving.gpu_client import HttpGpuBackend  # noqa: PLC0415

        return HttpGpuBackend(s.gpu_url, s.gpu_timeout_s)
    return None


@lru_cache(maxsize=1)
def registered_models() -> RegisteredModels:
    """Catalog models with weights from S3, made on first use (imports boto3 only then)."""
    from aiaas.serving.catalog_models import RegisteredModels  # noqa: PLC0415
    from aiaas.serving.weights_cache import WeightsCache  # noqa: PLC0415

    s = get_settings()
    s.require("models_table", "weights_bucket")
    cache = WeightsCache(
        S3Weights(aws_client("s3"), str(s.weights_bucket)),
        s.weights_cache_dir,
        s.weights_cache_bytes,
    )
    return RegisteredModels(
        catalog_service(),
        cache,
        max_sessions=s.max_sessions,
        max_session_bytes=s.max_session_bytes,
        gpu=gpu_backend(),
        threads=s.inference_threads,
    )
