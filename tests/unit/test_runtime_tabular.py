"""iris-rf through the runtime: rows as arrays or objects, validated per feature."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from aiaas_runtime import InvalidInputError, Model, ModelRegistry, PredictParams
from tests.conftest import load_testdata

NAME = "iris-rf"


@pytest.fixture(scope="module")
def model(models_dir: Path) -> Model:
    return ModelRegistry(models_dir).get(NAME)


def test_a_setosa_row_gets_label_and_class_probabilities(model: Model) -> None:
    (result,) = model.predict([[5.1, 3.5, 1.4, 0.2]]).results
    assert result["label"] == "setosa"
    assert set(result["probabilities"]) == {"setosa", "versicolor", "virginica"}
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert result["score"] == result["probabilities"]["setosa"]
    assert result["top_k"][0]["label"] == "setosa"


def test_object_rows_keyed_by_feature_name_equal_array_rows(model: Model) -> None:
    row = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}
    as_object, as_array = model.predict([row, [6.7, 3.0, 5.2, 2.3]]).results
    assert as_object == as_array


def test_held_out_accuracy_matches_the_manifest(model: Model) -> None:
    data = load_testdata("iris_test")
    results = model.predict(data["X"]).results
    predicted = [data["labels"].index(r["label"]) for r in results]
    accuracy = sum(p == y for p, y in zip(predicted, data["y"], strict=True)) / len(data["y"])
    assert accuracy >= 0.9
    assert accuracy == pytest.approx(model.manifest.quality["int8"], abs=1e-6)


def test_top_k_lists_k_classes_best_first(model: Model) -> None:
    (result,) = model.predict([[6.0, 2.9, 4.5, 1.5]], PredictParams(top_k=2)).results
    scores = [entry["score"] for entry in result["top_k"]]
    assert len(scores) == 2
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ([5.1, 3.5, 1.4], "has 3 features; the model expects 4"),
        ([5.1, 3.5, 1.4, 0.2, 9.9], "has 5 features"),
        (["5.1", 3.5, 1.4, 0.2], "sepal_length must be a number, got str"),
        ([True, 3.5, 1.4, 0.2], "must be a number, got bool"),
        ([math.nan, 3.5, 1.4, 0.2], "must be finite"),
        ({"sepal_length": 1}, "missing features"),
        ({"sepal_length": 1, "sepal_width": 1, "petal_length": 1, "petal_width": 1, "x": 1},
         "unknown features ['x']"),
        ("5.1,3.5,1.4,0.2", "must be an array of 4 numbers or an object"),
    ],
)  # fmt: skip
def test_bad_rows_are_rejected_with_the_reason(model: Model, row: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match="inputs\\[1\\]") as info:
        model.predict([[5.1, 3.5, 1.4, 0.2], row])
    assert message in info.value.message


def test_top_k_beyond_the_class_count_is_rejected(model: Model) -> None:
    with pytest.raises(InvalidInputError, match="top_k must be between 1 and 3"):
        model.predict([[5.1, 3.5, 1.4, 0.2]], PredictParams(top_k=4))
