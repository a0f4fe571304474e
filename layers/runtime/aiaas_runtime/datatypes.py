"""Open Inference Protocol datatypes and the numpy dtypes that hold them: the one table.

Every part of the service that turns a datatype name (``FP32``, ``BYTES``...) into a numpy
dtype or back goes through here: the REST codec, registration's generated inputs, the GPU
container's input checks. Imports numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

# The protocol's table, in its order; fixed-size types little-endian as on the wire.
NUMPY_DTYPES: Mapping[str, np.dtype[Any]] = MappingProxyType(
    {
        "BOOL": np.dtype(np.bool_),
        "UINT8": np.dtype("<u1"),
        "UINT16": np.dtype("<u2"),
        "UINT32": np.dtype("<u4"),
        "UINT64": np.dtype("<u8"),
        "INT8": np.dtype("<i1"),
        "INT16": np.dtype("<i2"),
        "INT32": np.dtype("<i4"),
        "INT64": np.dtype("<i8"),
        "FP16": np.dtype("<f2"),
        "FP32": np.dtype("<f4"),
        "FP64": np.dtype("<f8"),
        "BYTES": np.dtype(np.object_),
    }
)
"""Open Inference Protocol datatype -> the numpy dtype that holds it (BYTES: ``object``)."""

DATATYPES: tuple[str, ...] = tuple(NUMPY_DTYPES)
"""Every datatype of the Open Inference Protocol's table, in its order."""

_FIXED_SIZE = {dtype: name for name, dtype in NUMPY_DTYPES.items() if name != "BYTES"}


def numpy_dtype(datatype: str) -> np.dtype[Any]:
    """Return the numpy dtype that holds an Open Inference Protocol datatype.

    Args:
        datatype: A name from the protocol's table (``FP32``, ``INT64``, ``BYTES``...).

    Returns:
        ``object`` for BYTES (arrays of ``bytes``), little-endian fixed sizes for the others.

    Raises:
        ValueError: ``datatype`` is not in the protocol's table.
    """
    try:
        return NUMPY_DTYPES[datatype]
    except KeyError:
        raise ValueError(f"unknown datatype {datatype!r}") from None


def oip_datatype(dtype: npt.DTypeLike) -> str:
    """Return the Open Inference Protocol datatype for a numpy dtype.

    Args:
        dtype: Anything ``numpy.dtype`` takes; byte order does not matter.

    Returns:
        The datatype's name; BYTES for ``object``, ``bytes_`` and ``str_`` dtypes.

    Raises:
        ValueError: No datatype fits (complex numbers, datetimes, structured dtypes, and
            extension types such as bfloat16 or float8).
    """
    dt = np.dtype(dtype)
    if dt.kind in "OSU":
        return "BYTES"
    name = _FIXED_SIZE.get(dt.newbyteorder("<"))
    if name is None:
        raise ValueError(f"no Open Inference Protocol datatype for numpy dtype {dt}")
    return name
