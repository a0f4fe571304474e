"""Recipe: ``iris-rf``, a random forest on scikit-learn's bundled iris data.

The forest is chosen by a small grid search and converted with skl2onnx without ZipMap, so the
graph returns plain tensors: ``label`` [batch] INT64 and ``probabilities`` [batch, 3] FP32.
Tree ensembles have no weight tensors that int8 quantization applies to, so the int8 file is a
byte copy of the fp32 one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from modelzoo import common

NAME = "iris-rf"
VERSION = "1"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TEST_SIZE = 0.3
PARAM_GRID = {"n_estimators": [25, 50, 100], "max_depth": [3, 5, None]}
CV_FOLDS = 5
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
INPUT_NAME = "float_input"


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Return the stratified 70/30 split (``random_state=0``) and the class names."""
    data = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data,
        data.target,
        test_size=TEST_SIZE,
        stratify=data.target,
        random_state=common.SEED,
    )
    return x_train, x_test, y_train, y_test, [str(name) for name in data.target_names]


def train(x_train: np.ndarray, y_train: np.ndarray) -> GridSearchCV:
    """Grid-search a random forest with 5-fold stratified cross-validation (single process)."""
    search = GridSearchCV(
        RandomForestClassifier(random_state=common.SEED),
        PARAM_GRID,
        cv=StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=common.SEED),
        scoring="accuracy",
        n_jobs=1,
    )
    return search.fit(x_train, y_train)


def to_onnx(clf: RandomForestClassifier, labels: list[str], dst: Path) -> None:
    """Convert the forest (no ZipMap) and store the class names in ``metadata_props``."""
    model = convert_sklearn(
        clf,
        name=NAME,
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(FEATURES)]))],
        options={id(clf): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    # skl2onnx lists the default domain twice; keep one entry per domain (the highest version).
    opsets: dict[str, int] = {}
    for opset in model.opset_import:
        opsets[opset.domain] = max(opset.version, opsets.get(opset.domain, 0))
    del model.opset_import[:]
    model.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in sorted(opsets.items()))
    onnx.helper.set_model_props(
        model, {"labels": json.dumps(labels), "features": json.dumps(FEATURES)}
    )
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


def onnx_accuracy(path: Path, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Return the accuracy of an ONNX file on the test split."""
    sess = common.session(path)
    predicted = sess.run(["label"], {INPUT_NAME: x_test.astype(np.float32)})[0]
    return common.accuracy(predicted, y_test)


def write_testdata(dst: Path, x_test: np.ndarray, y_test: np.ndarray, labels: list[str]) -> None:
    """Write the held-out split as JSON (features, rows, integer classes, class names)."""
    common.write_json(
        dst,
        {"features": FEATURES, "X": x_test.tolist(), "y": y_test.tolist(), "labels": labels},
        compact=True,
    )


def background(x_train: np.ndarray, rows: int = 50) -> list[list[float]]:
    """A seeded sample of training rows: the background its explanations average over."""
    picked = np.sort(np.random.default_rng(common.SEED).choice(len(x_train), rows, replace=False))
    return [[round(float(v), 4) for v in x_train[i]] for i in picked]


def manifest_fields(search: GridSearchCV, labels: list[str], n_train: int) -> dict[str, Any]:
    """Return the recipe-specific manifest fields (everything but quality and artifacts)."""
    return {
        "name": NAME,
        "version": VERSION,
        "task": "tabular-classification",
        "description": "Iris species from four flower measurements (cm), random forest",
        "source": {
            "package": "scikit-learn",
            "package_version": common.package_version("scikit-learn"),
            "converter": f"skl2onnx {common.package_version('skl2onnx')}",
            "target_opset": TARGET_OPSET,
            "dataset": "iris, sklearn.datasets.load_iris (bundled)",
            "split": f"stratified train/test, test_size {TEST_SIZE}, random_state {common.SEED}",
            "n_train": n_train,
            "algorithm": "sklearn.ensemble.RandomForestClassifier",
            "grid_search": {
                "param_grid": PARAM_GRID,
                "cv": f"StratifiedKFold({CV_FOLDS}, shuffle, random_state {common.SEED})",
                "best_params": search.best_params_,
                "cv_accuracy": round(float(search.best_score_), 6),
            },
        },
        "labels": labels,
        "preprocessing": {"input": INPUT_NAME, "features": FEATURES},
        "postprocessing": {
            "label": "label",
            "scores": "probabilities",
            "scores_kind": "probabilities",
        },
        "quantization": {
            "method": "none",
            "reason": "tree ensembles have no weight tensors for int8 quantization (thresholds "
            "and leaf values stay fp32); model.int8.onnx is a byte copy of model.fp32.onnx",
        },
    }


def build(models_dir: Path, testdata_dir: Path) -> dict[str, Any]:
    """Train, convert and evaluate the iris forest; write its directory and test split.

    Returns:
        The manifest as written.
    """
    out = models_dir / NAME
    out.mkdir(parents=True, exist_ok=True)
    x_train, x_test, y_train, y_test, labels = load_split()
    with common.timed(f"{NAME}: grid search"):
        search = train(x_train, y_train)
    fp32_path, int8_path = out / "model.fp32.onnx", out / "model.int8.onnx"
    to_onnx(search.best_estimator_, labels, fp32_path)
    shutil.copyfile(fp32_path, int8_path)
    write_testdata(testdata_dir / "iris_test.json", x_test, y_test, labels)
    quality = {
        "metric": "accuracy",
        "dataset": "iris test split (testdata/iris_test.json)",
        "n": len(y_test),
        "fp32": onnx_accuracy(fp32_path, x_test, y_test),
        "int8": onnx_accuracy(int8_path, x_test, y_test),
        "sklearn": common.accuracy(search.best_estimator_.predict(x_test), y_test),
    }
    fields = {
        **manifest_fields(search, labels, len(y_train)),
        "quality": quality,
        "explain": {"background": background(x_train)},  # aiaas_runtime.explain
    }
    return common.write_manifest(out, fields, {"int8": int8_path, "fp32": fp32_path})
