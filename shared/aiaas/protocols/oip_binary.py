"""Open Inference Protocol tensor data: datatypes, JSON ``data`` and binary tensor data.

JSON ``data`` is row-major, flat or nested to the tensor's shape; BYTES elements are strings.
Binary tensor data (Triton's extension) is little-endian and row-major, without padding; a
BOOL element is one byte (0 or 1); a BYTES element is a 4-byte little-endian unsigned length
followed by that many bytes. Spec: triton-inference-server/server
``docs/protocol/extension_binary_data.md``.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas.errors import InvalidInput
from aiaas_runtime.datatypes import DATATYPES, numpy_dtype, oip_datatype

# The datatype table is the runtime's (one copy); the codec re-exports its names.
__all__ = [
    "DATATYPES",
    "Array",
    "numpy_dtype",
    "oip_datatype",
    "tensor_from_binary",
    "tensor_from_json",
    "tensor_to_binary",
    "tensor_to_json",
]

Array = npt.NDArray[Any]

_LENGTH = struct.Struct("<I")
_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "BOOL": ((bool,), "a boolean"),
    "BYTES": ((str,), "a string"),
    "FP": ((int, float), "a number"),
    "INT": ((int, float), "an integer"),
}


def tensor_to_binary(array: Array, datatype: str) -> bytes:
    """Serialize an array in the extension's layout (row-major, little-endian).

    Raises:
        TypeError: A BYTES element is neither ``bytes`` nor ``str``.
    """
    if datatype == "BYTES":
        return _serialize_bytes(array)
    return np.ascontiguousarray(array, dtype=numpy_dtype(datatype)).tobytes()


def tensor_from_binary(
    raw: memoryview, datatype: str, shape: Sequence[int], *, name: str, param: str
) -> Array:
    """Read one input tensor from its slice of the binary section.

    Args:
        raw: Exactly the input's ``binary_data_size`` bytes.
        datatype: Its Open Inference Protocol datatype.
        shape: Its shape (non-negative dimensions).
        name: Input name, for messages.
        param: Request field at fault, for messages (``inputs[0]``).

    Raises:
        InvalidInput: The size disagrees with shape and datatype, a BOOL byte is not 0 or 1,
            or a BYTES element runs past the slice.
    """
    count = math.prod(shape)
    if datatype == "BYTES":
        return _deserialize_bytes(raw, count, name=name, param=param).reshape(shape)
    dtype = numpy_dtype(datatype)
    if len(raw) != count * dtype.itemsize:
        raise InvalidInput(
            f"input {name!r}: binary_data_size {len(raw)} does not match shape {list(shape)} "
            f"of {datatype} ({count * dtype.itemsize} bytes)",
            param=param,
        )
    if datatype == "BOOL":
        octets = np.frombuffer(raw, dtype=np.uint8)
        if octets.size and int(octets.max()) > 1:
            raise InvalidInput(f"input {name!r}: BOOL bytes must be 0 or 1", param=param)
        return octets.astype(np.bool_).reshape(shape)
    if datatype.startswith("FP"):
        values = np.frombuffer(raw, dtype=dtype)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InvalidInput(
                f"input {name!r}: element {int(bad[0])} is {values[bad[0]]}; inputs must be "
                "finite numbers",
                param=param,
            )
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def tensor_to_json(array: Array, datatype: str, *, name: str) -> list[Any]:
    """Return an output's JSON ``data``: flat, row-major; BYTES elements as text.

    Raises:
        InvalidInput: A BYTES element is not UTF-8 (the caller should ask for binary data).
    """
    flat: list[Any] = array.ravel(order="C").tolist()
    if datatype != "BYTES":
        return flat
    try:
        return [item.decode("utf-8") if isinstance(item, bytes) else str(item) for item in flat]
    except UnicodeDecodeError:
        raise InvalidInput(
            f"output {name!r} is not UTF-8 text; ask for it with binary_data: true",
            param="outputs",
        ) from None


def tensor_from_json(
    data: object, datatype: str, shape: Sequence[int], *, name: str, param: str
) -> Array:
    """Read one input tensor from its JSON ``data``, flat or nested to its shape.

    Integers may be written as integral floats (``3.0``); BOOL takes only true/false.

    Raises:
        InvalidInput: ``data`` is not an array, disagrees with the shape, or holds a value of
            the wrong type or out of the datatype's range.
    """
    if data is None:
        raise InvalidInput(f"input {name!r} has no 'data' and no binary_data_size", param=param)
    if not isinstance(data, list):
        raise InvalidInput(f"input {name!r}: 'data' must be an array", param=param)
    flat = _flatten(data, shape, name=name, param=param)
    values = _typed(flat, datatype, name=name, param=param)
    return np.array(values, dtype=numpy_dtype(datatype)).reshape(shape)


def _flatten(data: list[Any], shape: Sequence[int], *, name: str, param: str) -> list[Any]:
    count = math.prod(shape)
    if not any(isinstance(item, list) for item in data):
        if len(data) != count:
            raise InvalidInput(
                f"input {name!r}: 'data' has {len(data)} values; shape {list(shape)} needs {count}",
                param=param,
            )
        return data
    level: list[Any] = [data]
    for depth, dim in enumerate([*shape, None]):
        if dim is None and not any(isinstance(item, list) for item in level):
            break
        if dim is None or any(not isinstance(n, list) or len(n) != dim for n in level):
            raise InvalidInput(
                f"input {name!r}: nested 'data' does not match shape {list(shape)} "
                f"at depth {depth}",
                param=param,
            )
        level = [item for node in level for item in node]
    return level


def _typed(flat: list[Any], datatype: str, *, name: str, param: str) -> list[Any]:
    kind = "INT" if "INT" in datatype else "FP" if datatype.startswith("FP") else datatype
    allowed, wanted = _KINDS[kind]
    for index, value in enumerate(flat):
        integral = kind != "INT" or type(value) is not float or value.is_integer()
        if type(value) not in allowed or not integral:
            raise InvalidInput(
                f"input {name!r}: data[{index}] is {json.dumps(value)[:40]}, not {wanted}",
                param=param,
            )
    if kind == "BYTES":
        return [_utf8(value, index, name=name, param=param) for index, value in enumerate(flat)]
    if kind == "FP":
        return _finite(flat, datatype, name=name, param=param)
    if kind != "INT":
        return flat
    info = np.iinfo(numpy_dtype(datatype))
    values = [int(value) for value in flat]
    for index, value in enumerate(values):
        if not info.min <= value <= info.max:
            raise InvalidInput(
                f"input {name!r}: data[{index}] = {value} is out of range for {datatype}",
                param=param,
            )
    return values


def _utf8(value: str, index: int, *, name: str, param: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\\ud800") has no UTF-8 form
        raise InvalidInput(
            f"input {name!r}: data[{index}] is not valid Unicode text", param=param
        ) from None


def _finite(flat: list[Any], datatype: str, *, name: str, param: str) -> list[Any]:
    """Floats that the datatype holds as finite numbers (3.5e38 overflows FP32 to inf)."""
    limit = float(np.finfo(numpy_dtype(datatype)).max)
    for index, value in enumerate(flat):
        try:
            number = float(value)
        except OverflowError:  # an integer past any float, like 10**400
            number = math.inf
        if not math.isfinite(number) or abs(number) > limit:
            raise InvalidInput(
                f"input {name!r}: data[{index}] is not a finite {datatype} number "
                f"(|x| <= {limit:.4g})",
                param=param,
            )
    return flat


def _serialize_bytes(array: Array) -> bytes:
    parts: list[bytes] = []
    for item in array.ravel(order="C"):
        raw = item.encode("utf-8") if isinstance(item, str) else item
        if not isinstance(raw, bytes):
            raise TypeError(f"BYTES element of type {type(item).__name__}")
        parts += (_LENGTH.pack(len(raw)), raw)
    return b"".join(parts)


def _deserialize_bytes(raw: memoryview, count: int, *, name: str, param: str) -> Array:
    if count * _LENGTH.size > len(raw):
        raise InvalidInput(
            f"input {name!r}: {len(raw)} bytes of binary data cannot hold {count} BYTES elements",
            param=param,
        )
    out = np.empty(count, dtype=np.object_)
    offset = 0
    for index in range(count):
        if offset + _LENGTH.size > len(raw):
            raise InvalidInput(
                f"input {name!r}: binary data ends after {index} of {count} BYTES elements",
                param=param,
            )
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += _LENGTH.size
        if offset + length > len(raw):
            raise InvalidInput(
                f"input {name!r}: BYTES element {index} (length {length}) runs past its "
                "binary data",
                param=param,
            )
        out[index] = bytes(raw[offset : offset + length])
        offset += length
    if offset != len(raw):
        raise InvalidInput(
            f"input {name!r}: {len(raw) - offset} bytes left after {count} BYTES elements",
            param=param,
        )
    return out
