"""The scikit-learn side of training: pipelines on raw columns, cross-validation, evaluation,
ONNX export. Only TrainingFunction imports it (its layer ships scikit-learn and skl2onnx).

A candidate is a scikit-learn ``Pipeline``: a ``ColumnTransformer`` over the dataset's typed
columns (numbers: median imputation, scaled for linear and k-NN models; strings: one-hot with
unknown categories ignored, or ordinal above `ONE_HOT_MAX` distinct values), then the
estimator. skl2onnx exports the whole pipeline with one input per column, so the served
graph takes the raw values the user uploaded.

Cross-validation is scikit-learn's own (``StratifiedKFold`` for classifiers, ``KFold`` for
regressors, no shuffle: what ``GridSearchCV(cv=5)`` does), ``n_jobs=1``: Lambda has no
``/dev/shm`` for joblib's process pool, and each candidate runs in its own invocation anyway.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas.domain import drift
from aiaas.training.records import Candidate, TrainingSpec
from aiaas.training.table import Dataset

# metric -> (scikit-learn scoring name, sign to turn its score into the metric's value)
SCORING = {
    "accuracy": ("accuracy", 1.0),
    "f1_macro": ("f1_macro", 1.0),
    "roc_auc": ("roc_auc", 1.0),
    "log_loss": ("neg_log_loss", -1.0),
    "rmse": ("neg_root_mean_squared_error", -1.0),
    "mae": ("neg_mean_absolute_error", -1.0),
    "r2": ("r2", 1.0),
}
SCALED = ("logistic_regression", "ridge", "knn")  # algorithms that want scaled inputs
PARITY_ROWS = 1000
BACKGROUND_ROWS = 200
IMPORTANCE_ROWS = 2000


@dataclass(frozen=True, slots=True)
class Split:
    """The train and held-out rows (object arrays of raw cells) and their targets."""

    x_train: npt.NDArray[Any]
    x_test: npt.NDArray[Any]
    y_train: npt.NDArray[Any]
    y_test: npt.NDArray[Any]


def split(dataset: Dataset, spec: TrainingSpec) -> Split:
    """The held-out split: ``test_size`` of the rows, stratified for classifiers, ``seed``."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    x = np.empty((len(dataset.cells), len(dataset.features)), dtype=object)
    for i, row in enumerate(dataset.cells):
        x[i, :] = row
    y = _targets(dataset, spec)
    stratify = y if spec.task == "classification" else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=spec.test_size, random_state=spec.seed, stratify=stratify
    )
    return Split(x_train, x_test, y_train, y_test)


def _targets(dataset: Dataset, spec: TrainingSpec) -> npt.NDArray[Any]:
    if spec.task == "regression":
        return np.asarray([float(v) for v in dataset.target], dtype=np.float64)
    return np.asarray(dataset.target, dtype=object)


def build_pipeline(dataset: Dataset, candidate: Candidate, spec: TrainingSpec) -> Any:
    """The candidate's preprocessing + estimator pipeline, unfitted."""
    from sklearn.compose import ColumnTransformer  # noqa: PLC0415
    from sklearn.impute import SimpleImputer  # noqa: PLC0415
    from sklearn.pipeline import Pipeline  # noqa: PLC0415
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler  # noqa: PLC0415

    scaled = candidate.algorithm in SCALED
    numbers = [i for i, c in enumerate(dataset.features) if c.kind == "number"]
    one_hot = [i for i, c in enumerate(dataset.features) if c.encoding == "one_hot"]
    ordinal = [i for i, c in enumerate(dataset.features) if c.encoding == "ordinal"]
    parts: list[tuple[str, Any, list[int]]] = []
    if numbers:
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
        ]
        if scaled:
            steps.append(("scale", StandardScaler()))
        parts.append(("numbers", Pipeline(steps), numbers))
    if one_hot:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append(("one_hot", encoder, one_hot))
    if ordinal:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        step: Any = (
            Pipeline([("encode", encoder), ("scale", StandardScaler())]) if scaled else encoder
        )
        parts.append(("ordinal", step, ordinal))
    columns = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("columns", columns), ("model", estimator(candidate, spec))])


def estimator(candidate: Candidate, spec: TrainingSpec) -> Any:
    """The scikit-learn estimator of a candidate (seeded where it is random)."""
    from sklearn import ensemble, linear_model, neighbors  # noqa: PLC0415

    params = dict(candidate.params)
    classify = spec.task == "classification"
    seeded = {"random_state": spec.seed}
    match candidate.algorithm:
        case "random_forest":
            cls = ensemble.RandomForestClassifier if classify else ensemble.RandomForestRegressor
            return cls(**params, **seeded, n_jobs=1)
        case "extra_trees":
            cls = ensemble.ExtraTreesClassifier if classify else ensemble.ExtraTreesRegressor
            return cls(**params, **seeded, n_jobs=1)
        case "gradient_boosting":
            cls = (
                ensemble.HistGradientBoostingClassifier
                if classify
                else ensemble.HistGradientBoostingRegressor
            )
            return cls(**params, **seeded)
        case "logistic_regression":
            return linear_model.LogisticRegression(**({"max_iter": 1000} | params))
        case "ridge":
            return linear_model.Ridge(**params)
        case "knn":
            cls = neighbors.KNeighborsClassifier if classify else neighbors.KNeighborsRegressor
            return cls(**params, n_jobs=1)
    raise ValueError(f"unknown algorithm {candidate.algorithm!r}")


