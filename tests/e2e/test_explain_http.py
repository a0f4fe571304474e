"""Explanations over HTTP on the local stack: iris-rf's exact Shapley values add up, a
registered scikit-learn model explained with the request's background, a digits saliency
grid, and the 400s a bad request gets."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression

from tests.conftest import load_testdata
from tests.e2e.accounts import new_account
from tests.e2e.models import wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def http(local_stack: str) -> Any:
    with httpx.Client(base_url=local_stack, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def key(http: httpx.Client) -> dict[str, str]:
    return {"x-api-key": new_account(http)["key"]}


def test_iris_exact_values_add_up_over_http(http: httpx.Client, key: dict[str, str]) -> None:
    body = {"inputs": [[6.1, 2.8, 4.7, 1.2], {"sepal_length": 5.0, "sepal_width": 3.4,
            "petal_length": 1.5, "petal_width": 0.2}]}  # fmt: skip
    answer = http.post("/v1/models/iris-rf/explain", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    assert int(answer.headers["x-model-evaluations"]) == answer.json()["evaluations"]
    first, second = answer.json()["explanations"]
    for one in (first, second):
        assert one["method"] == "exact_shapley"
        total = one["base_value"] + sum(a["attribution"] for a in one["attributions"])
        assert total == pytest.approx(one["prediction"], rel=1e-4)
    assert second["target"] == "setosa"


def test_a_registered_model_is_explained_with_the_requests_background(
    http: httpx.Client, key: dict[str, str]
) -> None:
    x, y = load_wine(return_X_y=True)
    x = x[:, :5]
    model = LogisticRegression(max_iter=5000).fit(x, y)
    onnx = to_onnx(model, x[:1].astype(np.float32), options={id(model): {"zipmap": False}})
    name = "wine-explained"
    body = {"name": name, "task": "tabular-classification", "labels": ["a", "b", "c"]}
    assert http.post("/v1/models", headers=key, json=body).status_code == 201
    version = http.post(f"/v1/models/{name}/versions", headers=key).json()
    form = version["upload"]
    httpx.post(
        form["url"], data=form["fields"], files={"file": ("m.onnx", onnx.SerializeToString())}
    )
    assert wait_for_status(http, key, name, version["version"])["status"] == "READY"
    row = x[100].tolist()
    bare = http.post(f"/v1/models/{name}/explain", json={"inputs": [row]}, headers=key)
    assert bare.status_code == 400 and "parameters.background" in bare.json()["error"]["message"]
    body = {"inputs": [row], "parameters": {"background": x[::8].tolist(), "target": "b"}}
    answer = http.post(f"/v1/models/{name}/explain", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    (one,) = answer.json()["explanations"]
    assert one["target"] == "b" and one["method"] == "exact_shapley"
    assert one["prediction"] == pytest.approx(model.predict_proba(x[100:101])[0, 1], abs=1e-5)


def test_a_digits_saliency_grid_and_bad_requests(http: httpx.Client, key: dict[str, str]) -> None:
    image = load_testdata("digits_test")["X"][3]
    body = {"inputs": [image], "parameters": {"grid": 4}}
    answer = http.post("/v1/models/digits-cnn/explain", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    (grid,) = answer.json()["explanations"]
    assert len(grid["grid"]) == 4 and grid["cell_size"] == [2, 2]
    for body, words in [
        ({"inputs": [[1, 2, 3, 4]], "parameters": {"method": "occlusion"}}, "does not fit"),
        ({"inputs": [[1, 2, 3, 4]], "parameters": {"max_evaluations": 10**7}}, "max_evaluations"),
        ({"inputs": [[1, 2, 3, 4]], "parameters": {"target": "rose"}}, "not a class"),
        ({"inputs": [[1, 2, 3, 4]], "parameters": {"background": [[1, 2]]}}, "background"),
    ]:
        bad = http.post("/v1/models/iris-rf/explain", json=body, headers=key)
        assert bad.status_code == 400, bad.text
        assert words in bad.json()["error"]["message"]
    assert (
        http.post("/v1/models/nope/explain", json={"inputs": [[1]]}, headers=key).status_code == 404
    )
