"""Open Inference Protocol (REST) codec: request bodies in, response bodies out.

Pure functions over bytes and numpy arrays; the web layer only moves headers. A body is a JSON
object, optionally followed by binary tensor data, in which case the
``Inference-Header-Content-Length`` header gives the JSON part's length. Specs:
kserve/open-inference-protocol ``specification/protocol/inference_rest.md`` and Triton's binary
tensor data extension (``oip_binary``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson

from aiaas.errors import InvalidInput
from aiaas.protocols.oip_binary import (
    DATATYPES,
    Array,
    oip_datatype,
    tensor_from_binary,
    tensor_from_json,
    tensor_to_binary,
    tensor_to_json,
)

HEADER_LENGTH = "Inference-Header-Content-Length"


class TensorLike(Protocol):
    """What the codec needs of a model's tensor description (``aiaas_runtime`` TensorSpec)."""

    @property
    def name(self) -> str: ...
    @property
    def datatype(self) -> str: ...
    @property
    def shape(self) -> tuple[int, ...]: ...


@dataclass(frozen=True, slots=True)
class RequestedOutput:
    """One entry of the request's ``outputs``.

    Attributes:
        name: Output tensor name.
        binary: Whether to return it as binary data (its ``binary_data`` parameter, else the
            request's ``binary_data_output``).
        parameters: The entry's parameters as sent.
    """

    name: str
    binary: bool
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InferRequest:
    """A decoded inference request.

    Attributes:
        inputs: Arrays by input name, in request order; BYTES inputs are object arrays of bytes.
        id: The request's ``id``, echoed in the response.
        parameters: The request's parameters as sent.
        outputs: Requested outputs in request order; empty means all, in the model's order.
        binary_data_output: Whether outputs not listed in ``outputs`` come back as binary.
    """

    inputs: dict[str, Array]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[RequestedOutput] = field(default_factory=list)
    binary_data_output: bool = False


@dataclass(frozen=True, slots=True)
class _Head:
    name: str
    datatype: str
    shape: tuple[int, ...]
    parameters: dict[str, Any]
    param: str


def decode_request(
    body: bytes,
    header_length: int | None,
    expected: Mapping[str, TensorLike] | None = None,
    expected_outputs: Collection[str] | None = None,
) -> InferRequest:
    """Decode an inference request body (JSON, or JSON followed by binary tensor data).

    Args:
        body: The whole HTTP body.
        header_length: The ``Inference-Header-Content-Length`` header; None when absent (the
            whole body is JSON).
        expected: The model's inputs by name; when given, every one is required and each
            input must match its datatype and shape (``-1`` matches any size).
        expected_outputs: The model's output names; when given, requested outputs must be
            among them.

    Raises:
        InvalidInput: The body is malformed or does not fit the model; ``param`` names the
            field at fault.
    """
    view = memoryview(body)
    if header_length is not None and not 0 <= header_length <= len(body):
        raise InvalidInput(
            f"{HEADER_LENGTH} {header_length} is outside the {len(body)}-byte body",
            param=HEADER_LENGTH,
        )
    split = len(body) if header_length is None else header_length
    doc = _parse_json(view[:split])
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput("'id' must be a string", param="id")
    parameters = _object(doc.get("parameters", {}), "parameters")
    binary_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_output, bool):
        raise InvalidInput("'binary_data_output' must be a boolean", param="parameters")
    return InferRequest(
        inputs=_decode_inputs(doc.get("inputs"), view[split:], expected),
        id=request_id,
        parameters=parameters,
        outputs=_decode_outputs(doc.get("outputs"), binary_output, expected_outputs),
        binary_data_output=binary_output,
    )


