"""Request bodies read raw: clients may omit Content-Type, which FastAPI's body models reject."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from aiaas.errors import InvalidInput, PayloadTooLarge

EVENT_HEADROOM = 64 * 1024  # an event's headers and request context, besides the body


def body_limit(request: Request, max_bytes: int) -> int:
    """The largest body this request may have.

    ``max_bytes`` is Lambda's synchronous payload limit on the *event*. API Gateway sends a
    binary body (Triton's binary tensors; any body without a text Content-Type) base64-encoded
    in the event, 4/3 of its size: such a body can be at most ~3/4 of it (4.4 MiB of 6 MiB).
    """
    event = request.scope.get("aws.event") or {}
    if event.get("isBase64Encoded"):
        return (max_bytes - EVENT_HEADROOM) * 3 // 4
    return max_bytes


def check_size(request: Request, raw: bytes, max_bytes: int) -> None:
    """PayloadTooLarge (413) for a body over `body_limit`, naming the limit and why."""
    limit = body_limit(request, max_bytes)
    if len(raw) > limit:
        binary = limit != max_bytes
        why = " (binary bodies travel base64-encoded in Lambda's 6 MB event)" if binary else ""
        raise PayloadTooLarge(f"request body is {len(raw)} bytes; the limit is {limit}{why}")


async def read_json(request: Request, max_bytes: int) -> Any:
    """Parse the body as JSON whatever the Content-Type says.

    Raises:
        PayloadTooLarge: The body is over its limit (`body_limit`).
        InvalidInput: The body is empty or not JSON.
    """
    raw = await request.body()
    check_size(request, raw, max_bytes)
    if not raw.strip():
        raise InvalidInput("request body is empty; send a JSON object", param="body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}", param="body") from exc


def parse_as[M: BaseModel](model: type[M], data: Any) -> M:
    """Validate parsed JSON against a request model; the first problem names its field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidInput(f"{param or 'body'}: {first['msg']}", param=param) from exc


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` that documents a raw-read JSON body with ``model``'s schema."""
    schema = model.model_json_schema()
    schema = _inline(schema, schema.pop("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace ``$ref``s to ``$defs`` by the definitions (the body has no components)."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, defs) for value in node]
    return node
