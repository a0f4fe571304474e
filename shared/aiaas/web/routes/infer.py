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
from aiaas.web.body import check_size
from aiaas.web.docs import documented
from aiaas.web.errors import shaped_router
from aiaas.web.schemas.errors import error_responses
from aiaas.web.serving import PredictCall, PredictCallDep, inference_headers

router = shaped_router("oip", prefix="/v2/models", tags=["open inference protocol"])
OIP_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 429, 503, shape="oip")
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


async def _body(request: Request, limit: int) -> bytes:
    raw = await request.body()
    check_size(request, raw, limit)  # as it came (compressed or not)
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "deflate"):
        raw = inflate(raw, encoding, limit)
    return raw


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """A gzip or deflate body, inflated incrementally and never past ``limit`` bytes (a 1 MB
    bomb that expands to 1 GiB stops at the limit, with 413, in milliseconds).

    Raises:
        PayloadTooLarge: The inflated body would be over ``limit``.
        InvalidInput: The data is not valid gzip or deflate.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"the {encoding} body inflates to over {limit} bytes")
        out += inflater.flush()
    except zlib.error as exc:
        raise InvalidInput(f"body is not valid {encoding} data", param="body") from exc
    if not inflater.eof:
        raise InvalidInput(f"body is not valid {encoding} data (truncated)", param="body")
    if len(out) > limit:
        raise PayloadTooLarge(f"the {encoding} body inflates to over {limit} bytes")
    return out


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
