"""fp16 variants for the GPU, kept only when they agree with fp32.

``fp16_variant`` converts a model's fp32 graph to fp16 with onnxruntime's converter (inputs
and outputs stay fp32, so callers see no difference), runs both graphs on the same generated
inputs and keeps the fp16 one only when it passes the catalog's accuracy gate: the int8
gate's measures and thresholds (row cosine for float outputs, share of equal values for
labels). It never raises: a failure is the decision's reason, and fp32 is served.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import onnx

from aiaas.registration.quantization import (
    GateConfig,
    OutputAgreement,
    compare_output,
    describe_failure,
    gate_feeds,
)
from aiaas.registration.runs import session_rows
from aiaas.registration.validation import error_text
from aiaas_runtime.manifest import TensorSpec

OpenSession = Callable[[bytes], Any]


class NothingToConvert(Exception):
    """The graph has no float weights that fp16 would shrink (tree ensembles, int graphs)."""


@dataclass(frozen=True, slots=True)
class Fp16Decision:
    """Whether to serve the fp16 graph, and why.

    Attributes:
        kept: The fp16 graph passed the gate.
        reason: Why it was kept, rejected or skipped (for the log).
        outputs: Per-output agreement with fp32; empty when nothing was compared.
        session: The fp16 session, only when kept.
    """

    kept: bool
    reason: str
    outputs: tuple[OutputAgreement, ...] = ()
    session: Any = field(default=None, repr=False, compare=False)


def to_fp16(data: bytes) -> bytes:
    """Convert an fp32 ONNX model to fp16, keeping fp32 inputs and outputs.

    Operators without fp16 kernels (ONNX-ML trees, ``Resize``...) stay fp32 behind casts:
    onnxruntime's converter keeps its default block list.

    Raises:
        NothingToConvert: No float weight was converted.
        Exception: Whatever onnx or the converter raises for a model they cannot handle.
    """
    from onnxruntime.transformers.float16 import (  # noqa: PLC0415 - pulls in onnx helpers
        convert_float_to_float16,
    )

    model = onnx.load_model_from_string(data)
    converted = convert_float_to_float16(model, keep_io_types=True)
    half = onnx.TensorProto.FLOAT16
    if not any(init.data_type == half for init in converted.graph.initializer):
        raise NothingToConvert("no float weights to convert")
    serialized: bytes = converted.SerializeToString()
    return serialized


def fp16_variant(
    data: bytes,
    reference: Any,
    inputs: Sequence[TensorSpec],
    gate: GateConfig,
    open_session: OpenSession,
) -> Fp16Decision:
    """Convert to fp16 and keep the result if it agrees with fp32 on generated inputs.

    Args:
        data: The fp32 model file.
        reference: An open fp32 session of ``data`` (on the provider that will serve).
        inputs: The model's input tensors, for generating ``gate.rows`` rows.
        gate: The accuracy thresholds (the catalog's int8 gate).
        open_session: Opens a session from model bytes, on the same provider as
            ``reference`` (fp16 numerics differ between providers).

    Returns:
        The decision; ``session`` is the fp16 session when it is kept.
    """
    try:
        half = to_fp16(data)
    except NothingToConvert as exc:
        return Fp16Decision(kept=False, reason=f"skipped: {exc}")
    except Exception as exc:  # onnx and the converter raise anything
        return Fp16Decision(kept=False, reason=f"fp16 conversion failed: {error_text(exc)}")
    try:
        session = open_session(half)
        feeds = gate_feeds(inputs, gate)
        expected = session_rows(reference, feeds)
        actual = session_rows(session, feeds)
        outputs = tuple(compare_output(n, expected[n], actual[n], gate) for n in expected)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        return Fp16Decision(
            kept=False, reason=f"fp16 comparison with fp32 failed: {error_text(exc)}"
        )
    failed = [o for o in outputs if not o.passed]
    if failed:
        described = ", ".join(describe_failure(o, gate) for o in failed)
        reason = f"fp16 differs from fp32: {described}"
        return Fp16Decision(kept=False, reason=reason, outputs=outputs)
    summary = ", ".join(f"{o.name} {o.metric} min {o.min:.4f}" for o in outputs)
    return Fp16Decision(
        kept=True, reason=f"fp16 agrees with fp32 ({summary})", outputs=outputs, session=session
    )
