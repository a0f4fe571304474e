"""Forwarding tensors to the GPU container: the wire format and two ``GpuBackend``s.

One ``POST /invocations`` carries an Open Inference Protocol request with binary tensors
(content type ``application/vnd.sagemaker-triton.binary+json;json-header-size=<N>``, since
SageMaker's InvokeEndpoint passes no custom headers), the target in its ``parameters``
(``model``, ``version``, ``artifact``, ``sha256``, ``outputs``) and ``binary_data_output``
set, so floats come back exact and compact. The container answers in kind, or with
``{"error": "..."}`` and a 4xx/5xx status, which the backends turn into domain errors:
404 NotFound, 413 PayloadTooLarge, other 4xx InvalidInput; 429, 5xx, throttling, timeouts
and unreachable endpoints Unavailable.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from aiaas.aws.lite import error_code
from aiaas.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from aiaas.protocols import (
    BINARY_JSON,
    binary_content_type,
    decode_response,
    encode_request,
    header_length_of,
)
from aiaas.protocols.oip_binary import Array
from aiaas.serving.gpu import GpuTarget, GpuTaskTarget

logger = logging.getLogger(__name__)

Tensors = dict[str, Array]
# a generative model's whole request (`aiaas.serving.gpu_tasks`): {"task": item, "parameters"}
TASK_JSON = "application/vnd.aiaas.task+json"
# SageMaker runtime errors that mean "try again later" rather than "bad request".
_RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalDependencyException",
        "ModelNotReadyException",
    }
)


def target_parameters(target: GpuTarget) -> dict[str, Any]:
    """The request ``parameters`` that name a target."""
    return {
        "model": target.model,
        "version": target.version,
        "artifact": target.artifact,
        "sha256": target.sha256,
        "outputs": list(target.outputs),
    }


def parse_target(parameters: Mapping[str, Any]) -> GpuTarget:
    """The target a request's ``parameters`` name (the container's side).

    Raises:
        InvalidInput: A parameter is missing or of the wrong type.
    """
    model, version = parameters.get("model"), parameters.get("version")
    artifact, sha256 = parameters.get("artifact"), parameters.get("sha256")
    outputs = parameters.get("outputs", [])
    if not isinstance(model, str) or not model:
        raise InvalidInput("parameters.model must name the model", param="parameters.model")
    if type(version) is not int or version < 1:
        raise InvalidInput(
            "parameters.version must be a positive integer", param="parameters.version"
        )
    if not isinstance(artifact, str) or not artifact.startswith("s3://"):
        raise InvalidInput("parameters.artifact must be an s3:// URI", param="parameters.artifact")
    if not isinstance(sha256, str):
        raise InvalidInput("parameters.sha256 must be a hex digest", param="parameters.sha256")
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise InvalidInput("parameters.outputs must be a list of names", param="parameters.outputs")
    return GpuTarget(model, version, artifact, sha256, tuple(outputs))


def task_parameters(target: GpuTaskTarget) -> dict[str, Any]:
    """The ``parameters`` that name a generative target: version, manifest and files."""
    return {
        "model": target.model,
        "version": target.version,
        "manifest": target.manifest,
        "artifacts": [list(artifact) for artifact in target.artifacts],
    }


def parse_task_target(parameters: Any) -> GpuTaskTarget:
    """The generative target a task invocation names (the container's side).

    Raises:
        InvalidInput: A parameter is missing or of the wrong type.
    """
    if not isinstance(parameters, dict):
        raise InvalidInput("parameters must be an object", param="parameters")
    model, version = parameters.get("model"), parameters.get("version")
    manifest, artifacts = parameters.get("manifest"), parameters.get("artifacts")
    if not isinstance(model, str) or not model or type(version) is not int or version < 1:
        raise InvalidInput("parameters must name the model and its version", param="parameters")
    if not isinstance(manifest, dict) or not isinstance(artifacts, list):
        raise InvalidInput("parameters must carry the manifest and artifacts", param="parameters")
    files = []
    for entry in artifacts:
        if not isinstance(entry, list) or len(entry) != 3:
            raise InvalidInput("each artifact is [role, s3 URI, sha256]", param="artifacts")
        if not all(isinstance(part, str) for part in entry):
            raise InvalidInput("each artifact is [role, s3 URI, sha256]", param="artifacts")
        files.append((entry[0], entry[1], entry[2]))
    return GpuTaskTarget(model, version, manifest, tuple(files))


def encode_task(target: GpuTaskTarget, item: Any) -> bytes:
    """The body of a task invocation."""
    return json.dumps({"task": item, "parameters": task_parameters(target)}).encode()


def decode_task(body: bytes) -> dict[str, Any]:
    """The result of a task invocation.

    Raises:
        Unavailable: The response is not ``{"result": {...}}``.
    """
    try:
        result = json.loads(body)["result"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Unavailable("the GPU backend sent a malformed task response") from exc
    if not isinstance(result, dict):
        raise Unavailable("the GPU backend sent a malformed task response")
    return result


def encode_invocation(target: GpuTarget, feeds: Mapping[str, Array]) -> tuple[bytes, str]:
    """The body and Content-Type of one invocation (binary tensors, binary outputs asked)."""
    body, header_length = encode_request(feeds, target_parameters(target), binary_output=True)
    return body, binary_content_type(header_length)


def decode_invocation(body: bytes, content_type: str | None) -> Tensors:
    """The output arrays of an invocation's response.

    Raises:
        Unavailable: The response is not a well-formed inference response.
    """
    try:
        return decode_response(body, header_length_of(content_type)).outputs
    except InvalidInput as exc:
        raise Unavailable(f"the GPU backend sent a malformed response: {exc.message}") from exc


def error_for(status: int, body: bytes | str) -> DomainError:
    """The domain error for the container's error answer (status and ``{"error": ...}``)."""
    message = _message(body) or f"the GPU backend answered {status}"
    if status == 404:
        return NotFound(message)
    if status == 413:
        return PayloadTooLarge(message)
    if 400 <= status < 500 and status != 429:
        return InvalidInput(message)
    return Unavailable(f"GPU backend unavailable: {message}")


def _message(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict):  # the API's native shape, should a proxy answer
        error = error.get("message")
    return str(error)[:300] if error else text.strip()[:300]


class SageMakerGpuBackend:
    """The GPU container behind a SageMaker real-time endpoint (InvokeEndpoint).

    Args:
        runtime_client: A boto3 ``sagemaker-runtime`` client (its timeouts bound a call).
        endpoint_name: The endpoint's name.
    """

    def __init__(self, runtime_client: Any, endpoint_name: str) -> None:
        self.client = runtime_client
        self.endpoint_name = endpoint_name

    def infer(self, target: GpuTarget, inputs: dict[str, Array]) -> Tensors:
        """Run one request on the endpoint; every output of the graph comes back.

        Raises:
            InvalidInput, NotFound, PayloadTooLarge: The container refused the request.
            Unavailable: The endpoint or the container could not serve it now.
        """
        body, content_type = encode_invocation(target, inputs)
        payload, answered = self._invoke(body, content_type, BINARY_JSON)
        return decode_invocation(payload, answered)

    def run_task(self, target: GpuTaskTarget, item: dict[str, Any]) -> dict[str, Any]:
        """Run a generative model's whole request on the endpoint; its result.

        Raises:
            InvalidInput, NotFound, PayloadTooLarge, Unavailable: As `infer`.
        """
        payload, _ = self._invoke(encode_task(target, item), TASK_JSON, "application/json")
        return decode_task(payload)

    def _invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str | None]:
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.endpoint_name,
                ContentType=content_type,
                Accept=accept,
                Body=body,
            )
            return response["Body"].read(), response.get("ContentType")
        except Exception as exc:
            translated = self._translate(exc)
            if translated is None:
                raise  # a bug of ours, not the endpoint's answer
            raise translated from exc

    def _translate(self, exc: Exception) -> DomainError | None:
        code = error_code(exc)
        if code == "ModelError":  # the container answered with an error status
            details: dict[str, Any] = getattr(exc, "response", {})
            status = int(details.get("OriginalStatusCode") or 500)
            return error_for(status, str(details.get("OriginalMessage") or ""))
        if code is None and not _is_botocore_error(exc):
            return None
        kind = "retryable" if code in _RETRYABLE else "not retryable"
        logger.warning("InvokeEndpoint %s failed (%s): %s", self.endpoint_name, kind, exc)
        return Unavailable(f"GPU endpoint unavailable ({code or type(exc).__name__})")


