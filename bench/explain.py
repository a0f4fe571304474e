"""Explanation latency beside each model's own predict latency, on the runtime (no HTTP).

- one iris row, exact Shapley values over iris-rf's stored 50-row background;
- one 13-feature wine row (a scikit-learn logistic regression exported by skl2onnx) at the
  default budget (Kernel SHAP), with its correlation to shap's exact values;
- one 20-token text's contributions to a cosine similarity (all-minilm-l6-v2);
- one 20-token review's token attributions to its sentiment (sentiment);
- one digits image's 8x8 occlusion grid (digits-cnn).

Medians of ``--repeats`` calls, after a warm-up; the ratio is explain over predict for the
same input. Prints JSON and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from common import median_ms  # noqa: E402 - bench/ scripts import their helpers by path


def timed(call: Callable[[], Any], repeats: int) -> float:
    """Median ms of ``repeats`` calls after one warm-up (`common.median_ms`)."""
    return median_ms(call, warmup=1, min_runs=repeats, min_seconds=0)


def wine_model() -> tuple[Any, Any, np.ndarray]:
    """A 13-feature classifier as a runtime model, the sklearn model and the data."""
    import onnxruntime as ort  # noqa: PLC0415
    from skl2onnx import to_onnx  # noqa: PLC0415
    from sklearn.datasets import load_wine  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    from aiaas_runtime import Model, SessionRunner  # noqa: PLC0415
    from aiaas_runtime.manifest import parse_manifest  # noqa: PLC0415
    from aiaas_runtime.tasks import processor_for  # noqa: PLC0415

    x, y = load_wine(return_X_y=True)
    clf = LogisticRegression(max_iter=5000).fit(x, y)
    onnx = to_onnx(clf, x[:1].astype(np.float32), options={id(clf): {"zipmap": False}})
    session = ort.InferenceSession(onnx.SerializeToString(), providers=["CPUExecutionProvider"])
    raw = {
        "name": "wine", "version": "1", "task": "tabular-classification",
        "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 13]}],
        "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]},
                    {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}],
        "labels": ["a", "b", "c"], "limits": {"max_batch_size": 256, "max_items": 256},
        "artifacts": {},
    }  # fmt: skip
    manifest = parse_manifest(raw, Path())
    return Model(manifest, SessionRunner(session), processor_for(manifest), "fp32"), clf, x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "explain.json")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import shap  # noqa: PLC0415

    from aiaas_runtime import ModelRegistry  # noqa: PLC0415
    from aiaas_runtime.explain import Explainer, ExplainParams  # noqa: PLC0415
    from tests.conftest import load_testdata  # noqa: PLC0415

    registry = ModelRegistry(Path(os.environ["AIAAS_MODELS_DIR"]))
    cases: dict[str, dict[str, Any]] = {}

    iris = registry.get("iris-rf")
    row = [6.1, 2.8, 4.7, 1.2]
    explainer = Explainer(iris, iris.manifest.extra["explain"]["background"])
    cases["iris_exact"] = {
        "explain_ms": timed(lambda: explainer.explain([row], ExplainParams()), args.repeats),
        "predict_ms": timed(lambda: iris.predict([row]), args.repeats),
        "target_ms": 20,
    }

    wine, clf, x = wine_model()
    background = x[::6][:30].tolist()
    explainer = Explainer(wine, background)
    (kernel,), _ = explainer.explain([x[5].tolist()], ExplainParams())
    target = ["a", "b", "c"].index(kernel["target"])
    exact = shap.explainers.Exact(
        lambda z: clf.predict_proba(z)[:, target],
        shap.maskers.Independent(np.asarray(background), 1000),
    )(x[5:6]).values[0]
    by_name = {a["feature"]: a["attribution"] for a in kernel["attributions"]}
    estimate = [by_name[f"x{i}"] for i in range(13)]
    cases["wine_kernel_default_budget"] = {
        "explain_ms": timed(
            lambda: explainer.explain([x[5].tolist()], ExplainParams()), args.repeats
        ),
        "predict_ms": timed(lambda: wine.predict([x[5].tolist()]), args.repeats),
        "target_ms": 100,
        "evaluations": kernel["evaluations"],
        "correlation_with_shap_exact": round(float(np.corrcoef(estimate, exact)[0, 1]), 5),
    }

    minilm = registry.get("all-minilm-l6-v2")
    text = "the new phone has a bright screen, a long battery life and a very loud speaker"
    params = ExplainParams(compare_to="a phone with a great battery")
    explainer = Explainer(minilm)
    (tokens,), _ = explainer.explain([text], params)
    cases["text_tokens_to_similarity"] = {
        "tokens": len(tokens["tokens"]),
        "explain_ms": timed(lambda: explainer.explain([text], params), args.repeats),
        "predict_ms": timed(lambda: minilm.predict([text]), args.repeats),
    }

    sentiment = registry.get("sentiment")
    review = (
        "I did not expect much, but the hotel staff were kind and our room was clean and very quiet"
    )
    explainer = Explainer(sentiment)
    (tokens,), _ = explainer.explain([review], ExplainParams())
    cases["sentiment_tokens_20"] = {
        "tokens": len(tokens["tokens"]),
        "explain_ms": timed(lambda: explainer.explain([review], ExplainParams()), args.repeats),
        "predict_ms": timed(lambda: sentiment.predict([review]), args.repeats),
        "target_ms": 50,
        "top_token": max(tokens["tokens"], key=lambda t: t["attribution"])["text"],
    }

    digits = registry.get("digits-cnn")
    image = load_testdata("digits_test")["X"][0]
    explainer = Explainer(digits)
    cases["digits_occlusion_8x8"] = {
        "explain_ms": timed(lambda: explainer.explain([image], ExplainParams()), args.repeats),
        "predict_ms": timed(lambda: digits.predict([image]), args.repeats),
    }
    classifier = registry.get("image-classifier")
    photo = load_testdata("imagenet_samples")["images"][0]["jpeg_base64"]
    explainer = Explainer(classifier)
    cases["imagenet_224_occlusion_8x8"] = {
        "explain_ms": timed(
            lambda: explainer.explain([photo], ExplainParams()), max(3, args.repeats // 5)
        ),
        "predict_ms": timed(lambda: classifier.predict([photo]), args.repeats),
        "target_ms": 1500,
        "variant": classifier.variant,
    }
    for case in cases.values():
        case["ratio_explain_over_predict"] = round(case["explain_ms"] / case["predict_ms"], 1)
        if "target_ms" in case:
            case["meets_target"] = case["explain_ms"] <= case["target_ms"]
    text_out = json.dumps({"benchmark": "explanations", "cases": cases}, indent=2)
    print(text_out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text_out + "\n")


if __name__ == "__main__":
    main()
