"""The GPU container's app: SageMaker's bring-your-own-container inference contract.

``GET /ping`` answers 200 while the server runs (SageMaker's health check; it loads nothing).
``POST /invocations`` takes one Open Inference Protocol request, JSON or with binary tensors
(``Content-Type: application/vnd.sagemaker-triton.binary+json;json-header-size=<N>``, or the
``Inference-Header-Content-Length`` header), whose ``parameters`` name the model version
(``aiaas.serving.gpu_client``), and answers an inference response the way the request asked:
binary outputs under the same content type, JSON otherwise. Its ``parameters`` say what ran
(``variant``: fp16/fp32, ``provider``). Errors are ``{"error": "<message>"}``: 400 bad body,
parameters or tensors; 404 weights missing from S3; 413 body too large; 503 weights that do
not match their sha256, a model that cannot load, or a full queue (with Retry-After).
A generative built-in's whole request (``application/vnd.aiaas.task+json``:
``{"task": <the request as sent>, "parameters": <version, manifest and files>}``) runs on the
model's own processor and sessions here and answers ``{"result": ...}``
(`aiaas.serving.gpu_tasks`). ``GET /stats`` shows each loaded model's batcher and each
generative model's requests (for the bench and tests; SageMaker does not route it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from aiaas.errors import InvalidInput, PayloadTooLarge
from aiaas.gpu.models import GpuModels
from aiaas.protocols import (
    HEADER_LENGTH,
    InferRequest,
    binary_content_type,
    decode_request,
    encode_response,
    header_length_of,
)
from aiaas.serving.gpu_client import TASK_JSON, parse_target, parse_task_target
from aiaas.settings import Settings
from aiaas.web.errors import install_error_handlers, shaped_router
from aiaas.web.responses import FastJSONResponse

logger = logging.getLogger(__name__)

router = shaped_router("oip", tags=["sagemaker inference"])
INLINE_BYTES = 256 * 1024  # bodies above this are decoded and encoded off the event loop


async def get_models(request: Request) -> GpuModels:
    """The app's loaded models."""
    models: GpuModels = request.app.state.models
    return models


async def get_max_body(request: Request) -> int:
    """The body size limit (``AIAAS_MAX_BODY_BYTES``)."""
    limit: int = request.app.state.max_body_bytes
    return limit


ModelsDep = Annotated[GpuModels, Depends(get_models)]
MaxBodyDep = Annotated[int, Depends(get_max_body)]


@router.get("/ping")
async def ping() -> dict[str, str]:
    """Health check: 200 while the server runs."""
    return {"status": "healthy"}


@router.get("/stats")
async def stats(models: ModelsDep) -> dict[str, Any]:
    """Loaded models: variant, provider and batcher counters; generative models' requests."""
    return {"models": models.stats(), "tasks": models.task_stats()}


@router.post("/invocations")
async def invocations(request: Request, models: ModelsDep, max_body: MaxBodyDep) -> Response:
    """Run one Open Inference Protocol request on the model its parameters name (or a
    generative model's whole request: ``application/vnd.aiaas.task+json``)."""
    body = await read_body(request, max_body)
    if request.headers.get("content-type", "").startswith(TASK_JSON):
        return await _task(models, body)
    header_length = header_length_of(
        request.headers.get("content-type"), request.headers.get(HEADER_LENGTH)
    )
    infer = await _maybe_offload(len(body), decode_request, body, header_length)
    target = parse_target(infer.parameters)
    loaded = await models.load(target)
    loaded.check(infer.inputs, target.outputs)
    outputs = await loaded.infer(infer.inputs)
    return await _maybe_offload(
        sum(a.nbytes for a in outputs.values()),
        _response,
        target.model,
        str(target.version),
        outputs,
        infer,
        {"variant": loaded.variant, "provider": loaded.provider},
    )


async def _task(models: GpuModels, body: bytes) -> Response:
    """``{"task": item, "parameters": target}`` -> ``{"result": ...}``, run in a thread."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise InvalidInput("a task invocation is a JSON object", param="body") from exc
    if not isinstance(doc, dict) or "task" not in doc:
        raise InvalidInput("a task invocation carries task and parameters", param="body")
    target = parse_task_target(doc.get("parameters"))
    result = await run_in_threadpool(models.run_task, target, doc["task"])
    return FastJSONResponse({"result": result}, headers={"x-aiaas-variant": "fp32"})


def _response(
    model: str, version: str, outputs: Any, infer: InferRequest, parameters: dict[str, str]
) -> Response:
    content, headers = encode_response(model, version, outputs, infer, parameters=parameters)
    if HEADER_LENGTH in headers:  # SageMaker returns only the content type to the caller
        headers["Content-Type"] = binary_content_type(int(headers[HEADER_LENGTH]))
    headers["x-aiaas-variant"] = parameters["variant"]
    headers["x-aiaas-provider"] = parameters["provider"]
    return Response(content, headers=headers)


async def _maybe_offload[T](size: int, function: Callable[..., T], *args: Any) -> T:
    if size <= INLINE_BYTES:
        return function(*args)
    return await run_in_threadpool(function, *args)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refusing one over ``max_bytes``.

    Raises:
        PayloadTooLarge: The body (or its declared length) is over the limit.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {max_bytes}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"request body is over the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def create_gpu_app(settings: Settings | None = None, models: GpuModels | None = None) -> FastAPI:
    """The container's app; reads settings now so bad configuration fails at start.

    Args:
        settings: Defaults to ``Settings()`` (``AIAAS_*`` variables).
        models: Defaults to ``aiaas.gpu.setup.build_models(settings)`` (S3 through boto3 from the
            environment, CUDA when there is a GPU).
    """
    from aiaas.gpu.setup import build_models  # noqa: PLC0415 - boto3 only when needed

    settings = settings or Settings()
    loaded = models or build_models(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        loaded.close()

    app = FastAPI(
        title="aiaas GPU container",
        version="0.1.0",
        default_response_class=FastJSONResponse,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.models = loaded
    app.state.max_body_bytes = settings.max_body_bytes
    install_error_handlers(app, shape="oip")
    app.include_router(router)
    return app
