"""Building the container's models from settings: S3 client, weights cache, providers."""

from __future__ import annotations

from typing import Any

from aiaas.gpu.models import BatchConfig, GpuModels
from aiaas.gpu.runtime import detect_runtime
from aiaas.registration.quantization import gate_from
from aiaas.repositories.weights import S3Weights
from aiaas.serving.weights_cache import WeightsCache
from aiaas.settings import Settings


def build_models(
    settings: Settings, *, s3_client: Any | None = None, tensorrt: bool | None = None
) -> GpuModels:
    """The container's models, configured from settings.

    Args:
        settings: ``weights_bucket`` (required), ``weights_cache_*``, ``max_sessions``,
            ``inference_threads``, ``gpu_max_batch``, ``gpu_max_delay_ms``, ``gpu_max_queue``,
            ``gpu_fp16`` and the ``gate_*`` thresholds.
        s3_client: A boto3 S3 client; made from the environment when omitted
            (``AWS_ENDPOINT_URL`` points it at moto locally).
        tensorrt: Put TensorRT before CUDA; defaults to ``settings.gpu_tensorrt``.

    Raises:
        RuntimeError: ``AIAAS_WEIGHTS_BUCKET`` is not set.
    """
    settings.require("weights_bucket")
    if s3_client is None:
        import boto3  # noqa: PLC0415 - a client only once configuration is known good

        s3_client = boto3.client("s3")
    if tensorrt is None:
        tensorrt = settings.gpu_tensorrt
    bucket = str(settings.weights_bucket)
    cache = WeightsCache(
        S3Weights(s3_client, bucket), settings.weights_cache_dir, settings.weights_cache_bytes
    )
    runtime = detect_runtime(
        tensorrt=tensorrt, cache_dir=settings.weights_cache_dir, threads=settings.inference_threads
    )
    return GpuModels(
        cache,
        bucket=bucket,
        runtime=runtime,
        batching=BatchConfig(
            max_batch=settings.gpu_max_batch,
            max_delay_s=settings.gpu_max_delay_ms / 1000,
            max_queue=settings.gpu_max_queue,
        ),
        max_models=settings.max_sessions,
        fp16=settings.gpu_fp16,
        gate=gate_from(settings),
    )
