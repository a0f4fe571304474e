"""The one Open Inference Protocol datatype table, and every path that maps a type through it."""

from __future__ import annotations

from types import SimpleNamespace

import ml_dtypes
import numpy as np
import numpy.typing as npt
import pytest
import tritonclient.utils as triton
from onnx import TensorProto, helper

from aiaas import protocols
from aiaas.errors import Unavailable
from aiaas.gpu.runtime import input_specs
from aiaas.registration.runs import onnx_datatype
from aiaas_runtime.datatypes import DATATYPES, NUMPY_DTYPES, numpy_dtype, oip_datatype
from modelzoo.common import OIP_DATATYPES as MODELZOO_DATATYPES

# The protocol's table, in the order its specification lists it.
SPEC_ORDER = (
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
)  # fmt: skip
ONNX_TYPES = dict(TensorProto.DataType.items())


def test_the_table_has_every_datatype_of_the_protocol_in_its_order() -> None:
    assert DATATYPES == SPEC_ORDER
    assert tuple(NUMPY_DTYPES) == SPEC_ORDER


@pytest.mark.parametrize("datatype", DATATYPES)
def test_each_datatype_round_trips_through_numpy(datatype: str) -> None:
    dtype = numpy_dtype(datatype)
    assert oip_datatype(dtype) == datatype
    assert oip_datatype(dtype.newbyteorder(">")) == datatype  # byte order does not matter


@pytest.mark.parametrize("datatype", DATATYPES)
def test_each_datatype_holds_what_tritons_client_sends(datatype: str) -> None:
    assert numpy_dtype(datatype) == np.dtype(triton.triton_to_np_dtype(datatype))
    assert triton.np_to_triton_dtype(numpy_dtype(datatype)) == datatype


def test_text_and_byte_strings_are_bytes() -> None:
    assert oip_datatype(np.dtype("U5")) == "BYTES"
    assert oip_datatype(np.bytes_) == "BYTES"
    assert numpy_dtype("BYTES") == np.dtype(np.object_)


@pytest.mark.parametrize(
    "dtype",
    [np.complex64, np.longdouble, "datetime64[ns]", "V4", ml_dtypes.bfloat16,
     ml_dtypes.float8_e5m2, ml_dtypes.int4],
    ids=str,
)  # fmt: skip
def test_dtypes_without_a_datatype_are_refused(dtype: npt.DTypeLike) -> None:
    with pytest.raises(ValueError, match="no Open Inference Protocol datatype"):
        oip_datatype(dtype)


def test_an_unknown_datatype_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown datatype 'BF16'"):
        numpy_dtype("BF16")
    with pytest.raises(TypeError):
        NUMPY_DTYPES["BF16"] = np.dtype(ml_dtypes.bfloat16)  # type: ignore[index]


def test_the_codec_serves_the_runtimes_table() -> None:
    assert protocols.DATATYPES is DATATYPES
    assert protocols.numpy_dtype is numpy_dtype
    assert protocols.oip_datatype is oip_datatype


def test_modelzoos_copy_equals_the_runtimes_table() -> None:
    # modelzoo builds in its own environment, without the runtime: it keeps a copy
    assert sorted(MODELZOO_DATATYPES.values()) == sorted(DATATYPES)
    for elem_type, datatype in MODELZOO_DATATYPES.items():
        assert numpy_dtype(datatype) == helper.tensor_dtype_to_np_dtype(elem_type)
    registration = {
        elem_type: onnx_datatype(elem_type)
        for elem_type in ONNX_TYPES.values()
        if onnx_datatype(elem_type) is not None
    }
    assert registration == MODELZOO_DATATYPES


@pytest.mark.parametrize(("name", "elem_type"), ONNX_TYPES.items())
def test_registration_and_the_gpu_container_name_every_onnx_type_alike(
    name: str, elem_type: int
) -> None:
    # onnxruntime spells an ONNX element type in lower case: tensor(float), tensor(bfloat16)
    session = SimpleNamespace(
        get_inputs=lambda: [SimpleNamespace(name="x", type=f"tensor({name.lower()})", shape=[1])]
    )
    datatype = onnx_datatype(elem_type)
    if datatype is None:
        with pytest.raises(Unavailable, match="which no request can carry"):
            input_specs(session)
    else:
        assert input_specs(session)["x"].datatype == datatype


def test_bfloat16_float8_and_complex_have_no_datatype() -> None:
    for elem_type in (TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.COMPLEX64,
                      TensorProto.INT4, TensorProto.UNDEFINED):  # fmt: skip
        assert onnx_datatype(elem_type) is None
    assert onnx_datatype(TensorProto.FLOAT) == "FP32"
    assert onnx_datatype(TensorProto.STRING) == "BYTES"


def test_sequences_and_maps_are_not_tensors_for_the_gpu_container() -> None:
    for kind in ("seq(tensor(float))", "map(int64,tensor(float))", "optional(tensor(float))"):
        session = SimpleNamespace(
            get_inputs=lambda kind=kind: [SimpleNamespace(name="x", type=kind, shape=[])]
        )
        with pytest.raises(Unavailable):
            input_specs(session)
