"""Open Inference Protocol inference: ``POST /v2/models/{m}[/versions/{v}]/infer``.

The body is read raw: Triton's client sends no Content-Type, and binary tensors follow the
JSON header (``Inference-Header-Content-Length``). API Gateway's base64 bodies are decoded by
Mangum; binary responses travel back the same way.
"""

from __future__ import annotations

import time
import zlib
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from aiaas.errors import InvalidInput, PayloadTooLarge
from aiaas.protocols import HEADER_LENGTH, decode_request, encode_response
from aiaas.web.deps import Predictor, SettingsDep, UsageServiceDep
from aiaas.web.serving import PredictionServiceDep, is_builtin, registered_models

router = APIRouter(prefix="/v2/models", tags=["open inference protocol"])
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


async def _body(request: Request, limit: int) -> bytes:
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "deflate"):
        try:
            raw = zlib.decompress(
                raw, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
            )
        except zlib.error as exc:
            raise InvalidInput(f"body is not valid {encoding} data", param="body") from exc
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body is {len(raw)} bytes; the limit is {limit}")
    return raw


def _header_length(request: Request) -> int | None:
    value = request.headers.get(HEADER_LENGTH)
    if value is None:
        return None
    if not value.strip().isdigit():
        raise InvalidInput(f"{HEADER_LENGTH} must be a number of bytes", param=HEADER_LENGTH)
    return int(value)


async def _infer(
    name: str,
    version: str | None,
    request: Request,
    *,
    caller: Predictor,
    service: PredictionServiceDep,
    usage: UsageServiceDep,
    settings: SettingsDep,
) -> Response:
    body = await _body(request, settings.max_body_bytes)
    header_length = _header_length(request)
    started = time.perf_counter()
    if is_builtin(name):
        manifest = service.describe(name)
        decoded = decode_request(
            body,
            header_length,
            {t.name: t for t in manifest.serving_inputs},
            [o.name for o in manifest.outputs],
        )
        usage.consume(caller, name)
        outputs, served_version = service.infer(name, version, decoded).outputs, manifest.version
    else:
        served = registered_models().get(caller, name, int(version) if version else None)
        decoded = decode_request(
            body,
            header_length,
            {t.name: t for t in served.inputs},
            [o.name for o in served.outputs],
        )
        usage.consume(caller, name)
        outputs, served_version = served.run(decoded.inputs), str(served.version.version)
    content, headers = encode_response(name, served_version, outputs, decoded)
    headers["x-inference-ms"] = f"{(time.perf_counter() - started) * 1e3:.2f}"
    return Response(content=content, headers=headers, media_type=headers.pop("Content-Type"))


@router.post("/{name}/infer")
async def infer(
    name: Name,
    request: Request,
    *,
    caller: Predictor,
    service: PredictionServiceDep,
    usage: UsageServiceDep,
    settings: SettingsDep,
) -> Response:
    """Run the model's default version on JSON or binary tensors."""
    return await _infer(
        name, None, request, caller=caller, service=service, usage=usage, settings=settings
    )


@router.post("/{name}/versions/{version}/infer")
async def infer_version(
    name: Name,
    version: Annotated[str, Path(pattern=r"^[0-9]{1,9}$")],
    request: Request,
    *,
    caller: Predictor,
    service: PredictionServiceDep,
    usage: UsageServiceDep,
    settings: SettingsDep,
) -> Response:
    """Run one version of the model."""
    return await _infer(
        name, version, request, caller=caller, service=service, usage=usage, settings=settings
    )
