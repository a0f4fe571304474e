"""Open Inference Protocol inference: ``POST /v2/models/{m}[/versions/{v}]/infer``.

The body is read raw: Triton's client sends no Content-Type, and binary tensors follow the
JSON header (``Inference-Header-Content-Length``). API Gateway's base64 bodies are decoded by
Mangum; binary responses travel back the same way.
"""

from __future__ import annotations

import zlib
from typing import Annotated

from fastapi import Path, Request, Response

from aiaas.errors import InvalidInput, PayloadTooLarge
from aiaas.protocols import HEADER_LENGTH, InferRequest, decode_request, encode_response
from aiaas.serving.resolver import ServedModel
from aiaas.web.docs import documented
from aiaas.web.errors import shaped_router
from aiaas.web.schemas.errors import error_responses
from aiaas.web.serving import PredictCall, PredictCallDep, inference_headers

router = shaped_router("oip", prefix="/v2/models", tags=["open inference protocol"])
OIP_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 429, 503, shape="oip")
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


async def _infer(name: str, version: int | None, request: Request, call: PredictCall) -> Response:
    body = await _body(request, call.max_body_bytes)
    header_length = _header_length(request)

    def decode(served: ServedModel) -> InferRequest:
        inputs = {spec.name: spec for spec in served.model.serving_inputs}
        return decode_request(body, header_length, inputs, [o.name for o in served.model.outputs])

    result = call.service.infer(call.caller, name, version, decode)
    content, headers = encode_response(name, result.served.version, result.outputs, result.request)
    headers |= inference_headers(result)
    return Response(content=content, headers=headers, media_type=headers.pop("Content-Type"))


@router.post("/{name}/infer")
@documented(None, OIP_ERRORS)
async def infer(name: Name, request: Request, call: PredictCallDep) -> Response:
    """Run the model's default version on JSON or binary tensors."""
    return await _infer(name, None, request, call)


@router.post("/{name}/versions/{version}/infer")
@documented(None, OIP_ERRORS)
async def infer_version(
    name: Name,
    version: Annotated[str, Path(pattern=r"^[0-9]{1,9}$")],
    request: Request,
    call: PredictCallDep,
) -> Response:
    """Run one version of the model."""
    return await _infer(name, int(version), request, call)
