"""The Open Inference Protocol codec against the bytes Triton's own HTTP client sends and reads."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton

from aiaas.errors import InvalidInput
from aiaas.protocols import (
    DATATYPES,
    HEADER_LENGTH,
    InferRequest,
    decode_request,
    encode_response,
    numpy_dtype,
    oip_datatype,
)
from aiaas_runtime.manifest import TensorSpec

Client = triton.InferenceServerClient

SAMPLES: dict[str, np.ndarray] = {
    "FP32": np.array([[0.5, -1.25, 3.0], [1e-3, 2.5e6, -0.0]], dtype=np.float32),
    "FP64": np.array([[np.pi, -1e300, 2.0]], dtype=np.float64),
    "FP16": np.array([1.5, -2.0, 65504.0], dtype=np.float16),
    "INT64": np.array([[101, 2023, -(2**62)], [0, 1, 2**62]], dtype=np.int64),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1]], dtype=np.int32),
    "INT8": np.array([-128, 0, 127], dtype=np.int8),
    "UINT8": np.arange(0, 256, 51, dtype=np.uint8).reshape(2, 3),
    "UINT64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "BOOL": np.array([[True, False], [False, True]]),
    "BYTES": np.array([[b"hello", "h\u00e9llo".encode()], [b"", b"a b c"]], dtype=np.object_),
}


def client_request(
    inputs: list[triton.InferInput],
    outputs: list[triton.InferRequestedOutput] | None = None,
    **kwargs: Any,
) -> tuple[bytes, int | None]:
    """The exact body and Inference-Header-Content-Length the client would send."""
    body, json_size = Client.generate_request_body(inputs, outputs=outputs, **kwargs)
    return body, json_size


def client_input(name: str, array: np.ndarray, *, binary: bool) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), oip_datatype(array.dtype))
    return tensor.set_data_from_numpy(array, binary_data=binary)


def client_parse(body: bytes, headers: dict[str, str]) -> triton.InferResult:
    length = headers.get(HEADER_LENGTH)
    return Client.parse_response_body(body, header_length=None if length is None else int(length))


def json_body(doc: dict[str, Any], *chunks: bytes) -> tuple[bytes, int | None]:
    header = json.dumps(doc).encode()
    return header + b"".join(chunks), (len(header) if chunks else None)


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert got.tolist() == want.tolist()


# --- round trips through the real client ------------------------------------------------------


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("datatype", sorted(SAMPLES))
def test_every_datatype_round_trips_through_the_client(datatype: str, binary: bool) -> None:
    # Given an input the client encodes, and an output it asks for the same way
    sample = SAMPLES[datatype]
    body, length = client_request(
        [client_input("x", sample, binary=binary)],
        [triton.InferRequestedOutput("y", binary_data=binary)],
    )
    # When we decode it and send it back
    request = decode_request(body, length)
    assert_same(request.inputs["x"], sample)
    response, headers = encode_response("m", "1", {"y": request.inputs["x"]}, request)
    # Then the client reads the same tensor
    got = client_parse(response, headers).as_numpy("y")
    if datatype == "BYTES" and not binary:  # JSON BYTES come back as str, as from Triton
        got = np.array([s.encode() for s in got.ravel()], dtype=np.object_).reshape(got.shape)
    assert_same(got, sample)
    assert (HEADER_LENGTH in headers) is binary


def test_nested_json_data_equals_flat_json_data() -> None:
    nested, _ = json_body(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [2, 2, 1],
                    "datatype": "INT64",
                    "data": [[[1], [2]], [[3], [4]]],
                }
            ]
        }
    )
    flat, _ = json_body(
        {"inputs": [{"name": "x", "shape": [2, 2, 1], "datatype": "INT64", "data": [1, 2, 3, 4]}]}
    )
    assert_same(decode_request(nested, None).inputs["x"], decode_request(flat, None).inputs["x"])


def test_integral_floats_are_accepted_for_integer_datatypes() -> None:
    body, _ = json_body(
        {"inputs": [{"name": "x", "shape": [2], "datatype": "INT64", "data": [3.0, -1]}]}
    )
    assert_same(decode_request(body, None).inputs["x"], np.array([3, -1], dtype=np.int64))


def test_empty_tensors_decode_in_binary_and_json() -> None:
    empty = np.zeros((0, 3), dtype=np.float32)
    body, length = client_request(
        [client_input("a", empty, binary=True), client_input("b", empty, binary=False)]
    )
    request = decode_request(body, length)
    assert_same(request.inputs["a"], empty)
    assert_same(request.inputs["b"], empty)


def test_mixed_binary_and_json_inputs_keep_their_order_and_values() -> None:
    ids = np.array([[101, 7592, 102]], dtype=np.int64)
    mask = np.ones((1, 3), dtype=np.int64)
    text = np.array([b"hi"], dtype=np.object_)
    body, length = client_request(
        [
            client_input("input_ids", ids, binary=True),
            client_input("text", text, binary=False),
            client_input("attention_mask", mask, binary=True),
        ]
    )
    request = decode_request(body, length)
    assert list(request.inputs) == ["input_ids", "text", "attention_mask"]
    assert_same(request.inputs["input_ids"], ids)
    assert_same(request.inputs["text"], text)
    assert_same(request.inputs["attention_mask"], mask)


def test_decoded_binary_arrays_are_writable_copies() -> None:
    body, length = client_request([client_input("x", SAMPLES["FP32"], binary=True)])
    array = decode_request(body, length).inputs["x"]
    array /= 2  # preprocessing may work in place
    assert array.flags.writeable


def test_requested_outputs_come_in_request_order_each_in_its_own_encoding() -> None:
    # Given a request for two of three outputs, one as JSON and one as binary
    body, length = client_request(
        [client_input("x", SAMPLES["FP32"], binary=True)],
        [
            triton.InferRequestedOutput("scores", binary_data=False),
            triton.InferRequestedOutput("embedding", binary_data=True),
        ],
    )
    request = decode_request(body, length, expected_outputs=["embedding", "scores", "labels"])
    assert [(o.name, o.binary) for o in request.outputs] == [
        ("scores", False),
        ("embedding", True),
    ]
    outputs = {
        "embedding": np.ones((1, 4), dtype=np.float32),
        "labels": np.array([b"cat"], dtype=np.object_),
        "scores": np.array([[0.25, 0.75]], dtype=np.float32),
    }
    # When we answer
    response, headers = encode_response("m", "1", outputs, request)
    # Then only those come back, in that order, "scores" as JSON data and "embedding" as binary
    result = client_parse(response, headers)
    entries = result.get_response()["outputs"]
    assert [e["name"] for e in entries] == ["scores", "embedding"]
    assert entries[0]["data"] == [0.25, 0.75]
    assert entries[1]["parameters"] == {"binary_data_size": 16}
    assert headers["Content-Type"] == "application/octet-stream"
    assert_same(result.as_numpy("scores"), outputs["scores"])
    assert_same(result.as_numpy("embedding"), outputs["embedding"])
    assert result.as_numpy("labels") is None


def test_without_requested_outputs_the_client_gets_all_of_them_in_binary() -> None:
    body, length = client_request([client_input("x", SAMPLES["INT64"], binary=True)])
    request = decode_request(body, length)
    assert request.binary_data_output and request.outputs == []
    response, headers = encode_response(
        "m", "1", {"a": SAMPLES["FP32"], "b": SAMPLES["BOOL"]}, request
    )
    result = client_parse(response, headers)
    assert [e["name"] for e in result.get_response()["outputs"]] == ["a", "b"]
    assert_same(result.as_numpy("b"), SAMPLES["BOOL"])


def test_a_plain_json_request_gets_a_plain_json_response() -> None:
    body, length = json_body(
        {
            "id": "req-7",
            "parameters": {"top_k": 3},
            "inputs": [{"name": "x", "shape": [2], "datatype": "BYTES", "data": ["a", "b\u00e9"]}],
        }
    )
    request = decode_request(body, length)
    assert request.id == "req-7" and request.parameters == {"top_k": 3}
    response, headers = encode_response("m", None, {"y": request.inputs["x"]}, request)
    assert headers == {"Content-Type": "application/json"}
    assert json.loads(response) == {
        "model_name": "m",
        "id": "req-7",
        "outputs": [{"name": "y", "datatype": "BYTES", "shape": [2], "data": ["a", "b\u00e9"]}],
    }


def test_id_and_custom_parameters_travel_from_the_client_and_id_comes_back() -> None:
    body, length = client_request(
        [client_input("x", SAMPLES["FP32"], binary=True)],
        request_id="abc-\u00e9",
        parameters={"normalize": True},
    )
    request = decode_request(body, length)
    assert request.id == "abc-\u00e9"
    assert request.parameters == {"normalize": True, "binary_data_output": True}
    response, headers = encode_response(
        "m", "2", {"y": SAMPLES["FP32"]}, request, parameters={"truncated": False}
    )
    result = client_parse(response, headers).get_response()
    assert result["id"] == "abc-\u00e9"
    assert result["model_version"] == "2"
    assert result["parameters"] == {"truncated": False}
    other, _ = encode_response("m", "2", {"y": SAMPLES["FP32"]}, request, id="override")
    assert b'"id":"override"' in other


def test_inputs_matching_the_model_pass_with_dynamic_dimensions() -> None:
    expected = {
        "input_ids": TensorSpec("input_ids", "INT64", (-1, -1)),
        "attention_mask": TensorSpec("attention_mask", "INT64", (-1, -1)),
    }
    body, length = client_request(
        [
            client_input("input_ids", SAMPLES["INT64"], binary=True),
            client_input("attention_mask", SAMPLES["INT64"], binary=False),
        ]
    )
    request = decode_request(body, length, expected)
    assert set(request.inputs) == set(expected)


# --- malformed requests -----------------------------------------------------------------------


def _doc(*inputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"inputs": list(inputs), **extra}


def _x(**fields: Any) -> dict[str, Any]:
    return {"name": "x", "shape": [2], "datatype": "FP32", "data": [1.0, 2.0], **fields}


def _bin(size: int, datatype: str = "FP32", shape: list[int] | None = None) -> dict[str, Any]:
    return {"name": "x", "shape": shape or [2], "datatype": datatype,
            "parameters": {"binary_data_size": size}}  # fmt: skip


MODEL = {"x": TensorSpec("x", "FP32", (-1, 4)), "mask": TensorSpec("mask", "INT64", (-1, 4))}
ROW = [0.0] * 4
F32 = struct.pack("<f", 1.0)
IN_MODEL: dict[str, Any] = {"expected": MODEL}


def case(
    case_id: str,
    body: bytes | dict[str, Any],
    message: str,
    *,
    binary: bytes = b"",
    length: int | None = None,
    param: str | None = "inputs[0]",
    **kwargs: Any,
) -> Any:
    """One malformed request: raw bytes, or a JSON document followed by ``binary``."""
    if isinstance(body, dict):
        body, length = json_body(body, *([binary] if binary else []))
    return pytest.param(body, length, kwargs, message, param, id=case_id)


# fmt: off
MALFORMED = [
    case("not json", b"{inputs:", "request body is not valid JSON", param="body"),
    case("not utf-8", b"\xff\xfe\xfa", "request body is not valid JSON", param="body"),
    case("not an object", b"[1, 2]", "request body must be a JSON object", param="body"),
    case("lone surrogate", b'{"inputs": [{"name": "t", "shape": [1], "datatype": "BYTES", '
         b'"data": ["\\ud800"]}]}', "no low surrogate", param="body"),
    case("integer past any float", b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32",'
         b' "data": [1' + b"0" * 400 + b']}]}', "not valid JSON", param="body"),
    case("NaN literal", b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", '
         b'"data": [NaN]}]}', "not valid JSON", param="body"),
    case("FP32 overflow", {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32",
                                       "data": [3.5e38]}]}, "not a finite FP32 number"),
    case("binary infinity", {"inputs": [{"name": "x", "shape": [2], "datatype": "FP32",
                                         "parameters": {"binary_data_size": 8}}]},
         "element 1 is inf", binary=np.array([1.0, np.inf], dtype="<f4").tobytes()),
    case("header past body", b"{}", f"{HEADER_LENGTH} 3 is outside the 2-byte body",
         length=3, param=HEADER_LENGTH),
    case("negative header", b"{}", f"{HEADER_LENGTH} -1 is outside", length=-1,
         param=HEADER_LENGTH),
    case("no inputs", {}, "request needs a non-empty 'inputs' array", param="inputs"),
    case("id not text", _doc(_x(), id=7), "'id' must be a string", param="id"),
    case("no name", _doc({"shape": [1], "datatype": "FP32"}), "inputs[0] needs a 'name'"),
    case("no datatype", _doc({"name": "x", "shape": [1]}), "input 'x' needs a 'datatype'"),
    case("no shape", _doc({"name": "x", "datatype": "FP32"}), "input 'x' needs a 'shape'"),
    case("unknown datatype", _doc(_x(datatype="FP8")),
         "input 'x': unknown datatype 'FP8'; one of BOOL, UINT8"),
    case("negative dim", _doc(_x(shape=[-1, 2])),
         "input 'x': shape must be a list of non-negative integers, not [-1, 2]"),
    case("no data", _doc({"name": "x", "shape": [1], "datatype": "FP32"}),
         "input 'x' has no 'data' and no binary_data_size"),
    case("flat too short", _doc(_x(shape=[2, 2])),
         "input 'x': 'data' has 2 values; shape [2, 2] needs 4"),
    case("nested ragged", _doc(_x(shape=[2, 2], data=[[1, 2], [3]])),
         "input 'x': nested 'data' does not match shape [2, 2] at depth 1"),
    case("nested too deep", _doc(_x(data=[[1], [2]])),
         "input 'x': nested 'data' does not match shape [2] at depth 1"),
    case("string for FP32", _doc(_x(data=[1.0, "2"])),
         "input 'x': data[1] is \"2\", not a number"),
    case("bool for FP32", _doc(_x(data=[True, 2.0])), "input 'x': data[0] is true, not a number"),
    case("fraction for INT64", _doc(_x(datatype="INT64", data=[1, 1.5])),
         "input 'x': data[1] is 1.5, not an integer"),
    case("int for BOOL", _doc(_x(datatype="BOOL", data=[1, 0])),
         "input 'x': data[0] is 1, not a boolean"),
    case("number for BYTES", _doc(_x(datatype="BYTES", data=["a", 2])),
         "input 'x': data[1] is 2, not a string"),
    case("UINT8 overflow", _doc(_x(datatype="UINT8", data=[1, 300])),
         "input 'x': data[1] = 300 is out of range for UINT8"),
    case("duplicate input", _doc(_x(), _x()), "duplicate input 'x'", param="inputs[1]"),
    case("binary size vs shape", _doc(_bin(4)), binary=F32,
         message="input 'x': binary_data_size 4 does not match shape [2] of FP32 (8 bytes)"),
    case("binary past end", _doc(_bin(8)), binary=F32,
         message="input 'x': binary_data_size 8 runs past the end of the body (4 bytes left)"),
    case("leftover bytes", _doc(_x()), binary=F32,
         message="4 bytes of binary data belong to no input", param="body"),
    case("data and binary", _doc({**_bin(8), "data": [1.0, 2.0]}), binary=F32 * 2,
         message="input 'x' has both 'data' and binary_data_size"),
    case("BYTES prefix past end", _doc(_bin(8, "BYTES", [1])),
         binary=struct.pack("<I", 100) + b"abcd",
         message="input 'x': BYTES element 0 (length 100) runs past its binary data"),
    case("BYTES leftover", _doc(_bin(9, "BYTES", [1])), binary=struct.pack("<I", 4) + b"abcde",
         message="input 'x': 1 bytes left after 1 BYTES elements"),
    case("BOOL byte 2", _doc(_bin(2, "BOOL")), binary=b"\x01\x02",
         message="input 'x': BOOL bytes must be 0 or 1"),
    case("unknown input", _doc(_x(name="y")), "unknown input 'y'; the model takes: x, mask",
         **IN_MODEL),
    case("wrong datatype", _doc(_x(datatype="FP64", shape=[1, 4], data=ROW)),
         "input 'x': datatype FP64 does not match the model's FP32", **IN_MODEL),
    case("wrong shape", _doc(_x(shape=[4], data=ROW)),
         "input 'x': shape [4] does not fit the model's [-1, 4]", **IN_MODEL),
    case("missing input", _doc(_x(shape=[1, 4], data=ROW)),
         "missing input 'mask'; the model takes: x, mask", param="inputs", **IN_MODEL),
    case("unknown output", _doc(_x(), outputs=[{"name": "z"}]),
         "unknown output 'z'; the model returns: y", param="outputs[0]",
         expected_outputs=["y"]),
    case("duplicate output", _doc(_x(), outputs=[{"name": "y"}, {"name": "y"}]),
         "duplicate output 'y'", param="outputs[1]"),
    case("binary_data not bool",
         _doc(_x(), outputs=[{"name": "y", "parameters": {"binary_data": 1}}]),
         "output 'y': binary_data must be a boolean", param="outputs[0]"),
    case("binary_data_output not bool", _doc(_x(), parameters={"binary_data_output": "yes"}),
         "'binary_data_output' must be a boolean", param="parameters"),
]
# fmt: on


@pytest.mark.parametrize(("body", "length", "kwargs", "message", "param"), MALFORMED)
def test_malformed_requests_are_rejected_with_a_specific_message(
    body: bytes, length: int | None, kwargs: dict[str, Any], message: str, param: str | None
) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_request(body, length, **kwargs)
    assert message in caught.value.message
    assert caught.value.param == param


def test_features_we_do_not_serve_are_named_in_the_error() -> None:
    shared = triton.InferInput("x", [2], "FP32").set_shared_memory("region", 8)
    body, length = client_request([shared])
    with pytest.raises(InvalidInput, match="input 'x': shared memory is not supported"):
        decode_request(body, length)
    body, length = client_request(
        [client_input("x", SAMPLES["FP32"], binary=True)],
        [triton.InferRequestedOutput("y", class_count=3)],
    )
    with pytest.raises(InvalidInput, match="output 'y': classification is not supported"):
        decode_request(body, length)


# --- responses that cannot be written as asked ------------------------------------------------


def test_a_requested_output_the_model_did_not_produce_is_an_invalid_input() -> None:
    request = InferRequest(
        inputs={}, outputs=decode_request(*json_body(_doc(_x(), outputs=[{"name": "z"}]))).outputs
    )
    with pytest.raises(InvalidInput, match="unknown output 'z'; the model returns: y"):
        encode_response("m", "1", {"y": SAMPLES["FP32"]}, request)


def test_non_utf8_bytes_asked_for_as_json_point_to_binary_data() -> None:
    request = InferRequest(inputs={})
    with pytest.raises(
        InvalidInput, match="output 'y' is not UTF-8 text; ask for it with binary_data"
    ):
        encode_response("m", "1", {"y": np.array([b"\xff"], dtype=np.object_)}, request)


# --- datatype mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize("datatype", DATATYPES)
def test_datatype_mapping_round_trips(datatype: str) -> None:
    assert oip_datatype(numpy_dtype(datatype)) == datatype


def test_datatype_mapping_covers_text_and_byte_order_and_refuses_the_rest() -> None:
    assert oip_datatype(np.dtype("U5")) == "BYTES"
    assert oip_datatype(np.dtype(">f4")) == "FP32"
    with pytest.raises(ValueError, match="no Open Inference Protocol datatype"):
        oip_datatype(np.complex64)
    with pytest.raises(ValueError, match="unknown datatype 'BF16'"):
        numpy_dtype("BF16")
