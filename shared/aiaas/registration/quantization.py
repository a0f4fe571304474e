"""The int8 accuracy gate: quantize a validated model and keep the variant if it agrees.

``quantize_and_gate`` tries int8 variants in turn and keeps the first whose outputs stay
close to fp32 on typical inputs (generated, or the caller's) and on generated edge cases
(zeros, one hot value, tiny and huge magnitudes), and whose every row answers the same alone
as in a batch of others. The built-in embedding model's scheme comes first: per-row (per-token)
activations with SmoothQuant scales (`aiaas.registration.per_row`), batch-independent by
construction; then onnxruntime's per-channel dynamic int8, whose activations share one scale
per tensor (a batch), and its 7-bit retry. It never raises: a failure is its ``reason``.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx

from aiaas.registration.runs import (
    Feed,
    fixed_batch,
    generate_inputs,
    open_session,
    run_rows,
    session_rows,
)
from aiaas.registration.validation import ValidatedModel, error_text
from aiaas.settings import Settings
from aiaas_runtime.manifest import TensorSpec

# Operators onnxruntime's dynamic quantization turns into integer kernels (its
# IntegerOpsRegistry); Gemm and tree ensembles have no dynamic int8 path.
QUANTIZABLE_OPS = frozenset({"MatMul", "Conv", "Gather", "Attention", "LSTM"})
_NOTHING_TO_QUANTIZE = "no MatMul, Conv, Gather, Attention or LSTM weights to quantize"


@dataclass(frozen=True, slots=True)
class GateConfig:
    """When an int8 variant is close enough to fp32 to be kept.

    Attributes:
        min_mean_cosine: Least mean row cosine of every float output.
        min_min_cosine: Least cosine of any row of a float output.
        max_label_disagreement: Largest share of differing values in an integer, boolean
            or string output (labels).
        rows: Rows of generated inputs compared.
        seed: Seed of the generated inputs.
        retry_reduce_range: Try 7-bit weights when the 8-bit variant fails the gate.
        min_independence: Least cosine between a row's output alone and in a batch.
        independence_rows: Rows checked alone against the batch.
    """

    min_mean_cosine: float = 0.98
    min_min_cosine: float = 0.95
    max_label_disagreement: float = 0.02
    rows: int = 64
    seed: int = 0
    retry_reduce_range: bool = True
    min_independence: float = 0.9999
    independence_rows: int = 8


def gate_from(settings: Settings) -> GateConfig:
    """The gate ``AIAAS_GATE_*`` configures (registration's int8 and the GPU's fp16 alike)."""
    return GateConfig(
        min_mean_cosine=settings.gate_min_mean_cosine,
        min_min_cosine=settings.gate_min_min_cosine,
        max_label_disagreement=settings.gate_max_label_disagreement,
    )


@dataclass(frozen=True, slots=True)
class OutputAgreement:
    """How one int8 output compares with fp32.

    Attributes:
        name: Output tensor name.
        metric: ``cosine`` (float outputs, per row) or ``exact_match`` (share of equal values).
        mean: Mean row cosine, or the exact-match rate.
        min: Lowest row cosine; equal to ``mean`` for exact match.
        passed: Whether the output meets the gate's thresholds.
    """

    name: str
    metric: Literal["cosine", "exact_match"]
    mean: float
    min: float
    passed: bool


@dataclass(frozen=True, slots=True)
class QuantizationResult:
    """The outcome of quantizing and gating, stored with the catalog entry.

    Attributes:
        kept: Whether the int8 variant passed and should be served.
        reason: Why it was kept, rejected or skipped.
        gate: The thresholds applied.
        inputs: ``generated`` or ``calibration`` (the caller's arrays).
        reduce_range: Whether the last variant tried has 7-bit weights.
        outputs: Per-output comparison; empty when nothing was compared.
        data: The int8 model, only when kept.
        sha256: Digest of the int8 model, when one was made.
        size: Size of the int8 model in bytes, when one was made.
    """

    kept: bool
    reason: str
    gate: GateConfig
    inputs: Literal["generated", "calibration"] = "generated"
    reduce_range: bool = False
    outputs: tuple[OutputAgreement, ...] = ()
    data: bytes | None = field(default=None, repr=False)
    sha256: str | None = None
    size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form stored with the catalog entry (without the model bytes)."""
        return {
            "kept": self.kept,
            "reason": self.reason,
            "gate": asdict(self.gate),
            "inputs": self.inputs,
            "reduce_range": self.reduce_range,
            "outputs": [asdict(o) for o in self.outputs],
            "sha256": self.sha256,
            "size": self.size,
        }


def has_quantizable_weights(model: onnx.ModelProto) -> bool:
    """Whether some quantizable operator of the main graph reads an initializer (weights)."""
    weights = {init.name for init in model.graph.initializer}
    return any(
        node.op_type in QUANTIZABLE_OPS and weights.intersection(node.input)
        for node in model.graph.node
    )


def quantize_and_gate(
    model: ValidatedModel, gate: GateConfig | None = None, calibration_inputs: Feed | None = None
) -> QuantizationResult:
    """Make a per-channel dynamic int8 variant and keep it if it agrees with fp32.

    On x86 CPUs without VNNI (AVX2 only), onnxruntime's uint8 x int8 kernels can saturate and
    per-channel weights make that likelier: when the first variant fails the gate and
    ``gate.retry_reduce_range`` is set, a second one with 7-bit weights (``reduce_range``)
    is tried. The reason records every attempt.

    Args:
        model: A model that passed ``validate_model``.
        gate: Thresholds; the defaults when omitted.
        calibration_inputs: Arrays by input name to compare on (rows along the first axis);
            ``gate.rows`` generated rows when omitted.

    Returns:
        The decision with the measured agreement. Never raises for a model that fails to
        quantize or to run: the failure is the result's ``reason``.
    """
    gate = gate or GateConfig()
    source: Literal["generated", "calibration"] = (
        "calibration" if calibration_inputs else "generated"
    )
    base = partial(QuantizationResult, gate=gate, inputs=source)
    if not has_quantizable_weights(model.proto):
        return base(kept=False, reason=f"skipped: {_NOTHING_TO_QUANTIZE}")
    try:
        feeds = [dict(calibration_inputs)] if calibration_inputs else gate_feeds(model.inputs, gate)
        expected = run_rows(model.data, feeds)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        return base(kept=False, reason=f"fp32 run on {source} inputs failed: {error_text(exc)}")
    edge = edge_feeds(feeds)
    try:
        expected_edge = run_rows(model.data, edge) if edge else {}
    except Exception:  # fp32 itself fails on them: judge on typical inputs only
        edge, expected_edge = [], {}
    check = partial(
        _attempt, feeds=feeds, expected=expected, edge=edge, expected_edge=expected_edge, gate=gate
    )
    reasons: list[str] = []
    attempts: list[tuple[str, Callable[[bytes], bytes | None], bool]] = [
        ("per-row int8", partial(_per_row, feeds=feeds), False)
    ]
    attempts.append(("per-channel int8", partial(_quantize, reduce_range=False), False))
    if gate.retry_reduce_range:
        label = "per-channel int8 with reduce_range"
        attempts.append((label, partial(_quantize, reduce_range=True), True))
    for label, quantizer, reduce_range in attempts:
        result = check(model.data, label, quantizer, partial(base, reduce_range=reduce_range))
        reasons.append(result.reason)
        if result.kept:
            break
    return replace(result, reason="; then ".join(reasons))


def _attempt(
    data: bytes,
    label: str,
    quantizer: Callable[[bytes], bytes | None],
    result: partial[QuantizationResult],
    *,
    feeds: Sequence[Feed],
    expected: Mapping[str, np.ndarray],
    edge: Sequence[Feed],
    expected_edge: Mapping[str, np.ndarray],
    gate: GateConfig,
) -> QuantizationResult:
    try:
        int8 = quantizer(data)
    except Exception as exc:  # onnxruntime's quantizer raises anything from anywhere
        return result(kept=False, reason=f"{label}: quantization failed: {error_text(exc)}")
    if int8 is None:
        return result(kept=False, reason=f"{label}: no MatMul weights to quantize per row")
    result = partial(result, sha256=hashlib.sha256(int8).hexdigest(), size=len(int8))
    try:
        session = open_session(int8)
        actual = session_rows(session, feeds)
        outputs = tuple(compare_output(n, expected[n], actual[n], gate) for n in expected)
        edge_actual = session_rows(session, edge) if edge else {}
        edges = tuple(
            compare_output(f"{n} (edge cases)", expected_edge[n], edge_actual[n], gate)
            for n in expected_edge
        )
        dependence = batch_dependence(session, feeds, actual, gate)
    except Exception as exc:  # onnxruntime raises its own untyped errors; shapes may differ
        return result(kept=False, reason=f"{label}: comparing with fp32 failed: {error_text(exc)}")
    outputs = outputs + edges
    failed = [o for o in outputs if not o.passed]
    if failed:
        described = ", ".join(describe_failure(o, gate) for o in failed)
        reason = f"{label} differs from fp32: {described}"
        return result(kept=False, reason=reason, outputs=outputs)
    if dependence:
        return result(kept=False, reason=f"{label} {dependence}", outputs=outputs)
    reason = f"{label} agrees with fp32 (typical and edge inputs) and is batch-independent"
    return result(kept=True, reason=reason, outputs=outputs, data=int8)


def _per_row(data: bytes, *, feeds: Sequence[Feed]) -> bytes | None:
    """The per-row scheme (``aiaas.registration.per_row``), SmoothQuant ranges from ``feeds``;
    None when the model has no MatMul with constant weights."""
    from aiaas.registration import per_row  # noqa: PLC0415 (onnx, only at registration)

    if not per_row.weight_matmuls(onnx.load_from_string(data)):
        return None
    with tempfile.TemporaryDirectory(prefix="aiaas-quantize-") as tmp:
        source, target = Path(tmp) / "model.fp32.onnx", Path(tmp) / "model.int8.onnx"
        source.write_bytes(data)
        ranges = per_row.activation_ranges(
            source, feeds, lambda path: open_session(path.read_bytes()), Path(tmp)
        )
        per_row.quantize_per_row(source, target, ranges)
        return target.read_bytes()


def edge_feeds(feeds: Sequence[Feed]) -> list[Feed]:
    """Edge cases built from the first typical feed's first row: float inputs as zeros, one
    hot value, the row x 0.001 and x 1000; other inputs (ids, flags) as in the row."""
    if not feeds:
        return []
    first = {name: np.asarray(value) for name, value in feeds[0].items()}
    if not any(np.issubdtype(v.dtype, np.floating) and v.ndim > 0 for v in first.values()):
        return []
    cases: list[Feed] = []
    for make in (np.zeros_like, _one_hot, lambda r: r * 1e-3, lambda r: r * 1e3):
        feed = {}
        for name, value in first.items():
            row = value[:1] if value.ndim > 0 else value
            feed[name] = (
                make(row).astype(value.dtype) if np.issubdtype(value.dtype, np.floating) else row
            )
        cases.append(feed)
    return cases


def _one_hot(row: np.ndarray) -> np.ndarray:
    out = np.zeros_like(row)
    flat = out.reshape(-1)
    if flat.size:
        flat[0] = float(np.max(np.abs(row))) or 1.0
    return out


def batch_dependence(
    session: Any, feeds: Sequence[Feed], batched: Mapping[str, np.ndarray], gate: GateConfig
) -> str:
    """Why some row's output differs alone from within its batch ("" if none does): the
    first rows of the first feed, each run alone, against the batched run."""
    if not feeds:
        return ""
    feed = feeds[0]
    rows = min((v.shape[0] for v in feed.values() if np.ndim(v) > 0), default=1)
    if rows < 2:  # a fixed batch of one, or scalars: nothing to depend on
        return ""
    same = gate.min_independence
    strict = replace(gate, min_mean_cosine=same, min_min_cosine=same, max_label_disagreement=0.0)
    for row in range(min(rows, gate.independence_rows)):
        alone = session_rows(session, [{n: v[row : row + 1] for n, v in feed.items()}])
        for name, value in alone.items():
            together = batched[name][row : row + 1]
            if together.shape != value.shape:
                continue
            agree = compare_output(name, together, value, strict)
            if not agree.passed:
                return (
                    f"depends on its batch neighbours: row {row} of output {name!r} alone vs "
                    f"in a batch of {rows}: {agree.metric} {agree.min:.6f} "
                    f"(needs {gate.min_independence})"
                )
    return ""


def _quantize(data: bytes, *, reduce_range: bool) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415 (slow)

    with tempfile.TemporaryDirectory(prefix="aiaas-quantize-") as tmp:
        source, target = Path(tmp) / "model.fp32.onnx", Path(tmp) / "model.int8.onnx"
        source.write_bytes(data)
        quantize_dynamic(
            source,
            target,
            per_channel=True,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
        )
        return target.read_bytes()


def gate_feeds(inputs: Sequence[TensorSpec], gate: GateConfig) -> list[dict[str, np.ndarray]]:
    """Generated inputs for the gate: ``gate.rows`` rows in one batch, or one feed per batch
    when the model fixes its batch size."""
    fixed = fixed_batch(inputs)
    if fixed is None:
        return [generate_inputs(inputs, batch=gate.rows, seed=gate.seed)]
    return [generate_inputs(inputs, seed=gate.seed + i) for i in range(max(1, gate.rows // fixed))]


def compare_output(
    name: str, fp32: np.ndarray, variant: np.ndarray, gate: GateConfig
) -> OutputAgreement:
    """How a variant's output agrees with fp32's on the same rows: row cosine for floats,
    exact match for anything else (labels), judged against the gate's thresholds."""
    if np.issubdtype(fp32.dtype, np.floating):
        cosine = _row_cosine(fp32.astype(np.float64), variant.astype(np.float64))
        mean, low = float(cosine.mean()), float(cosine.min())
        passed = mean >= gate.min_mean_cosine and low >= gate.min_min_cosine
        return OutputAgreement(name, "cosine", round(mean, 6), round(low, 6), passed)
    rate = float(np.mean(fp32 == variant))
    passed = 1.0 - rate <= gate.max_label_disagreement
    return OutputAgreement(name, "exact_match", round(rate, 6), round(rate, 6), passed)


def _row_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine; two all-zero rows agree (1), a zero row against a non-zero one is 0."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    both_zero = ~a.any(axis=1) & ~b.any(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = np.where(norms > 0, np.sum(a * b, axis=1) / norms, 0.0)
    cosine = np.where(both_zero, 1.0, cosine)
    return np.where(np.isfinite(cosine), cosine, 0.0)


def describe_failure(result: OutputAgreement, gate: GateConfig) -> str:
    """One clause saying how an output missed the gate."""
    if result.metric == "cosine":
        return (
            f"output {result.name!r} cosine mean {result.mean:.4f} (needs {gate.min_mean_cosine}),"
            f" min {result.min:.4f} (needs {gate.min_min_cosine})"
        )
    return (
        f"output {result.name!r} disagrees on {1 - result.mean:.1%} of values "
        f"(at most {gate.max_label_disagreement:.1%})"
    )
