"""Dependencies of the routes that run models (PredictFunction).

Apart from ``aiaas.web.deps``: the prediction service imports the inference runtime, which
only the functions with InferenceLayer ship.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aiaas.serving.predictions import InferResult, PredictionResult, PredictionService
from aiaas.web.deps import services_of


async def get_prediction_service(request: Request) -> PredictionService:
    """Predictions over every model, metered."""
    return services_of(request).predictions


def inference_headers(result: PredictionResult | InferResult) -> dict[str, str]:
    """What ran and how long it took, on every prediction response."""
    return {
        "x-model-version": result.served.version,
        "x-model-variant": result.served.variant,
        "x-inference-ms": f"{result.inference_ms:.2f}",
    }


PredictionServiceDep = Annotated[PredictionService, Depends(get_prediction_service)]
