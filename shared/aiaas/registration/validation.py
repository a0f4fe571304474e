"""Checks an uploaded ONNX model before it may enter the catalog.

``validate_model`` takes the uploaded bytes and either returns a ``ValidatedModel`` (digest,
opsets, input and output tensors in Open Inference Protocol terms) or raises ``InvalidModel``
whose ``check`` says which test failed and whose ``reason`` names the problem. The checks run
cheapest first: size, protobuf parse, external data, opsets, operator domains, the ONNX
checker (full check), declared input and output types, onnxruntime load, one run on generated
inputs. Nothing here touches AWS.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import onnx
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

from aiaas.errors import InvalidInput
from aiaas.registration.runs import (
    concrete_shape,
    generate_inputs,
    onnx_datatype,
    open_session,
    runtime_max_opset,
)
from aiaas_runtime.manifest import TensorSpec
from aiaas_runtime.session import ort_version

Check = Literal[
    "too_large", "not_onnx", "external_data", "opset", "custom_op", "checker", "input_type",
    "output_type", "load", "run", "tokenizer", "parity",
]  # fmt: skip

DEFAULT_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
_DEFAULT_DOMAIN = ("", "ai.onnx")
_MAX_DETAIL = 300
_ZIPMAP_HINT = " (scikit-learn classifiers: convert with options={'zipmap': False})"
# onnxruntime's messages carry a status prefix and the C++ source location of the failed check.
_ORT_NOISE = re.compile(
    r"\[ONNXRuntimeError\] : \d+ : \w+ : |\S*onnxruntime_src/\S+:\d+ [^(]*\([^)]*\) "
)


class InvalidModel(InvalidInput):
    """An upload that cannot enter the catalog.

    Attributes:
        check: Which check failed (``not_onnx``, ``custom_op``...): stable, for code.
        reason: Sentence naming the problem, for the model's owner.
    """

    code = "invalid_model"

    def __init__(self, check: Check, reason: str) -> None:
        super().__init__(reason, param="model")
        self.check: Check = check
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ValidationLimits:
    """What an upload may be, and how inputs are generated to run it.

    Attributes:
        max_bytes: Largest accepted file (checked before parsing).
        min_opset: Oldest accepted default-domain (``ai.onnx``) opset.
        max_opset: Newest accepted default-domain opset; None (the default): the newest this
            process's onnxruntime loads (``runtime_max_opset``, probed once).
        allowed_domains: Operator domains onnxruntime's CPU build runs.
        dynamic_dim: Size given to a dynamic dimension other than the first (batch) one.
        max_input_values: Most values in one generated input tensor at batch 1.
        int_high: Generated integers lie in ``[0, int_high)`` (token ids, masks, indices).
    """

    max_bytes: int = 200 * 1024 * 1024
    min_opset: int = 7
    max_opset: int | None = None
    allowed_domains: frozenset[str] = DEFAULT_DOMAINS
    dynamic_dim: int = 8
    max_input_values: int = 1 << 24
    int_high: int = 2


@dataclass(frozen=True, slots=True)
class ValidatedModel:
    """An upload that passed every check.

    Attributes:
        data: The file as uploaded.
        sha256: Hex SHA-256 digest of ``data``.
        size: Length of ``data`` in bytes.
        ir_version: ONNX IR version.
        opset: Default-domain (``ai.onnx``) opset version.
        opsets: Every imported opset, by domain (``""`` for the default one).
        producer: ``producer_name producer_version`` as the exporter wrote them.
        inputs: Graph inputs (initializers excluded), ``-1`` for dynamic dimensions.
        outputs: Graph outputs.
        proto: The parsed model.
    """

    data: bytes = field(repr=False)
    sha256: str
    size: int
    ir_version: int
    opset: int
    opsets: Mapping[str, int]
    producer: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    proto: onnx.ModelProto = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form stored with the catalog entry."""
        return {
            "sha256": self.sha256,
            "size": self.size,
            "ir_version": self.ir_version,
            "opset": self.opset,
            "opsets": dict(self.opsets),
            "producer": self.producer,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }


def validate_model(data: bytes, limits: ValidationLimits | None = None) -> ValidatedModel:
    """Check an uploaded model and describe it.

    Args:
        data: The uploaded file.
        limits: Limits to apply; the defaults when omitted.

    Returns:
        The model with its digest, opsets and tensor specs.

    Raises:
        InvalidModel: The upload fails a check; ``check`` and ``reason`` say which and why.
    """
    limits = limits or ValidationLimits()
    if len(data) > limits.max_bytes:
        raise InvalidModel(
            "too_large", f"model is {len(data):,} bytes, over the {limits.max_bytes:,}-byte limit"
        )
    model = _parse(data)
    _check_external_data(model)
    opsets = _check_opsets(model, limits)
    _check_domains(model, limits)
    _run_checker(model)
    inputs, outputs = _tensor_specs(model, limits)
    _check_runs(data, inputs, limits)
    return ValidatedModel(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        ir_version=model.ir_version,
        opset=opsets[""],
        opsets=opsets,
        producer=f"{model.producer_name} {model.producer_version}".strip(),
        inputs=inputs,
        outputs=outputs,
        proto=model,
    )