def _is_botocore_error(exc: Exception) -> bool:
    """Timeouts and connection failures (botocore's own exceptions, not service answers)."""
    return any(cls.__module__.startswith("botocore") for cls in type(exc).__mro__)


class HttpGpuBackend:
    """The GPU container reached directly over HTTP (the local stack runs it as a process).

    Args:
        base_url: ``http://host:port`` of the container (no trailing path).
        timeout_s: Longest wait for one answer.
    """

    def __init__(self, base_url: str, timeout_s: float = 25.0) -> None:
        self.url = base_url.rstrip("/") + "/invocations"
        self.timeout_s = timeout_s
        # No proxies: the container is a local process, and a proxy would see the tensors.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def infer(self, target: GpuTarget, inputs: dict[str, Array]) -> Tensors:
        """Run one request on the container; every output of the graph comes back.

        Raises:
            InvalidInput, NotFound, PayloadTooLarge: The container refused the request.
            Unavailable: It could not be reached, timed out or failed.
        """
        body, content_type = encode_invocation(target, inputs)
        payload, answered_type = self._post(body, content_type)
        return decode_invocation(payload, answered_type)

    def run_task(self, target: GpuTaskTarget, item: dict[str, Any]) -> dict[str, Any]:
        """Run a generative model's whole request on the container; its result.

        Raises:
            InvalidInput, NotFound, PayloadTooLarge, Unavailable: As `infer`.
        """
        payload, _ = self._post(encode_task(target, item), TASK_JSON)
        return decode_task(payload)

    def _post(self, body: bytes, content_type: str) -> tuple[bytes, str | None]:
        request = urllib.request.Request(  # noqa: S310 - http(s) URL from our settings
            self.url, data=body, method="POST", headers={"Content-Type": content_type}
        )
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return response.read(), response.headers.get("Content-Type")
        except urllib.error.HTTPError as exc:
            raise error_for(exc.code, exc.read()) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise Unavailable(f"GPU backend unreachable at {self.url}: {exc}") from exc
