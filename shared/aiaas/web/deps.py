"""Named dependencies (``Annotated[..., Depends()]``); tests swap them with overrides."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from aiaas.domain.predictions import PredictionService
from aiaas.settings import Settings, get_settings
from aiaas_runtime import ModelRegistry


@lru_cache(maxsize=1)
def get_registry() -> ModelRegistry:
    """The process-wide model registry: sessions survive warm invocations."""
    settings = get_settings()
    return ModelRegistry(settings.models_dir, threads=settings.inference_threads)


# Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, and each
# hop there cost ~0.2 ms and stole a core from onnxruntime (measured in bench/).
async def settings_dependency() -> Settings:
    """The process-wide settings."""
    return get_settings()


async def get_prediction_service() -> PredictionService:
    """Predictions over the process-wide registry."""
    return PredictionService(get_registry())


SettingsDep = Annotated[Settings, Depends(settings_dependency)]
PredictionServiceDep = Annotated[PredictionService, Depends(get_prediction_service)]