def encode_response(
    model_name: str,
    model_version: str | None,
    outputs: Mapping[str, Array],
    request: InferRequest,
    *,
    id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Encode an inference response the way the request asked for it.

    Only the requested outputs, in the requested order, when the request lists any; all of
    ``outputs`` otherwise. An output goes as binary data when its ``binary_data`` (or else the
    request's ``binary_data_output``) says so; JSON data is flat and row-major, BYTES as text.

    Args:
        model_name: Echoed as ``model_name``.
        model_version: Echoed as ``model_version`` when not None.
        outputs: The model's outputs by name.
        request: The decoded request.
        id: Response ``id``; defaults to the request's.
        parameters: Response-level parameters, when there are any.

    Returns:
        The body and its headers: ``Content-Type``, plus ``Inference-Header-Content-Length``
        when a binary section follows the JSON.

    Raises:
        InvalidInput: A requested output does not exist, or a BYTES output asked for as JSON
            is not UTF-8 text.
    """
    doc: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        doc["model_version"] = model_version
    response_id = request.id if id is None else id
    if response_id is not None:
        doc["id"] = response_id
    if parameters:
        doc["parameters"] = dict(parameters)
    entries: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, array, binary in _select(outputs, request):
        entry, chunk = _encode_output(name, np.asarray(array), binary)
        entries.append(entry)
        chunks += [] if chunk is None else [chunk]
    doc["outputs"] = entries
    header = orjson.dumps(doc)  # ~20x the stdlib's speed on an embedding's 384 floats
    if not any(entry.get("parameters") for entry in entries):
        return header, {"Content-Type": "application/json"}
    headers = {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))}
    return header + b"".join(chunks), headers


def _parse_json(raw: memoryview) -> dict[str, Any]:
    try:
        doc = orjson.loads(raw)  # strict: no NaN/Infinity literals, lone surrogates, 10**400
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}", param="body") from None
    if not isinstance(doc, dict):
        raise InvalidInput("request body must be a JSON object", param="body")
    return doc


def _object(value: object, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"'{param}' must be an object", param=param)
    return value


def _decode_inputs(
    raw: object, binary: memoryview, expected: Mapping[str, TensorLike] | None
) -> dict[str, Array]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("request needs a non-empty 'inputs' array", param="inputs")
    inputs: dict[str, Array] = {}
    offset = 0
    for index, item in enumerate(raw):
        head = _input_head(item, index)
        if head.name in inputs:
            raise InvalidInput(f"duplicate input {head.name!r}", param=head.param)
        if expected is not None:
            _check_expected(head, expected)
        size = _binary_size(head, item, offset, len(binary))
        if size is None:
            inputs[head.name] = tensor_from_json(
                item.get("data"), head.datatype, head.shape, name=head.name, param=head.param
            )
            continue
        chunk = binary[offset : offset + size]
        inputs[head.name] = tensor_from_binary(
            chunk, head.datatype, head.shape, name=head.name, param=head.param
        )
        offset += size
    if offset != len(binary):
        raise InvalidInput(
            f"{len(binary) - offset} bytes of binary data belong to no input", param="body"
        )
    missing = [name for name in expected or {} if name not in inputs]
    if missing:
        raise InvalidInput(
            f"missing input {missing[0]!r}; the model takes: {', '.join(expected or {})}",
            param="inputs",
        )
    return inputs


def _input_head(item: object, index: int) -> _Head:
    param = f"inputs[{index}]"
    if not isinstance(item, dict):
        raise InvalidInput(f"{param} must be an object", param=param)
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{param} needs a 'name'", param=param)
    for key in ("shape", "datatype"):
        if key not in item:
            raise InvalidInput(f"input {name!r} needs a '{key}'", param=param)
    datatype, shape = item["datatype"], item["shape"]
    if datatype not in DATATYPES:
        raise InvalidInput(
            f"input {name!r}: unknown datatype {datatype!r}; one of {', '.join(DATATYPES)}",
            param=param,
        )
    if not isinstance(shape, list) or not all(_is_count(dim) for dim in shape):
        raise InvalidInput(
            f"input {name!r}: shape must be a list of non-negative integers, not {shape!r}",
            param=param,
        )
    parameters = _object(item.get("parameters", {}), f"{param}.parameters")
    if any(key.startswith("shared_memory") for key in parameters):
        raise InvalidInput(f"input {name!r}: shared memory is not supported", param=param)
    return _Head(name, datatype, tuple(shape), parameters, param)


def _is_count(value: object) -> bool:
    return type(value) is int and value >= 0


def _check_expected(head: _Head, expected: Mapping[str, TensorLike]) -> None:
    spec = expected.get(head.name)
    if spec is None:
        raise InvalidInput(
            f"unknown input {head.name!r}; the model takes: {', '.join(expected)}",
            param=head.param,
        )
    if head.datatype != spec.datatype:
        raise InvalidInput(
            f"input {head.name!r}: datatype {head.datatype} does not match the model's "
            f"{spec.datatype}",
            param=head.param,
        )
    fits = len(head.shape) == len(spec.shape) and all(
        want in (-1, got) for got, want in zip(head.shape, spec.shape, strict=True)
    )
    if not fits:
        raise InvalidInput(
            f"input {head.name!r}: shape {list(head.shape)} does not fit the model's "
            f"{list(spec.shape)}",
            param=head.param,
        )


def _binary_size(head: _Head, item: dict[str, Any], offset: int, total: int) -> int | None:
    size = head.parameters.get("binary_data_size")
    if size is None:
        return None
    if not _is_count(size):
        raise InvalidInput(
            f"input {head.name!r}: binary_data_size must be a non-negative integer",
            param=head.param,
        )
    if "data" in item:
        raise InvalidInput(
            f"input {head.name!r} has both 'data' and binary_data_size", param=head.param
        )
    if offset + size > total:
        raise InvalidInput(
            f"input {head.name!r}: binary_data_size {size} runs past the end of the body "
            f"({total - offset} bytes left)",
            param=head.param,
        )
    return int(size)


def _decode_outputs(
    raw: object, binary_output: bool, expected: Collection[str] | None
) -> list[RequestedOutput]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidInput("'outputs' must be an array", param="outputs")
    outputs: list[RequestedOutput] = []
    for index, item in enumerate(raw):
        output = _decode_output(item, index, binary_output)
        if any(seen.name == output.name for seen in outputs):
            raise InvalidInput(f"duplicate output {output.name!r}", param=f"outputs[{index}]")
        if expected is not None and output.name not in expected:
            raise InvalidInput(
                f"unknown output {output.name!r}; the model returns: {', '.join(expected)}",
                param=f"outputs[{index}]",
            )
        outputs.append(output)
    return outputs


def _decode_output(item: object, index: int, binary_output: bool) -> RequestedOutput:
    param = f"outputs[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise InvalidInput(f"{param} must be an object with a 'name'", param=param)
    name: str = item["name"]
    parameters = _object(item.get("parameters", {}), f"{param}.parameters")
    binary = parameters.get("binary_data", binary_output)
    if not isinstance(binary, bool):
        raise InvalidInput(f"output {name!r}: binary_data must be a boolean", param=param)
    for key in parameters:
        if key == "classification" or key.startswith("shared_memory"):
            raise InvalidInput(f"output {name!r}: {key} is not supported", param=param)
    return RequestedOutput(name, binary, parameters)


def _select(outputs: Mapping[str, Array], request: InferRequest) -> list[tuple[str, Array, bool]]:
    if not request.outputs:
        return [(name, array, request.binary_data_output) for name, array in outputs.items()]
    chosen: list[tuple[str, Array, bool]] = []
    for wanted in request.outputs:
        if wanted.name not in outputs:
            raise InvalidInput(
                f"unknown output {wanted.name!r}; the model returns: {', '.join(outputs)}",
                param="outputs",
            )
        chosen.append((wanted.name, outputs[wanted.name], wanted.binary))
    return chosen


def _encode_output(name: str, array: Array, binary: bool) -> tuple[dict[str, Any], bytes | None]:
    datatype = oip_datatype(array.dtype)
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
    if not binary:
        entry["data"] = tensor_to_json(array, datatype, name=name)
        return entry, None
    raw = tensor_to_binary(array, datatype)
    entry["parameters"] = {"binary_data_size": len(raw)}
    return entry, raw