def scoring(spec: TrainingSpec, classes: int = 2) -> str:
    """scikit-learn's scoring name for the job's metric."""
    name = SCORING[spec.metric][0]
    return "roc_auc_ovr" if name == "roc_auc" and classes > 2 else name


def folds(spec: TrainingSpec) -> Any:
    """GridSearchCV's own splitter for ``cv=<int>``."""
    from sklearn.model_selection import KFold, StratifiedKFold  # noqa: PLC0415

    return StratifiedKFold(spec.cv) if spec.task == "classification" else KFold(spec.cv)


def cross_validate(
    dataset: Dataset, data: Split, candidate: Candidate, spec: TrainingSpec
) -> dict[str, Any]:
    """One candidate's cross-validated score on the training split (the metric's own units)
    with its fit time and predict time per row; ``error`` when it cannot be fitted."""
    from sklearn.model_selection import cross_validate as sk_cross_validate  # noqa: PLC0415

    started = time.perf_counter()
    try:
        scores = sk_cross_validate(
            build_pipeline(dataset, candidate, spec),
            data.x_train,
            data.y_train,
            cv=folds(spec),
            scoring=scoring(spec, len(set(data.y_train.tolist()))),
            n_jobs=1,
            error_score="raise",
        )
    except Exception as exc:  # a parameter combination scikit-learn refuses, a fit that fails
        message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return candidate.to_dict() | {"error": message, "seconds": time.perf_counter() - started}
    sign = SCORING[spec.metric][1]
    values = sign * np.asarray(scores["test_score"], dtype=np.float64)
    rows = len(data.y_train) / spec.cv
    return candidate.to_dict() | {
        # unrounded: candidates are ranked on it, as GridSearchCV ranks its exact means
        "cv_mean": _exact(values.mean()),
        "cv_std": _finite(values.std()),
        "cv_scores": [_exact(v) for v in values.tolist()],
        "fit_time_s": round(float(np.mean(scores["fit_time"])), 4),
        "predict_ms_per_row": round(float(np.mean(scores["score_time"])) * 1000 / rows, 5),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _exact(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _finite(value: Any) -> float | None:
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class Trained:
    """The refitted best pipeline and what the job reports and stores of it."""

    pipeline: Any
    metrics: dict[str, Any]
    importance: list[dict[str, Any]]
    labels: list[str]
    onnx: bytes
    parity: dict[str, Any]
    background: dict[str, Any]
    baseline: dict[str, Any]


def finish(dataset: Dataset, data: Split, best: dict[str, Any], spec: TrainingSpec) -> Trained:
    """Refit the best on the training split, evaluate on the held-out split, export."""
    candidate = Candidate(best["index"], best["algorithm"], best["params"])
    pipeline = build_pipeline(dataset, candidate, spec).fit(data.x_train, data.y_train)
    labels = [str(c) for c in pipeline.classes_] if spec.task == "classification" else []
    metrics = test_metrics(pipeline, data, spec, labels)
    importance = feature_importance(pipeline, dataset, data, spec, labels)
    onnx = export(pipeline, dataset, spec)
    rows = min(len(data.y_test), PARITY_ROWS)
    expected = pipeline.predict(data.x_test[:rows])
    parity = {
        "inputs": _columns_json(dataset, data.x_test[:rows]),
        "output": "label" if spec.task == "classification" else "variable",
        "kind": "labels" if spec.task == "classification" else "values",
        "expected": [str(v) for v in expected] if labels else [float(v) for v in expected],
        "min_agreement": 0.995,
        "max_relative_error": 1e-4,
    }
    return Trained(
        pipeline,
        metrics,
        importance,
        labels,
        onnx,
        parity,
        background(dataset, data, spec),
        baseline(dataset, data, pipeline, spec),
    )


def test_metrics(
    pipeline: Any, data: Split, spec: TrainingSpec, labels: list[str]
) -> dict[str, Any]:
    """Held-out metrics: accuracy, F1, ROC AUC, log loss, confusion matrix; RMSE, MAE, R²."""
    from sklearn import metrics as m  # noqa: PLC0415

    predicted = pipeline.predict(data.x_test)
    rows = len(data.y_test)
    if spec.task == "regression":
        return {
            "rows": rows,
            "rmse": _finite(math.sqrt(m.mean_squared_error(data.y_test, predicted))),
            "mae": _finite(m.mean_absolute_error(data.y_test, predicted)),
            "r2": _finite(m.r2_score(data.y_test, predicted)),
        }
    proba = pipeline.predict_proba(data.x_test)
    classes = list(pipeline.classes_)
    answer: dict[str, Any] = {
        "rows": rows,
        "accuracy": _finite(m.accuracy_score(data.y_test, predicted)),
        "f1_macro": _finite(m.f1_score(data.y_test, predicted, average="macro")),
        "log_loss": _finite(m.log_loss(data.y_test, proba, labels=classes)),
        "confusion_matrix": {
            "labels": labels,
            "matrix": m.confusion_matrix(data.y_test, predicted, labels=classes).tolist(),
        },
    }
    try:
        if len(classes) == 2:
            auc = m.roc_auc_score(data.y_test == classes[1], proba[:, 1])
        else:
            auc = m.roc_auc_score(data.y_test, proba, multi_class="ovr", labels=classes)
        answer["roc_auc"] = _finite(auc)
    except ValueError:  # a class absent from the held-out rows
        answer["roc_auc"] = None
    return answer


def feature_importance(
    pipeline: Any, dataset: Dataset, data: Split, spec: TrainingSpec, labels: list[str]
) -> list[dict[str, Any]]:
    """Permutation importance of each raw column on the held-out split (the job's metric)."""
    from sklearn.inspection import permutation_importance  # noqa: PLC0415

    rows = min(len(data.y_test), IMPORTANCE_ROWS)
    result = permutation_importance(
        pipeline,
        data.x_test[:rows],
        data.y_test[:rows],
        scoring=scoring(spec, max(len(labels), 2)),
        n_repeats=5,
        random_state=spec.seed,
        n_jobs=1,
    )
    # the mean drop of the (greater-is-better) score when the column is shuffled
    entries = [
        {"feature": column.name, "importance": _finite(mean), "std": _finite(std)}
        for column, mean, std in zip(
            dataset.features, result.importances_mean, result.importances_std, strict=True
        )
    ]
    return sorted(entries, key=lambda e: -(e["importance"] or 0.0))


def export(pipeline: Any, dataset: Dataset, spec: TrainingSpec) -> bytes:
    """The fitted pipeline as ONNX: one ``[None, 1]`` input per column (FP32 or string)."""
    from skl2onnx import convert_sklearn  # noqa: PLC0415
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType  # noqa: PLC0415

    _patch_skl2onnx()
    types = [
        (c.name, FloatTensorType([None, 1]) if c.kind == "number" else StringTensorType([None, 1]))
        for c in dataset.features
    ]
    options = {id(pipeline): {"zipmap": False}} if spec.task == "classification" else None
    model = convert_sklearn(pipeline, initial_types=types, options=options)
    data: bytes = model.SerializeToString()
    return data


def _patch_skl2onnx() -> None:
    """skl2onnx 1.20 writes HistGradientBoosting's leaves' missing-value flags as Python
    booleans beside the branches' integers, which onnx refuses ("Expected an int, got a
    boolean"): pass integers."""
    from skl2onnx.common import tree_ensemble  # noqa: PLC0415

    original = tree_ensemble.add_node
    if getattr(original, "aiaas_patched", False):
        return

    def add_node(*args: Any, nodes_missing_value_tracks_true: Any = False, **kwargs: Any) -> Any:
        flag = int(bool(nodes_missing_value_tracks_true))
        return original(*args, nodes_missing_value_tracks_true=flag, **kwargs)

    add_node.aiaas_patched = True  # type: ignore[attr-defined]
    tree_ensemble.add_node = add_node


def _json_cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _columns_json(dataset: Dataset, x: npt.NDArray[Any]) -> dict[str, list[list[Any]]]:
    return {
        c.name: [[_json_cell(v)] for v in x[:, i].tolist()] for i, c in enumerate(dataset.features)
    }


def background(dataset: Dataset, data: Split, spec: TrainingSpec) -> dict[str, Any]:
    """A seeded sample of training rows (objects keyed by column): explanations' background."""
    rng = np.random.default_rng(spec.seed)
    rows = min(len(data.x_train), BACKGROUND_ROWS)
    picked = np.sort(rng.choice(len(data.x_train), size=rows, replace=False))
    names = [c.name for c in dataset.features]
    return {
        "columns": dataset.schema(),
        "rows": [
            {n: _json_cell(v) for n, v in zip(names, data.x_train[i].tolist(), strict=True)}
            for i in picked.tolist()
        ],
    }


def baseline(dataset: Dataset, data: Split, pipeline: Any, spec: TrainingSpec) -> dict[str, Any]:
    """Per-column profiles of the training split and of the model's answers on it: drift
    monitoring's reference (`aiaas.domain.drift`)."""
    columns = [
        drift.number_profile(column.name, data.x_train[:, i].tolist())
        if column.kind == "number"
        else drift.string_profile(column.name, data.x_train[:, i].tolist())
        for i, column in enumerate(dataset.features)
    ]
    predicted = pipeline.predict(data.x_train)
    if spec.task == "classification":
        prediction = drift.string_profile("prediction", predicted.astype(str).tolist())
    else:
        prediction = drift.number_profile("prediction", predicted.astype(float).tolist())
    return {"rows": len(data.x_train), "columns": columns, "prediction": prediction}
