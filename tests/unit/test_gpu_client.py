"""The GPU forwarding wire format, and the SageMaker backend's error mapping (botocore Stubber)."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from aiaas.errors import InvalidInput, NotFound, PayloadTooLarge, Unavailable
from aiaas.protocols import (
    BINARY_JSON,
    HEADER_LENGTH,
    decode_request,
    decode_response,
    encode_response,
    header_length_of,
)
from aiaas.serving.gpu import GpuTarget, GpuTaskTarget
from aiaas.serving.gpu_client import (
    TASK_JSON,
    SageMakerGpuBackend,
    decode_invocation,
    decode_task,
    encode_invocation,
    encode_task,
    parse_target,
    parse_task_target,
    target_parameters,
)

TARGET = GpuTarget(
    "embedder", 3, "s3://weights/models/t/embedder/3/model.fp32.onnx", "ab" * 32, ("emb",)
)
FEEDS = {
    "input_ids": np.array([[101, 7592, 102, 0]], dtype=np.int64),
    "attention_mask": np.array([[1, 1, 1, 0]], dtype=np.int64),
}


def test_an_invocation_decodes_on_the_container_side_to_the_same_tensors() -> None:
    body, content_type = encode_invocation(TARGET, FEEDS)

    assert content_type.startswith(f"{BINARY_JSON};json-header-size=")
    request = decode_request(body, header_length_of(content_type))
    assert request.binary_data_output is True
    assert parse_target(request.parameters) == TARGET
    for name, array in FEEDS.items():
        assert request.inputs[name].dtype == array.dtype
        np.testing.assert_array_equal(request.inputs[name], array)


@pytest.mark.parametrize("binary", [True, False])
def test_a_response_decodes_to_the_outputs_exactly(binary: bool) -> None:
    body, _ = encode_invocation(TARGET, FEEDS)
    request = decode_request(body, header_length_of(encode_invocation(TARGET, FEEDS)[1]))
    if not binary:
        request = decode_request(json.dumps({"inputs": _json_inputs()}).encode(), None)
    outputs = {
        "emb": np.array([[0.1, -0.2, 1 / 3]], dtype=np.float32),
        "label": np.array([2], dtype=np.int64),
    }
    content, headers = encode_response("embedder", "3", outputs, request)
    content_type = headers["Content-Type"]
    if HEADER_LENGTH in headers:
        content_type = f"{BINARY_JSON};json-header-size={headers[HEADER_LENGTH]}"

    decoded = decode_invocation(content, content_type)

    assert list(decoded) == ["emb", "label"]
    assert decoded["emb"].dtype == np.float32
    np.testing.assert_array_equal(decoded["emb"], outputs["emb"])  # exact, both ways
    np.testing.assert_array_equal(decoded["label"], outputs["label"])


def _json_inputs() -> list[dict[str, Any]]:
    return [
        {"name": n, "datatype": "INT64", "shape": list(a.shape), "data": a.ravel().tolist()}
        for n, a in FEEDS.items()
    ]


def test_response_parameters_and_version_are_read() -> None:
    body = json.dumps(
        {
            "model_name": "m",
            "model_version": "2",
            "parameters": {"variant": "fp16"},
            "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}],
        }
    ).encode()
    response = decode_response(body, None)
    assert (response.model_version, response.parameters) == ("2", {"variant": "fp16"})


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"outputs": [{"name": "y"}]}', b'{"outputs": [{"name": "y", '
     b'"datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}]}'],
)  # fmt: skip
def test_a_malformed_response_is_the_backend_failing(body: bytes) -> None:
    with pytest.raises(Unavailable, match="malformed response"):
        decode_invocation(body, "application/json")


def test_header_length_comes_from_the_content_type_or_the_header() -> None:
    assert header_length_of(f"{BINARY_JSON};json-header-size=42") == 42
    assert header_length_of(f"{BINARY_JSON}; json-header-size=7; charset=x") == 7
    assert header_length_of("application/octet-stream", "13") == 13
    assert header_length_of("application/json") is None
    assert header_length_of(None) is None
    with pytest.raises(InvalidInput, match="json-header-size"):
        header_length_of(BINARY_JSON)
    with pytest.raises(InvalidInput, match="non-negative integer"):
        header_length_of(f"{BINARY_JSON};json-header-size=-1")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"model": ""}, "parameters.model"),
        ({"version": "3"}, "parameters.version"),
        ({"version": True}, "parameters.version"),
        ({"artifact": "https://x/y"}, "parameters.artifact"),
        ({"sha256": None}, "parameters.sha256"),
        ({"outputs": "emb"}, "parameters.outputs"),
    ],
)
def test_bad_target_parameters_name_the_parameter(change: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_target({**target_parameters(TARGET), **change})
    assert raised.value.param == param


@pytest.fixture
def sagemaker() -> Any:
    client = boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_sagemaker_backend_invokes_the_endpoint_and_decodes(sagemaker: Any) -> None:
    client, stubber = sagemaker
    body, content_type = encode_invocation(TARGET, FEEDS)
    request = decode_request(body, header_length_of(content_type))
    emb = np.array([[0.5, 0.25]], dtype=np.float32)
    answer, headers = encode_response("embedder", "3", {"emb": emb}, request)
    answer_type = f"{BINARY_JSON};json-header-size={headers[HEADER_LENGTH]}"
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": answer_type},
        {"EndpointName": "aiaas-gpu", "ContentType": content_type, "Accept": BINARY_JSON,
         "Body": body},
    )  # fmt: skip

    outputs = SageMakerGpuBackend(client, "aiaas-gpu").infer(TARGET, FEEDS)

    np.testing.assert_array_equal(outputs["emb"], emb)


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, InvalidInput, "input 'input_ids': shape [1, 4] does not fit"),
        (413, PayloadTooLarge, "request body is over the limit"),
        (404, NotFound, "the weights of 'embedder' version 3 are not in the weights bucket"),
        (503, Unavailable, "model weights do not match the catalog's sha256"),
        (500, Unavailable, "internal error"),
    ],
)
def test_the_containers_error_status_becomes_a_domain_error(
    sagemaker: Any, status: int, error: type[Exception], message: str
) -> None:
    client, stubber = sagemaker
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message=f"Received client error ({status}) from primary",
        http_status_code=424,
        modeled_fields={
            "OriginalStatusCode": status,
            "OriginalMessage": json.dumps({"error": message}),
            "LogStreamArn": "arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/Endpoints/x",
        },
    )
    with pytest.raises(error) as raised:
        SageMakerGpuBackend(client, "aiaas-gpu").infer(TARGET, FEEDS)
    assert message in raised.value.message  # type: ignore[attr-defined]
    if status >= 500:
        assert raised.value.message.startswith("GPU backend unavailable")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "code",
    ["ThrottlingException", "ServiceUnavailable", "ModelNotReadyException", "ValidationError"],
)
def test_endpoint_failures_are_unavailable(sagemaker: Any, code: str) -> None:
    client, stubber = sagemaker
    stubber.add_client_error("invoke_endpoint", service_error_code=code, http_status_code=400)
    with pytest.raises(Unavailable, match=code):
        SageMakerGpuBackend(client, "aiaas-gpu").infer(TARGET, FEEDS)


def test_a_timeout_is_unavailable() -> None:
    class TimingOut:
        def invoke_endpoint(self, **kwargs: Any) -> Any:
            raise ReadTimeoutError(endpoint_url="https://runtime.sagemaker/invocations")

    with pytest.raises(Unavailable, match="ReadTimeoutError"):
        SageMakerGpuBackend(TimingOut(), "aiaas-gpu").infer(TARGET, FEEDS)


def test_a_bug_of_ours_is_not_disguised() -> None:
    class Broken:
        def invoke_endpoint(self, **kwargs: Any) -> Any:
            raise KeyError("oops")

    with pytest.raises(KeyError):
        SageMakerGpuBackend(Broken(), "aiaas-gpu").infer(TARGET, FEEDS)


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, None),
        ({"AIAAS_GPU_URL": "http://127.0.0.1:8080"}, "HttpGpuBackend"),
        ({"AIAAS_GPU_ENDPOINT": "aiaas-gpu"}, "SageMakerGpuBackend"),
    ],
)
def test_the_functions_pick_their_gpu_backend_from_settings(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], backend: str | None
) -> None:
    from aiaas.services import Services  # noqa: PLC0415
    from aiaas.settings import Settings  # noqa: PLC0415

    for name in ("AIAAS_GPU_URL", "AIAAS_GPU_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**env, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    chosen = Services(Settings()).gpu_backend
    assert (type(chosen).__name__ if chosen else None) == backend


TASK = GpuTaskTarget(
    "smollm2-135m-instruct", 1, {"name": "smollm2-135m-instruct", "task": "chat"},
    (("fp32", "s3://weights/builtins/smollm2/1/model.fp32.onnx", "cd" * 32),),
)  # fmt: skip


def test_a_task_invocation_round_trips_to_the_same_target() -> None:
    body = encode_task(TASK, {"messages": [{"role": "user", "content": "Hi"}]})
    doc = json.loads(body)
    assert parse_task_target(doc["parameters"]) == TASK
    assert doc["task"]["messages"][0]["content"] == "Hi"


@pytest.mark.parametrize(
    "parameters",
    [None, {"model": "m", "version": 0, "manifest": {}, "artifacts": []},
     {"model": "m", "version": 1, "manifest": [], "artifacts": []},
     {"model": "m", "version": 1, "manifest": {}, "artifacts": [["fp32", "s3://b/k"]]},
     {"model": "m", "version": 1, "manifest": {}, "artifacts": [["fp32", "s3://b/k", 3]]}],
)  # fmt: skip
def test_a_bad_task_target_is_refused(parameters: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_task_target(parameters)


def test_sagemaker_backend_runs_a_task(sagemaker: Any) -> None:
    client, stubber = sagemaker
    item = {"messages": [{"role": "user", "content": "Hi"}]}
    result = {"text": "Hello!", "finish_reason": "stop", "prompt_tokens": 30,
              "completion_tokens": 3}  # fmt: skip
    answer = json.dumps({"result": result}).encode()
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
        {"EndpointName": "aiaas-gpu", "ContentType": TASK_JSON, "Accept": "application/json",
         "Body": encode_task(TASK, item)},
    )  # fmt: skip

    assert SageMakerGpuBackend(client, "aiaas-gpu").run_task(TASK, item) == result


@pytest.mark.parametrize("answer", [b"not json", b'{"other": 1}', b'{"result": [1]}'])
def test_a_malformed_task_response_is_the_backend_failing(answer: bytes) -> None:
    with pytest.raises(Unavailable):
        decode_task(answer)
