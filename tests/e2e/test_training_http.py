"""Training end to end on the local stack (``python -m aiaas_dev serve``), as a user: upload a
CSV with numbers, categories and missing values, run the seed's exact RandomForest grid,
wait for SUCCEEDED, read the leaderboard and metrics, then predict raw rows through the
native route, the Open Inference Protocol and a batch job; the answers match scikit-learn's
own GridSearchCV on the same split, grid and seed.

The pipeline is the deployed one: presigned POST to S3 (moto) -> TrainingFunction (S3 event)
-> SQS steps -> ONNX upload -> RegisterModelFunction (S3 event) -> READY."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sklearn.model_selection import GridSearchCV

from aiaas.training.records import Candidate, build_spec
from aiaas.training.search import build_pipeline, split
from aiaas.training.table import Limits, load_dataset
from tests.e2e.accounts import new_account
from tests.e2e.batch_jobs import jsonl, output, submit, wait_for_job
from tests.functional.test_training import sklearn_rows
from tests.training_data import churn_rows, to_csv

pytestmark = pytest.mark.e2e

SEED_GRID = {  # the platform documents' grid, as written
    "n_estimators": [100, 200, 300],
    "max_depth": [None, 10, 20, 30],
    "min_samples_split": [2, 5, 10],
}
FINISHED = {"SUCCEEDED", "FAILED", "CANCELLED"}


@pytest.fixture(scope="module")
def http(local_stack: str) -> Any:
    with httpx.Client(base_url=local_stack, timeout=60) as client:
        yield client


def headers_for(http: httpx.Client, token: str) -> dict[str, str]:
    key = http.post(
        "/v1/keys",
        json={"name": "trainer", "scopes": ["training", "predict", "batch", "models:read"]},
        headers={"authorization": f"Bearer {token}"},
    )
    assert key.status_code == 201, key.text
    return {"x-api-key": key.json()["key"]}


def wait(http: httpx.Client, headers: dict[str, str], job_id: str, timeout_s: float = 900) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = http.get(f"/v1/training-jobs/{job_id}", headers=headers).json()
        if job["status"] in FINISHED:
            return job
        time.sleep(0.5)
    raise AssertionError(f"training job {job_id} did not finish: {job}")


def test_the_seeds_grid_trains_registers_and_serves_like_scikit_learn(
    http: httpx.Client,
) -> None:
    account = new_account(http)
    headers = headers_for(http, account["token"])
    data = to_csv(churn_rows(150, seed=4))
    request = {
        "model": "churn", "task": "classification", "target": "churn",
        "algorithms": ["random_forest"], "param_grid": SEED_GRID, "cv": 5, "seed": 11,
    }  # fmt: skip
    # When a user creates the job and uploads the CSV with the presigned POST
    created = http.post("/v1/training-jobs", json=request, headers=headers)
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["status"] == "PENDING_UPLOAD" and job["progress"]["candidates_total"] == 36
    form = job["upload"]
    sent = httpx.post(form["url"], data=form["fields"], files={"file": ("churn.csv", data)})
    assert sent.status_code in (200, 204), sent.text
    # Then the job runs the whole search and registers the model
    done = wait(http, headers, job["id"])
    assert done["status"] == "SUCCEEDED", done
    assert done["progress"] == {"candidates_done": 36, "candidates_total": 36}
    assert len(done["leaderboard"]) == 36 and done["leaderboard"][0]["rank"] == 1
    assert done["profile"]["dropped"] == ["constant", "empty"]
    assert done["registered"] == {"model": "churn", "version": 1}
    assert set(done["metrics"]) >= {"accuracy", "f1_macro", "roc_auc", "confusion_matrix"}
    # and the test-set accuracy is scikit-learn's own GridSearchCV's (same split, grid, seed)
    spec = build_spec(request, max_grid=500, max_runtime_s=3600)
    dataset = load_dataset(data, "churn", "classification", 5, Limits())
    held = split(dataset, spec)
    base = build_pipeline(dataset, Candidate(0, "random_forest", {}), spec)
    grid = {f"model__{k}": v for k, v in SEED_GRID.items()}
    search = GridSearchCV(base, grid, cv=5, n_jobs=-1).fit(held.x_train, held.y_train)
    assert abs(done["metrics"]["accuracy"] - search.score(held.x_test, held.y_test)) <= 0.01
    # and the model is in the catalog, READY, with its typed columns
    model = http.get("/v1/models/churn", headers=headers).json()
    assert model["task"] == "tabular-classification"
    assert model["versions"][0]["status"] == "READY"
    schema = model["versions"][0]["training"]["columns"]
    # and raw rows (objects with strings and missing values) predict like scikit-learn
    rows = [
        {"age": 70.0, "income": None, "city": "faro", "plan": "basic", "visits": 0,
         "region_code": "R03"},
        {"age": None, "city": None, "plan": "pro", "visits": 8},
        {"age": 33.0, "income": 18000.5, "city": "nowhere", "plan": "plus", "visits": 4,
         "region_code": "R77"},
    ]  # fmt: skip
    want = search.best_estimator_.predict(sklearn_rows(rows, schema)).tolist()
    answer = http.post("/v1/models/churn/predict", json={"inputs": rows}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert [o["label"] for o in answer.json()["outputs"]] == want
    # and through the Open Inference Protocol, one [1, 1] tensor per column (JSON has no NaN:
    # the row with every number present)
    tensors = [
        {"name": c["name"], "shape": [1, 1], "data": [rows[2][c["name"]]],
         "datatype": "FP32" if c["type"] == "number" else "BYTES"}
        for c in schema
    ]  # fmt: skip
    infer = http.post("/v2/models/churn/infer", json={"inputs": tensors}, headers=headers)
    assert infer.status_code == 200, infer.text
    labels = next(o for o in infer.json()["outputs"] if o["name"] == "label")["data"]
    assert labels == want[2:]
    # and in a batch job
    lines = [{"id": f"r{i}", "input": row} for i, row in enumerate(rows)]
    batch = wait_for_job(http, headers, submit(http, headers, "churn", jsonl(lines))["id"])
    assert batch["status"] == "SUCCEEDED", batch
    assert [r["output"]["label"] for r in output(batch)] == want
    # and it is explained with the training sample stored with the version
    explained = http.post("/v1/models/churn/explain", json={"inputs": rows[:1]}, headers=headers)
    assert explained.status_code == 200, explained.text
    (one,) = explained.json()["explanations"]
    total = one["base_value"] + sum(a["attribution"] for a in one["attributions"])
    assert total == pytest.approx(one["prediction"], rel=1e-4)
    # and a bad row is a 400 naming the column
    bad = http.post("/v1/models/churn/predict", json={"inputs": [{"age": "old"}]}, headers=headers)
    assert bad.status_code == 400 and "age" in bad.json()["error"]["message"]


def test_bad_requests_and_other_tenants_get_clear_errors(http: httpx.Client) -> None:
    alice, bob = new_account(http), new_account(http)
    a, b = headers_for(http, alice["token"]), headers_for(http, bob["token"])
    base = {"model": "m-x", "task": "classification", "target": "y"}
    for body, status, words in [
        (base | {"algorithms": ["xgboost"]}, 400, "unknown algorithm"),
        (base | {"algorithms": ["random_forest"], "param_grid": {"n_trees": [1]}}, 400,
         "no parameter 'n_trees'"),
        (base | {"task": "clustering"}, 400, "task"),
        (base | {"model": "iris-rf"}, 409, "belongs to another tenant"),
    ]:  # fmt: skip
        answer = http.post("/v1/training-jobs", json=body, headers=a)
        assert answer.status_code == status, answer.text
        assert words in answer.json()["error"]["message"]
    # a key without the training scope is refused
    no_scope = http.post("/v1/training-jobs", json=base, headers={"x-api-key": alice["key"]})
    assert no_scope.status_code == 403
    # a CSV without a header fails the job with the reason
    job = http.post("/v1/training-jobs", json=base, headers=a).json()
    form = job["upload"]
    httpx.post(form["url"], data=form["fields"], files={"file": ("d.csv", b"1,2,3\n4,5,6\n")})
    failed = wait(http, a, job["id"], timeout_s=120)
    assert failed["status"] == "FAILED" and "no header" in failed["reason"]
    # another tenant sees neither the job nor it in the list, and cannot cancel it
    assert http.get(f"/v1/training-jobs/{job['id']}", headers=b).status_code == 404
    assert http.delete(f"/v1/training-jobs/{job['id']}", headers=b).status_code == 404
    assert http.get("/v1/training-jobs", headers=b).json()["data"] == []
    listed = http.get("/v1/training-jobs", headers=a).json()["data"]
    assert [j["id"] for j in listed] == [job["id"]]
    # and cancelling a finished job is a conflict
    assert http.delete(f"/v1/training-jobs/{job['id']}", headers=a).status_code == 409
    # and an upload over the limit is refused by S3 itself (the presigned policy)
    big = http.post("/v1/training-jobs", json=base | {"model": "m-big"}, headers=a).json()
    form = big["upload"]
    blob = b"a,y\n" + b"1,x\n" * (form["max_bytes"] // 4 + 1)
    refused = httpx.post(form["url"], data=form["fields"], files={"file": ("big.csv", blob)})
    assert refused.status_code == 400 and b"EntityTooLarge" in refused.content
