"""The client's half of the Open Inference Protocol codec: requests out, responses in.

``oip`` is the server's half (decode a request, encode a response). A service that forwards
tensors to another inference server (the GPU container) needs the mirror image: encode a
request with binary tensors, decode the response. Also the content type SageMaker's Triton
containers use to carry the JSON header's length, since InvokeEndpoint passes no custom
headers: ``application/vnd.sagemaker-triton.binary+json;json-header-size=<N>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiaas.errors import InvalidInput
from aiaas.protocols.oip import HEADER_LENGTH
from aiaas.protocols.oip_binary import (
    DATATYPES,
    Array,
    oip_datatype,
    tensor_from_binary,
    tensor_from_json,
    tensor_to_binary,
)

BINARY_JSON = "application/vnd.sagemaker-triton.binary+json"
_HEADER_SIZE = "json-header-size"


@dataclass(frozen=True, slots=True)
class InferResponse:
    """A decoded inference response.

    Attributes:
        model_name: The response's ``model_name``.
        model_version: Its ``model_version``, when present.
        outputs: Arrays by output name, in response order.
        id: The response's ``id``, when present.
        parameters: Response-level parameters as sent.
    """

    model_name: str
    model_version: str | None
    outputs: dict[str, Array]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def binary_content_type(header_length: int) -> str:
    """The SageMaker Triton content type of a body whose JSON header is ``header_length``."""
    return f"{BINARY_JSON};{_HEADER_SIZE}={header_length}"


def header_length_of(content_type: str | None, header: str | None = None) -> int | None:
    """The JSON header's length: from ``json-header-size`` in a SageMaker Triton content type,
    else from the ``Inference-Header-Content-Length`` header; None when the body is all JSON.

    Raises:
        InvalidInput: A length is not a non-negative integer.
    """
    media, *params = [part.strip() for part in (content_type or "").split(";")]
    if media.lower() == BINARY_JSON:
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == _HEADER_SIZE:
                return _length(value.strip(), f"Content-Type {_HEADER_SIZE}")
        raise InvalidInput(f"{BINARY_JSON} needs a {_HEADER_SIZE} parameter", param="Content-Type")
    return None if header is None else _length(header, HEADER_LENGTH)


def _length(value: str, param: str) -> int:
    if not value.isdigit():
        raise InvalidInput(f"{param} must be a non-negative integer, not {value!r}", param=param)
    return int(value)


def encode_request(
    inputs: Mapping[str, Array],
    parameters: Mapping[str, Any] | None = None,
    *,
    binary_output: bool = True,
) -> tuple[bytes, int]:
    """Encode an inference request with every input as binary tensor data.

    Args:
        inputs: Arrays by input name.
        parameters: Request-level parameters.
        binary_output: Ask for every output as binary data (exact floats, a quarter of the
            JSON size).

    Returns:
        The body and the length of its JSON header (the binary data follows it).
    """
    entries: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, array in inputs.items():
        datatype = oip_datatype(array.dtype)
        raw = tensor_to_binary(array, datatype)
        entries.append(
            {
                "name": name,
                "datatype": datatype,
                "shape": list(array.shape),
                "parameters": {"binary_data_size": len(raw)},
            }
        )
        chunks.append(raw)
    doc: dict[str, Any] = {"inputs": entries}
    params = {**(parameters or {}), **({"binary_data_output": True} if binary_output else {})}
    if params:
        doc["parameters"] = params
    header = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    return header + b"".join(chunks), len(header)


def decode_response(body: bytes, header_length: int | None) -> InferResponse:
    """Decode an inference response (JSON, or JSON followed by binary tensor data).

    Raises:
        InvalidInput: The body is not a well-formed inference response.
    """
    split = len(body) if header_length is None else header_length
    if not 0 <= split <= len(body):
        raise InvalidInput(f"JSON header length {split} is outside the {len(body)}-byte body")
    try:
        doc = json.loads(body[:split])
    except ValueError:
        raise InvalidInput("response is not valid JSON", param="body") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("outputs"), list):
        raise InvalidInput("response has no 'outputs' array", param="outputs")
    view, offset = memoryview(body)[split:], 0
    outputs: dict[str, Array] = {}
    for index, entry in enumerate(doc["outputs"]):
        name, datatype, shape, size = _output_head(entry, index)
        param = f"outputs[{index}]"
        if size is None:
            data = entry.get("data")
            outputs[name] = tensor_from_json(data, datatype, shape, name=name, param=param)
            continue
        if offset + size > len(view):
            raise InvalidInput(f"output {name!r} runs past the end of the body", param=param)
        chunk = view[offset : offset + size]
        outputs[name] = tensor_from_binary(chunk, datatype, shape, name=name, param=param)
        offset += size
    version = doc.get("model_version")
    return InferResponse(
        model_name=str(doc.get("model_name", "")),
        model_version=None if version is None else str(version),
        outputs=outputs,
        id=doc.get("id"),
        parameters=doc.get("parameters") or {},
    )


def _output_head(entry: object, index: int) -> tuple[str, str, list[int], int | None]:
    param = f"outputs[{index}]"
    if not isinstance(entry, dict):
        raise InvalidInput(f"{param} is not an object", param=param)
    name, datatype, shape = entry.get("name"), entry.get("datatype"), entry.get("shape")
    parameters = entry.get("parameters") or {}
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    if not (isinstance(name, str) and datatype in DATATYPES and isinstance(shape, list)):
        raise InvalidInput(f"{param} needs a name, a known datatype and a shape", param=param)
    if not all(type(d) is int and d >= 0 for d in shape):
        raise InvalidInput(f"{param}: shape must be non-negative integers", param=param)
    if size is not None and not (type(size) is int and size >= 0):
        raise InvalidInput(f"{param}: binary_data_size must be a non-negative integer", param=param)
    return name, str(datatype), shape, size
