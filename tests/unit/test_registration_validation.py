"""Registering an upload: which models enter the catalog, why others do not, what is measured."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from aiaas.domain import pricing
from aiaas.domain.pricing import PriceConfig, cost_per_million
from aiaas.errors import InvalidInput
from aiaas.registration import quantization, runs
from aiaas.registration.quantization import GateConfig, quantize_and_gate
from aiaas.registration.runs import (
    generate_inputs,
    open_session,
    profile_latency,
    runtime_max_opset,
)
from aiaas.registration.validation import (
    InvalidModel,
    ValidatedModel,
    ValidationLimits,
    validate_model,
)
from aiaas_runtime.manifest import TensorSpec
from tests.unit import catalog_models as models


@pytest.fixture(scope="module")
def mlp() -> ValidatedModel:
    return validate_model(models.to_bytes(models.mlp()))


@pytest.fixture(scope="module")
def logreg() -> ValidatedModel:
    return validate_model(models.to_bytes(models.logistic_regression()))


def test_a_valid_mlp_is_described_in_open_inference_protocol_terms(mlp: ValidatedModel) -> None:
    assert mlp.sha256 == hashlib.sha256(mlp.data).hexdigest()
    assert mlp.size == len(mlp.data)
    assert mlp.opset == models.OPSET
    assert mlp.inputs == (TensorSpec("x", "FP32", (-1, models.FEATURES)),)
    assert mlp.outputs == (TensorSpec("y", "FP32", (-1, models.CLASSES)),)
    assert mlp.to_dict()["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 16]}]


def test_a_scikit_learn_classifier_without_zipmap_has_tensor_outputs(
    logreg: ValidatedModel,
) -> None:
    assert logreg.inputs == (TensorSpec("X", "FP32", (-1, 13)),)
    assert logreg.outputs == (
        TensorSpec("label", "INT64", (-1,)),
        TensorSpec("probabilities", "FP32", (-1, 3)),
    )
    assert logreg.opsets["ai.onnx.ml"] >= 1
    assert logreg.producer.startswith("skl2onnx")


def test_a_classifier_exported_with_skl2onnx_defaults_is_accepted() -> None:
    # Given a classifier exported as a user would, at whatever opset skl2onnx emits today
    exported = models.logistic_regression_default_opset()
    # When it is validated
    validated = validate_model(models.to_bytes(exported))
    # Then it is accepted and described at that opset
    assert validated.opset == models.default_opset(exported)
    assert validated.outputs[1] == TensorSpec("probabilities", "FP32", (-1, 3))


def test_a_model_newer_than_this_onnxruntime_is_refused_naming_both_versions() -> None:
    newest = runtime_max_opset()

    with pytest.raises(InvalidModel) as caught:
        validate_model(models.to_bytes(models.mlp(opset=newest + 1)))

    assert caught.value.check == "opset"
    assert caught.value.reason == (
        f"default-domain (ai.onnx) opset {newest + 1} is newer than this onnxruntime "
        f"({ort.__version__}) supports (7..{newest})"
    )


def test_the_probed_opset_is_the_newest_this_onnxruntime_loads() -> None:
    newest = runtime_max_opset()

    open_session(models.to_bytes(models.mlp(opset=newest)))
    with pytest.raises(Exception, match=str(newest + 1)):  # onnxruntime's untyped error
        open_session(models.to_bytes(models.mlp(opset=newest + 1)))
    assert newest >= 21  # every onnxruntime this service has run
    assert runtime_max_opset() == newest  # cached: probed once per process


TINY = ValidationLimits(max_bytes=1000)
# case, upload, limits, the check that fails, words the reason must contain
BadUpload = tuple[str, Callable[[], bytes], ValidationLimits | None, str, tuple[str, ...]]
BAD_UPLOADS: list[BadUpload] = [
    ("empty", lambda: b"", None, "not_onnx", ("empty",)),
    ("random bytes", models.random_bytes, None, "not_onnx", ("not an ONNX model",)),
    ("json", lambda: b'{"model": "not onnx"}', None, "not_onnx", ("not an ONNX model",)),
    ("truncated", lambda: models.to_bytes(models.mlp())[:3000], None, "not_onnx", ("truncated",)),
    ("too large", lambda: models.to_bytes(models.mlp()), TINY, "too_large",
     ("over the 1,000-byte limit",)),
    ("undefined input", lambda: models.to_bytes(models.undefined_input()), None, "checker",
     ("checker", "ghost")),
    ("opset over the configured maximum", lambda: models.to_bytes(models.mlp(opset=22)),
     ValidationLimits(max_opset=21), "opset", ("opset 22 is newer than the service", "7..21")),
    ("opset too old", lambda: models.to_bytes(models.mlp(opset=6)), None, "opset",
     ("opset 6 is older than supported (7..",)),
    ("custom op", lambda: models.to_bytes(models.custom_op()), None, "custom_op",
     ("FancyActivation", "com.example")),
    ("external data", lambda: models.to_bytes(models.external_data()), None, "external_data",
     ("w1", "weights.bin", "self-contained")),
    ("zipmap", lambda: models.to_bytes(models.logistic_regression(zipmap=True)), None,
     "output_type", ("output_probability", "sequence of maps", "zipmap")),
    ("unknown kernel", lambda: models.to_bytes(models.unknown_contrib_op()), None, "load",
     ("cannot load", "NoSuchKernel")),
    ("fails at run", lambda: models.to_bytes(models.impossible_reshape()), None, "run",
     ("generated inputs", "Reshape", "{7}")),
    ("sequence input", lambda: models.to_bytes(models.sequence_input()), None, "input_type",
     ("'xs'", "sequence")),
    ("bfloat16 input", lambda: models.to_bytes(models.bfloat16_input()), None, "input_type",
     ("BFLOAT16",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("upload", "limits", "check", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_UPLOADS],
)
def test_a_bad_upload_fails_with_a_reason_naming_the_problem(
    upload: Callable[[], bytes],
    limits: ValidationLimits | None,
    check: str,
    words: tuple[str, ...],
) -> None:
    with pytest.raises(InvalidModel) as caught:
        validate_model(upload(), limits)
    assert caught.value.check == check
    for word in words:
        assert word in caught.value.reason
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.message == caught.value.reason


def test_the_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(InvalidModel) as caught:
        validate_model(models.random_bytes(2000), TINY)
    assert caught.value.check == "too_large"


def test_generated_inputs_fit_dynamic_dimensions_and_datatypes() -> None:
    specs = [
        TensorSpec("ids", "INT64", (-1, -1)),
        TensorSpec("mask", "BOOL", (-1, 4)),
        TensorSpec("text", "BYTES", (-1,)),
        TensorSpec("pixels", "FP16", (1, 3, 2, 2)),
    ]
    feed = generate_inputs(specs, batch=5, dynamic_dim=7, int_high=2)
    assert feed["ids"].shape == (5, 7)
    assert feed["ids"].dtype == np.int64
    assert set(np.unique(feed["ids"])) <= {0, 1}
    assert feed["mask"].dtype == np.bool_
    assert all(isinstance(word, str) for word in feed["text"])
    assert feed["pixels"].shape == (1, 3, 2, 2)
    assert feed["pixels"].dtype == np.float16


def test_the_mlp_int8_variant_passes_the_gate_with_its_numbers(mlp: ValidatedModel) -> None:
    result = quantize_and_gate(mlp)

    assert result.kept, result.reason
    assert result.data is not None
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    agreement, edge = result.outputs  # typical inputs, then the generated edge cases
    assert edge.name == "y (edge cases)" and edge.passed
    assert agreement.metric == "cosine"
    assert agreement.mean >= result.gate.min_mean_cosine
    assert agreement.min >= result.gate.min_min_cosine
    assert "agrees with fp32" in result.reason and "batch-independent" in result.reason
    assert result.reason.startswith("per-row int8")
    int8 = onnx.load_model_from_string(result.data)
    assert {"MatMulIntegerToFloat", "QuantizeLinear"} <= {n.op_type for n in int8.graph.node}


def test_an_impossible_gate_rejects_int8_and_records_why(mlp: ValidatedModel) -> None:
    strict = GateConfig(min_mean_cosine=1.01, min_min_cosine=1.01)

    result = quantize_and_gate(mlp, strict)

    assert not result.kept
    assert result.data is None
    assert result.size is not None
    assert "differs from fp32" in result.reason
    assert "cosine" in result.reason
    assert result.to_dict()["gate"]["min_mean_cosine"] == 1.01


def test_calibration_inputs_are_used_when_given(mlp: ValidatedModel) -> None:
    rows = np.random.default_rng(1).standard_normal((16, models.FEATURES)).astype(np.float32)

    result = quantize_and_gate(mlp, calibration_inputs={"x": rows})

    assert result.inputs == "calibration"
    assert [o.name for o in result.outputs] == ["y", "y (edge cases)"]  # its one output


def test_calibration_inputs_that_do_not_fit_are_a_reason_not_an_exception(
    mlp: ValidatedModel,
) -> None:
    result = quantize_and_gate(mlp, calibration_inputs={"wrong": np.zeros((2, 2), np.float32)})
    assert not result.kept
    assert "failed" in result.reason


def test_a_classifier_of_ml_operators_has_nothing_to_quantize(logreg: ValidatedModel) -> None:
    result = quantize_and_gate(logreg)

    assert not result.kept
    assert result.reason.startswith("skipped: no MatMul")
    assert result.to_dict()["outputs"] == []


def test_latency_is_measured_per_batch_size(mlp: ValidatedModel) -> None:
    profile = profile_latency(mlp.data, mlp.inputs, (1, 32), runs=5, warmup=1, threads=1)

    assert set(profile.p50_ms) == {1, 32}
    assert all(ms > 0 for ms in profile.p50_ms.values())
    assert profile.skipped == {}
    assert profile.to_dict()["threads"] == 1


def test_a_fixed_batch_model_is_measured_only_at_its_batch() -> None:
    fixed = TensorSpec("x", "FP32", (1, models.FEATURES))
    data = models.to_bytes(models.mlp())

    profile = profile_latency(data, [fixed], (1, 32), runs=2, warmup=0)

    assert set(profile.p50_ms) == {1}
    assert "fix the batch size at 1" in profile.skipped[32]


@pytest.mark.parametrize(
    ("p50_ms", "memory_mb", "expected"),
    [
        (2.3, 1024, 1e6 * (0.003 * 1.0 * 0.0000166667 + 0.0000002)),  # 3 ms billed
        (0.2, 2048, 1e6 * (0.001 * 2.0 * 0.0000166667 + 0.0000002)),  # at least 1 ms
        (100.0, 512, 1e6 * (0.100 * 0.5 * 0.0000166667 + 0.0000002)),  # whole ms: 100
    ],
)
def test_cost_per_million_bills_whole_milliseconds_at_the_memory_size(
    p50_ms: float, memory_mb: int, expected: float
) -> None:
    assert cost_per_million(p50_ms, PriceConfig(memory_mb=memory_mb)) == pytest.approx(expected)


def test_cost_per_million_exact_figure() -> None:
    # 3 ms x 1 GB x $0.0000166667 + $0.0000002 = $0.0000002500001 per call.
    assert cost_per_million(2.3, PriceConfig(memory_mb=1024)) == pytest.approx(0.2500001)


def test_cost_per_million_tokens_scales_throughput_with_lambdas_vcpus() -> None:
    # 2,000 tokens/s per vCPU; 3,538 MB is two vCPUs: 250 s for 1M tokens, billed at
    # 3,538/1,024 GB; 1M / 500 = 2,000 requests at $0.2 per million
    cost = pricing.cost_per_million_tokens(
        2000, 500, memory_mb=3538, per_gb_second=0.0000166667, per_request=0.0000002
    )
    assert cost == pytest.approx(250 * 3538 / 1024 * 0.0000166667 + 2000 * 0.0000002)
    # past one vCPU more memory is faster, not dearer (the request price aside)
    double = pricing.cost_per_million_tokens(
        2000, 500, memory_mb=7076, per_gb_second=0.0000166667, per_request=0.0
    )
    assert double == pytest.approx(cost - 2000 * 0.0000002)


def test_a_variant_whose_rows_depend_on_their_batch_is_not_kept(
    mlp: ValidatedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given only onnxruntime's per-tensor dynamic activations (one scale per batch)
    monkeypatch.setattr(quantization, "_per_row", lambda data, feeds: None)
    strict = GateConfig(min_mean_cosine=0.9, min_min_cosine=0.5, min_independence=0.9999999)

    result = quantize_and_gate(mlp, strict)

    assert not result.kept and result.data is None
    assert "depends on its batch neighbours" in result.reason


def test_the_per_row_variant_answers_each_row_as_alone(mlp: ValidatedModel) -> None:
    result = quantize_and_gate(mlp)
    assert result.kept and result.data is not None
    session = runs.open_session(result.data)
    rows = np.random.default_rng(3).standard_normal((32, models.FEATURES)).astype(np.float32)
    together = session.run(None, {"x": rows})[0]
    for i in range(0, 32, 7):
        alone = session.run(None, {"x": rows[i : i + 1]})[0]
        np.testing.assert_allclose(alone[0], together[i], rtol=1e-5, atol=1e-6)
