"""Dependencies of the functions that run models (PredictFunction, CatalogFunction's seeding).

Kept apart from ``aiaas.web.deps``: importing the runtime needs InferenceLayer, which only
these functions have.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from aiaas.domain.predictions import PredictionResult, PredictionService
from aiaas.repositories.weights import S3Weights
from aiaas.serving.catalog_models import RegisteredModels
from aiaas.serving.weights_cache import WeightsCache
from aiaas.settings import get_settings
from aiaas.web.deps import aws_client, catalog_service
from aiaas_runtime import ModelRegistry


@lru_cache(maxsize=1)
def get_registry() -> ModelRegistry:
    """The process-wide model registry: sessions survive warm invocations."""
    settings = get_settings()
    return ModelRegistry(settings.models_dir, threads=settings.inference_threads)


def is_builtin(name: str) -> bool:
    """A model of the layer (public names cannot be taken by a tenant's model)."""
    return name in get_registry().manifests()


@lru_cache(maxsize=1)
def registered_models() -> RegisteredModels:
    """Catalog models with weights from S3, made on first use (imports boto3 only then)."""
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
        threads=s.inference_threads,
    )


async def get_prediction_service() -> PredictionService:
    """Predictions over the process-wide registry."""
    return PredictionService(get_registry())


def inference_headers(result: PredictionResult) -> dict[str, str]:
    """What ran and how long it took, on every prediction response."""
    return {
        "x-model-version": result.manifest.version,
        "x-model-variant": result.variant,
        "x-inference-ms": f"{result.inference_ms:.2f}",
    }


PredictionServiceDep = Annotated[PredictionService, Depends(get_prediction_service)]