def _parse(data: bytes) -> onnx.ModelProto:
    if not data:
        raise InvalidModel("not_onnx", "the upload is empty, not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise InvalidModel(
            "not_onnx",
            f"not an ONNX model, or a truncated one: cannot parse it ({error_text(exc)})",
        ) from exc
    if model.ir_version <= 0 or not model.HasField("graph") or not model.opset_import:
        raise InvalidModel(
            "not_onnx", "not an ONNX model, or a truncated one: no IR version, graph or opset"
        )
    return model


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """Yield a graph and all its subgraphs (If, Loop, Scan bodies), depth first."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else attr.graphs:
                yield from _graphs(sub)


def _nodes(model: onnx.ModelProto) -> Iterator[onnx.NodeProto]:
    for graph in _graphs(model.graph):
        yield from graph.node
    for function in model.functions:
        yield from function.node


def _tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    for graph in _graphs(model.graph):
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield from (sparse.values, sparse.indices)
    for node in _nodes(model):
        for attr in node.attribute:
            yield from [attr.t] if attr.HasField("t") else attr.tensors


def _check_external_data(model: onnx.ModelProto) -> None:
    for tensor in _tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            where = {e.key: e.value for e in tensor.external_data}.get("location", "?")
            raise InvalidModel(
                "external_data",
                f"tensor {tensor.name!r} keeps its data in an external file ({where!r}); "
                "an upload must be one self-contained .onnx file",
            )


def _check_opsets(model: onnx.ModelProto, limits: ValidationLimits) -> dict[str, int]:
    opsets = {
        "" if o.domain in _DEFAULT_DOMAIN else o.domain: int(o.version) for o in model.opset_import
    }
    version = opsets.get("")
    if version is None:
        raise InvalidModel("opset", "model imports no default-domain (ai.onnx) opset")
    newest = runtime_max_opset() if limits.max_opset is None else limits.max_opset
    supported = f"{limits.min_opset}..{newest}"
    if version < limits.min_opset:
        raise InvalidModel(
            "opset",
            f"default-domain (ai.onnx) opset {version} is older than supported ({supported})",
        )
    if version > newest:
        who = f"this onnxruntime ({ort_version()})" if limits.max_opset is None else "the service"
        raise InvalidModel(
            "opset",
            f"default-domain (ai.onnx) opset {version} is newer than {who} supports ({supported})",
        )
    return opsets


def _check_domains(model: onnx.ModelProto, limits: ValidationLimits) -> None:
    local = {(f.domain, f.name) for f in model.functions}
    custom = sorted(
        {
            (node.domain, node.op_type)
            for node in _nodes(model)
            if node.domain not in limits.allowed_domains
            and (node.domain, node.op_type) not in local
        }
    )
    if custom:
        ops = ", ".join(f"{op} (domain {domain!r})" for domain, op in custom)
        allowed = ", ".join(repr(d) for d in sorted(limits.allowed_domains))
        raise InvalidModel(
            "custom_op", f"custom operator {ops}: only operators of domains {allowed} can run"
        )


def _run_checker(model: onnx.ModelProto) -> None:
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise InvalidModel(
            "checker", f"the ONNX checker rejects the model: {error_text(exc)}"
        ) from exc


def _tensor_specs(
    model: onnx.ModelProto, limits: ValidationLimits
) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    initializers = {init.name for init in model.graph.initializer}
    inputs = tuple(
        _spec(value, "input") for value in model.graph.input if value.name not in initializers
    )
    for spec in inputs:
        values = math.prod(concrete_shape(spec.shape, batch=1, dynamic_dim=limits.dynamic_dim))
        if values > limits.max_input_values:
            raise InvalidModel(
                "input_type",
                f"input {spec.name!r} {list(spec.shape)} holds {values:,} values at batch 1, "
                f"over the limit of {limits.max_input_values:,}",
            )
    return inputs, tuple(_spec(value, "output") for value in model.graph.output)


def _spec(value: onnx.ValueInfoProto, role: Literal["input", "output"]) -> TensorSpec:
    check: Check = "input_type" if role == "input" else "output_type"
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        hint = _ZIPMAP_HINT if role == "output" and kind in ("sequence_type", "map_type") else ""
        raise InvalidModel(
            check, f"{role} {value.name!r} is a {_describe(value.type)}, not a tensor{hint}"
        )
    tensor = value.type.tensor_type
    datatype = onnx_datatype(tensor.elem_type)
    if datatype is None:
        name = onnx.TensorProto.DataType.Name(tensor.elem_type)
        raise InvalidModel(check, f"{role} {value.name!r} has element type {name}, not supported")
    shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
    return TensorSpec(name=value.name, datatype=datatype, shape=shape)


def _describe(type_proto: onnx.TypeProto) -> str:
    kind = type_proto.WhichOneof("value")
    if kind == "sequence_type":
        return f"sequence of {_describe(type_proto.sequence_type.elem_type)}s"
    if kind == "map_type":
        return "map"
    if kind == "optional_type":
        return f"optional {_describe(type_proto.optional_type.elem_type)}"
    return str(kind or "value of unknown type").removesuffix("_type").replace("_", " ")


def _check_runs(data: bytes, inputs: Sequence[TensorSpec], limits: ValidationLimits) -> None:
    try:
        session = open_session(data)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise InvalidModel("load", f"onnxruntime cannot load the model: {error_text(exc)}") from exc
    feed = generate_inputs(inputs, dynamic_dim=limits.dynamic_dim, int_high=limits.int_high)
    try:
        results = session.run(None, feed)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        shapes = ", ".join(f"{name} {list(value.shape)}" for name, value in feed.items())
        raise InvalidModel(
            "run", f"running the model on generated inputs ({shapes}) fails: {error_text(exc)}"
        ) from exc
    for meta, result in zip(session.get_outputs(), results, strict=True):
        if not isinstance(result, np.ndarray):
            raise InvalidModel(
                "output_type", f"output {meta.name!r} is a {type(result).__name__}, not a tensor"
            )


def error_text(exc: BaseException) -> str:
    """Return an exception's message on one line, without onnxruntime's noise, cut short."""
    text = _ORT_NOISE.sub("", " ".join(str(exc).split())) or type(exc).__name__
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
