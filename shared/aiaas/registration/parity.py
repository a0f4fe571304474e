"""Parity of an ONNX file with the model it was exported from, on reference rows.

A ``parity.json`` uploaded beside ``model.onnx`` holds inputs (tensors by name) and what the
source model answered for them (scikit-learn's labels or values: the training service writes
one for every model it exports). Registration runs the graph on those inputs and refuses a
version whose answers differ, with the numbers::

    {"inputs": {"age": [[41.0], [null]], "city": [["a"], [""]]},
     "output": "label", "kind": "labels", "expected": [1, 0],
     "min_agreement": 0.995, "max_relative_error": 1e-4}

``kind`` is ``labels`` (the share of equal labels must reach ``min_agreement``) or
``values`` (each value within ``max_relative_error`` of the expected, relative to
``max(|expected|, 1)``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from aiaas.registration.validation import InvalidModel

PARITY_FILE = "parity.json"
MAX_PARITY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ParityResult:
    """How far the graph's answers are from the source model's."""

    rows: int
    kind: str
    agreement: float  # share of rows that match
    max_relative_error: float  # values only; 0 for labels
    limit: float  # the least agreement (labels) or the largest error (values) allowed
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """The version's ``quality.parity``."""
        return {
            "rows": self.rows,
            "kind": self.kind,
            "agreement": round(self.agreement, 6),
            "max_relative_error": self.max_relative_error,
            "limit": self.limit,
            "passed": self.passed,
        }


def parse_parity(data: bytes) -> dict[str, Any]:
    """The parity document; InvalidModel when it is not one."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InvalidModel("parity", "parity.json is not JSON") from exc
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("inputs"), dict)
        or not isinstance(doc.get("expected"), list)
        or doc.get("kind") not in ("labels", "values")
        or not isinstance(doc.get("output"), str)
    ):
        raise InvalidModel(
            "parity", "parity.json needs 'inputs' (object), 'expected' (array), 'output' and "
            "'kind' ('labels' or 'values')"
        )  # fmt: skip
    return doc


def check_parity(model_bytes: bytes, doc: dict[str, Any]) -> ParityResult:
    """Run the graph on the document's inputs and compare with its expected answers."""
    import onnxruntime as ort  # noqa: PLC0415 - the registration layer has it

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    feeds = {}
    for spec in session.get_inputs():
        if spec.name not in doc["inputs"]:
            raise InvalidModel("parity", f"parity.json has no input {spec.name!r}")
        values = doc["inputs"][spec.name]
        if spec.type == "tensor(string)":
            feeds[spec.name] = np.asarray(values, dtype=object)
        else:
            feeds[spec.name] = np.asarray(
                [[np.nan if v is None else v for v in row] for row in values], dtype=np.float32
            )
    try:
        (answer,) = session.run([doc["output"]], feeds)
    except Exception as exc:  # onnxruntime's errors are untyped
        raise InvalidModel(
            "parity", f"the graph did not run on parity.json's inputs: {exc}"
        ) from exc
    got = np.asarray(answer).reshape(len(doc["expected"]), -1)[:, 0]
    expected = np.asarray(doc["expected"])
    if doc["kind"] == "labels":
        agreement = float(np.mean(got.astype(str) == expected.astype(str)))
        least = float(doc.get("min_agreement", 0.995))
        return ParityResult(len(expected), "labels", agreement, 0.0, least, agreement >= least)
    expected = expected.astype(np.float64)
    error = np.abs(got.astype(np.float64) - expected) / np.maximum(np.abs(expected), 1.0)
    limit = float(doc.get("max_relative_error", 1e-4))
    worst = float(error.max()) if error.size else 0.0
    agreement = float(np.mean(error <= limit)) if error.size else 1.0
    return ParityResult(len(expected), "values", agreement, worst, limit, worst <= limit)


def refusal(result: ParityResult) -> str:
    """Why a version failed its parity check, with the numbers."""
    if result.kind == "labels":
        return (
            f"the ONNX export agrees with the source model on {result.agreement:.2%} of "
            f"{result.rows} reference rows; at least {result.limit:.1%} is needed"
        )
    return (
        f"the ONNX export's values differ from the source model's by up to "
        f"{result.max_relative_error:.2e} (relative) on {result.rows} reference rows; the "
        f"limit is {result.limit:.0e}"
    )
