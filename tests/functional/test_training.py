"""Training as a service on moto (DynamoDB, S3), SQS played by a list: the seed's exact grid
against scikit-learn's own GridSearchCV, regression on diabetes, served predictions on raw
rows, every bad input, duplicates, cancel, the search's limits and tenant isolation."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.errors import Conflict, InvalidInput, NotFound
from aiaas.registration.register import registrar_from
from aiaas.repositories.models import DynamoCatalog
from aiaas.repositories.weights import S3Weights
from aiaas.services import Services
from aiaas.settings import Settings
from aiaas.training.erasure import TrainingEraser
from aiaas.training.records import Candidate, TrainingJob
from aiaas.training.search import build_pipeline, split
from aiaas.training.table import Limits, load_dataset
from aiaas.training.worker import Trainer, WorkerConfig
from aiaas_runtime import PredictParams
from aiaas_runtime.explain import ExplainParams
from tests.aws import AwsResources
from tests.training_data import churn_rows, diabetes_csv, to_csv

ALICE = Principal("t-alice", "u-alice", "key", "k-alice", ALL_SCOPES)
BOB = Principal("t-bob", "u-bob", "key", "k-bob", ALL_SCOPES)
# The seed's grid shape at a tenth of its trees (the e2e test runs the seed's exact grid).
SMALL_GRID = {"n_estimators": [10, 30], "max_depth": [None, 4], "min_samples_split": [2, 10]}


@dataclass
class ListQueue:
    sent: list[str] = field(default_factory=list)

    def send(self, bodies: list[str]) -> None:
        self.sent.extend(bodies)


@dataclass
class Harness:
    aws: AwsResources
    services: Services
    queue: ListQueue
    trainer: Trainer
    now: list[float]

    def create(self, caller: Principal, **body: Any) -> tuple[TrainingJob, dict[str, Any]]:
        return self.services.training.create(caller, body)

    def upload(self, job: TrainingJob, data: bytes) -> str:
        s3 = self.aws.client("s3")
        s3.put_object(Bucket=self.aws.batch_bucket, Key=job.input_key, Body=data)
        return self.trainer.uploaded(job.input_key, len(data))

    def drain(self, receives: int = 1) -> list[str]:
        outcomes = []
        while self.queue.sent:
            body = self.queue.sent.pop(0)
            outcomes.append(self.trainer.handle(body, receives))
        return outcomes

    def register(self, job: TrainingJob) -> str:
        """What RegisterModelFunction does on the version's upload event."""
        assert job.registered_version is not None
        catalog = self.services.catalog
        version = catalog.store.get_version(job.tenant, job.spec.model, job.registered_version)
        assert version is not None
        store = DynamoCatalog(self.aws.client("dynamodb"), self.aws.models_table)
        weights = S3Weights(self.aws.client("s3"), self.aws.weights_bucket)
        return registrar_from(self.services.settings, store, weights).register(version.upload_key)

    def run(self, caller: Principal, data: bytes, **body: Any) -> TrainingJob:
        job, _ = self.create(caller, **body)
        self.upload(job, data)
        self.drain()
        job = self.services.training.get(caller, job.id)
        if job.status == "REGISTERING":
            self.register(job)
            job = self.services.training.get(caller, job.id)
        return job


@pytest.fixture
def harness(aws: AwsResources, models_dir: Path, tmp_path: Path) -> Harness:
    for caller in (ALICE, BOB):
        aws.put_key(caller.key_id, caller.tenant, caller.principal_id)
    settings = Settings(models_dir=models_dir, weights_cache_dir=tmp_path / "weights")
    services = Services(settings)
    queue = ListQueue()
    now = [1_800_000_000.0]
    trainer = Trainer(
        services.training_store,
        services.batch_files,
        queue,
        services.catalog,
        weights=S3Weights(aws.client("s3"), aws.weights_bucket),
        config=WorkerConfig(Limits(max_bytes=2_000_000, max_rows=5_000, max_columns=50)),
        clock=lambda: now[0],
    )
    return Harness(aws, services, queue, trainer, now)


def sklearn_rows(rows: list[dict[str, Any]], columns: list[dict[str, str]]) -> np.ndarray:
    """Raw objects as the pipeline's object array (what the served graph is given)."""
    x = np.empty((len(rows), len(columns)), dtype=object)
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            value = row.get(column["name"])
            if column["type"] == "number":
                x[i, j] = math.nan if value is None else float(value)
            else:
                x[i, j] = "" if value is None else str(value)
    return x


def test_a_grid_matches_gridsearchcv_and_the_model_serves_raw_rows(
    harness: Harness,
) -> None:
    # Given a table with numbers, categories, missing values, a constant and an empty column
    rows = churn_rows(260, seed=1)
    data = to_csv(rows)
    # When a RandomForest grid runs as a training job
    job = harness.run(
        ALICE, data, model="churn-rf", task="classification", target="churn",
        algorithms=["random_forest"], param_grid=SMALL_GRID, cv=5, seed=7,
    )  # fmt: skip
    # Then it succeeded, with the profile, the full leaderboard and the registered version
    assert job.status == "SUCCEEDED", job.reason
    public = job.public(harness.services.training.leaderboard(job))
    assert public["progress"] == {"candidates_done": 8, "candidates_total": 8}
    assert set(public["profile"]["dropped"]) == {"constant", "empty"}
    assert public["profile"]["class_balance"].keys() == {"yes", "no"}
    board = public["leaderboard"]
    assert len(board) == 8 and board[0]["rank"] == 1
    assert all(
        {"params", "cv_mean", "cv_std", "fit_time_s", "predict_ms_per_row"} <= set(r) for r in board
    )
    assert public["registered"] == {"model": "churn-rf", "version": 1}
    metrics = public["metrics"]
    assert {"accuracy", "f1_macro", "roc_auc", "log_loss", "confusion_matrix"} <= set(metrics)
    assert {e["feature"] for e in public["feature_importance"]} == {
        "age", "income", "city", "plan", "visits", "region_code",
    }  # fmt: skip
    # and scikit-learn's own GridSearchCV on the same split, grid and seed gets the same accuracy
    dataset = load_dataset(data, "churn", "classification", 5, Limits())
    held = split(dataset, job.spec)
    base = build_pipeline(dataset, Candidate(0, "random_forest", {}), job.spec)
    grid = {f"model__{k}": v for k, v in SMALL_GRID.items()}
    search = GridSearchCV(base, grid, cv=5, n_jobs=1).fit(held.x_train, held.y_train)
    theirs = search.best_estimator_.score(held.x_test, held.y_test)
    assert abs(metrics["accuracy"] - theirs) <= 0.01
    assert {f"model__{k}": v for k, v in job.best["params"].items()} == search.best_params_
    # and the served model answers raw rows (objects with strings and missing values) like
    # the scikit-learn pipeline does
    asked = [
        {"age": 61.0, "income": None, "city": "faro", "plan": "basic", "visits": 1,
         "region_code": "R07"},
        {"age": None, "income": 30000.0, "city": None, "plan": "pro", "visits": 9,
         "region_code": "R99"},
        {"age": 30.5, "city": "atlantis", "plan": "plus", "visits": 3},
    ]  # fmt: skip
    served = harness.services.predictions.predict(ALICE, "churn-rf", asked, PredictParams(top_k=2))
    columns = job.public()["profile"]["columns"]
    schema = [{"name": c["name"], "type": c["type"]} for c in columns if "dropped" not in c]
    want = search.best_estimator_.predict(sklearn_rows(asked, schema))
    assert [o["label"] for o in served.outputs] == list(want)
    proba = search.best_estimator_.predict_proba(sklearn_rows(asked, schema))
    got = [[o["probabilities"][c] for c in search.best_estimator_.classes_] for o in served.outputs]
    assert np.allclose(got, proba, atol=1e-5)
    # and arrays in column order, with null for a missing value, work too
    as_array = [[61.0, None, "faro", "basic", 1, "R07"]]
    assert (
        harness.services.predictions.predict(ALICE, "churn-rf", as_array).outputs[0]["label"]
        == want[0]
    )
    # and a wrong column or type is a 400 naming it
    with pytest.raises(InvalidInput, match="unknown columns"):
        harness.services.predictions.predict(ALICE, "churn-rf", [{"colour": "red"}])
    with pytest.raises(InvalidInput, match="age must be a number"):
        harness.services.predictions.predict(ALICE, "churn-rf", [{"age": "old"}])
    # and the version carries the schema, labels, metrics, background and baseline
    version = harness.services.catalog.version(harness.services.catalog.owned(ALICE, "churn-rf"), 1)
    assert version.training["columns"] == schema
    assert version.training["labels"] == ["no", "yes"]
    assert version.quality["parity"]["passed"] and version.quality["parity"]["rows"] == 52
    s3 = harness.aws.client("s3")
    bucket = harness.aws.weights_bucket
    background = json.loads(
        s3.get_object(Bucket=bucket, Key="t-alice/churn-rf/1/background.json")["Body"].read()
    )
    baseline = json.loads(
        s3.get_object(Bucket=bucket, Key="t-alice/churn-rf/1/baseline.json")["Body"].read()
    )
    assert len(background["rows"]) == 200 and background["columns"] == schema
    assert {c["name"] for c in baseline["columns"]} == {c["name"] for c in schema}
    # and its explanations use the training sample stored with the version, and add up
    explained = harness.services.predictions.explain(ALICE, "churn-rf", asked[:1], ExplainParams())
    (one,) = explained.outputs
    assert one["method"] == "exact_shapley" and len(one["attributions"]) == 6
    total = one["base_value"] + sum(a["attribution"] for a in one["attributions"])
    assert total == pytest.approx(one["prediction"], rel=1e-4)
    assert one["prediction"] == pytest.approx(served.outputs[0]["probabilities"][one["target"]])
    # and its global explanations carry the held-out permutation importance
    (overall,) = harness.services.predictions.global_explanation(ALICE, "churn-rf", 1).outputs
    assert overall["permutation_importance"] == public["feature_importance"]
    assert len(overall["shapley"]["features"]) == 6
    # and another tenant neither sees the job nor the model
    with pytest.raises(NotFound):
        harness.services.training.get(BOB, job.id)
    assert harness.services.training.page(BOB, 10, None)[0] == []
    with pytest.raises(NotFound):
        harness.services.predictions.predict(BOB, "churn-rf", asked)


def test_regression_on_diabetes_reports_the_r2_scikit_learn_gets(harness: Harness) -> None:
    grid = {
        "ridge": {"alpha": [0.01, 0.1, 1.0]},
        "random_forest": {"n_estimators": [50], "max_depth": [4]},
    }
    job = harness.run(
        ALICE, diabetes_csv(), model="diabetes", task="regression", target="progression",
        algorithms=["ridge", "random_forest"], param_grid=grid, seed=3,
    )  # fmt: skip
    assert job.status == "SUCCEEDED", job.reason
    assert job.spec.metric == "r2" and set(job.metrics) >= {"rmse", "mae", "r2"}
    # scikit-learn's own search over the same candidates, on the same split
    dataset = load_dataset(diabetes_csv(), "progression", "regression", 5, Limits())
    held = split(dataset, job.spec)
    best = Candidate(0, job.best["algorithm"], job.best["params"])
    pipe = build_pipeline(dataset, best, job.spec)
    space = {f"model__{k}": [v] for k, v in job.best["params"].items()} or {}
    search = GridSearchCV(pipe, space, cv=5, scoring="r2").fit(held.x_train, held.y_train)
    assert job.metrics["r2"] == pytest.approx(search.score(held.x_test, held.y_test), abs=1e-6)
    # the best is the best of every candidate's CV mean
    board = harness.services.training.leaderboard(job)
    assert board[0]["cv_mean"] == max(r["cv_mean"] for r in board)
    # served values match the pipeline's within 1e-4 relative
    rows = [
        dict(zip([c.name for c in dataset.features], map(float, held.x_test[i]), strict=True))
        for i in range(5)
    ]
    got = [
        o["value"] for o in harness.services.predictions.predict(ALICE, "diabetes", rows).outputs
    ]
    want = search.predict(held.x_test[:5])
    assert np.allclose(got, want, rtol=1e-4)


@pytest.mark.parametrize(
    ("data", "body", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}, "not CSV"),
        (b"1.0,2.0,0\n3.0,4.0,1\n", {}, "no header"),
        (to_csv(churn_rows(40)), {"target": "label"}, "target column 'label' is not in the header"),
        (b"a,y\n1,x\n2,x\n3,x\n4,x\n5,x\n6,x\n", {"target": "y"}, "one class only"),
        (b"a,y\n1,x\n2,z\n3,x\n4,z\n", {"target": "y"}, "fewer than cv (5) x classes (2)"),
        (b"a,y\n1,\n2,NA\n3,\n", {"target": "y"}, "missing in every row"),
        (b"a,y\n1,big\n2,small\n" * 10, {"target": "y", "task": "regression"}, "not numeric"),
        (b"a;b;y\n1;2;x\n", {"target": "y"}, "first row has one cell"),
        (b"", {}, "empty"),
    ],
)
def test_a_bad_dataset_fails_the_job_with_a_reason_naming_it(
    harness: Harness, data: bytes, body: dict[str, Any], reason: str
) -> None:
    request = {"model": "bad-data", "task": "classification", "target": "churn"} | body
    job = harness.run(ALICE, data, **request)
    assert job.status == "FAILED"
    assert reason in job.reason
    # and nothing was registered
    assert harness.services.catalog.store.get_model(ALICE.tenant, "bad-data") is None


def test_a_dataset_over_the_size_limit_fails_at_its_upload(harness: Harness) -> None:
    job, upload = harness.create(ALICE, model="big", task="classification", target="churn")
    assert upload["max_bytes"] == harness.services.settings.training_max_bytes
    outcome = harness.trainer.uploaded(job.input_key, 3_000_000)
    assert "FAILED" in outcome
    failed = harness.services.training.get(ALICE, job.id)
    assert failed.status == "FAILED" and "at most 2000000 bytes" in failed.reason


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"algorithms": ["xgboost"]}, "unknown algorithm 'xgboost'"),
        ({"algorithms": ["ridge"]}, "ridge is not a classification algorithm"),
        ({"algorithms": ["random_forest"], "param_grid": {"n_trees": [1]}},
         "no parameter 'n_trees'"),
        ({"algorithms": ["random_forest"], "param_grid": {"max_depth": ["deep"]}},
         "must be an integer"),
        ({"param_grid": {"n_estimators": [100]}}, "needs exactly one algorithm"),
        ({"algorithms": ["knn"], "param_grid": {"n_neighbors": list(range(1, 101)), "p": [1, 2],
                                                "weights": ["uniform", "distance"]}},
         "400 candidates; the limit is"),
        ({"metric": "r2"}, "not a classification metric"),
    ],
)  # fmt: skip
def test_a_bad_request_is_refused_before_any_upload(
    harness: Harness, body: dict[str, Any], message: str
) -> None:
    settings = harness.services.settings.model_copy(update={"training_max_grid": 100})
    with pytest.raises(InvalidInput, match=message):
        Services(settings).training.create(
            ALICE, {"model": "x-model", "task": "classification", "target": "churn"} | body
        )


def test_a_model_name_of_another_tenant_or_another_task_is_a_conflict(harness: Harness) -> None:
    harness.services.catalog.seed_builtins(harness.services.layer.manifests().values())
    with pytest.raises(Conflict, match="belongs to another tenant"):
        harness.create(ALICE, model="iris-rf", task="classification", target="species")
    harness.services.catalog.create(
        ALICE, name="my-embedder", task="embedding", description="", visibility="private",
        runtime="cpu",
    )  # fmt: skip
    with pytest.raises(Conflict, match="has task embedding"):
        harness.create(ALICE, model="my-embedder", task="classification", target="y")


def test_duplicate_deliveries_change_nothing_and_cancel_stops_the_search(
    harness: Harness,
) -> None:
    data = to_csv(churn_rows(120))
    grid = {"random_forest": {"n_estimators": [5, 10, 20]}}
    job, _ = harness.create(ALICE, model="dup", task="classification", target="churn",
                            algorithms=["random_forest"], param_grid=grid)  # fmt: skip
    assert harness.upload(job, data).endswith("QUEUED")
    assert harness.trainer.uploaded(job.input_key, len(data)).startswith("skip")  # S3 replay
    profile = harness.queue.sent.pop(0)
    harness.trainer.handle(profile)
    assert harness.trainer.handle(profile).startswith("skip")  # SQS replay
    first = harness.queue.sent[0]
    harness.trainer.handle(first)
    harness.trainer.handle(first)  # the same candidate again
    assert harness.services.training.get(ALICE, job.id).candidates_done == 1
    # When the job is cancelled mid-search
    cancelled = harness.services.training.cancel(ALICE, job.id)
    assert cancelled.status == "CANCELLED"
    # Then the rest of the messages change nothing, and a second cancel is a conflict
    assert all(o.startswith("skip") for o in harness.drain())
    assert harness.services.training.get(ALICE, job.id).candidates_done == 1
    with pytest.raises(Conflict, match="CANCELLED"):
        harness.services.training.cancel(ALICE, job.id)
    with pytest.raises(NotFound):
        harness.services.training.cancel(BOB, job.id)


def test_max_candidates_samples_the_grid_and_max_runtime_stops_it_early(harness: Harness) -> None:
    data = to_csv(churn_rows(120))
    grid = {"logistic_regression": {"C": [0.01, 0.1, 1.0, 10.0, 100.0]}}
    job, _ = harness.create(ALICE, model="sampled", task="classification", target="churn",
                            algorithms=["logistic_regression"], param_grid=grid, max_candidates=3,
                            max_runtime_s=60)  # fmt: skip
    assert job.candidates_total == 3
    harness.upload(job, data)
    harness.trainer.handle(harness.queue.sent.pop(0))  # profile
    harness.trainer.handle(harness.queue.sent.pop(0))  # one candidate in time
    harness.now[0] += 120  # then the search runs out of time
    harness.drain()
    done = harness.services.training.get(ALICE, job.id)
    assert done.status == "REGISTERING", done.reason
    board = harness.services.training.leaderboard(done)
    assert [r["rank"] for r in board] == [1, None, None]
    assert all(r.get("skipped") == "max_runtime_s reached" for r in board[1:])
    assert done.best["index"] == board[0]["index"]


def test_a_step_that_keeps_failing_fails_the_job_on_its_last_delivery(harness: Harness) -> None:
    job, _ = harness.create(ALICE, model="flaky", task="classification", target="churn")
    harness.upload(job, to_csv(churn_rows(60)))
    profile = harness.queue.sent.pop(0)
    harness.aws.client("s3").delete_object(Bucket=harness.aws.batch_bucket, Key=job.input_key)
    with pytest.raises(Exception):  # noqa: B017 - the dataset is gone: SQS retries
        harness.trainer.handle(profile, receives=1)
    assert "FAILED" in harness.trainer.handle(profile, receives=3)
    failed = harness.services.training.get(ALICE, job.id)
    assert failed.status == "FAILED" and "internal error" in failed.reason


def test_deleting_an_account_erases_its_training_jobs_and_datasets(harness: Harness) -> None:
    running, _ = harness.create(ALICE, model="gone", task="classification", target="churn")
    harness.upload(running, to_csv(churn_rows(60)))
    kept, _ = harness.create(BOB, model="kept", task="classification", target="churn")
    eraser = TrainingEraser(harness.services.training_store, harness.services.batch_files)
    assert eraser.erase_tenant(ALICE.tenant) == (1, 1)
    with pytest.raises(NotFound):
        harness.services.training.get(ALICE, running.id)
    listed = harness.aws.client("s3").list_objects_v2(
        Bucket=harness.aws.batch_bucket, Prefix="training/"
    )
    assert listed.get("KeyCount", 0) == 0
    assert harness.drain() == [f"skip {running.id}: no such job"]  # its queued step
    assert harness.services.training.get(BOB, kept.id).status == "PENDING_UPLOAD"


def test_an_export_that_disagrees_with_scikit_learn_fails_the_job_with_the_numbers(
    harness: Harness,
) -> None:
    job, _ = harness.create(ALICE, model="drifted", task="classification", target="churn",
                            algorithms=["logistic_regression"])  # fmt: skip
    harness.upload(job, to_csv(churn_rows(100)))
    harness.drain()
    job = harness.services.training.get(ALICE, job.id)
    assert job.status == "REGISTERING"
    # scikit-learn's recorded answers no longer match the graph (as a broken converter would)
    version = harness.services.catalog.store.get_version(ALICE.tenant, "drifted", 1)
    assert version is not None
    key = version.upload_key.rsplit("/", 1)[0] + "/parity.json"
    s3 = harness.aws.client("s3")
    doc = json.loads(s3.get_object(Bucket=harness.aws.weights_bucket, Key=key)["Body"].read())
    doc["expected"] = ["no" if v == "yes" else "yes" for v in doc["expected"]]
    s3.put_object(Bucket=harness.aws.weights_bucket, Key=key, Body=json.dumps(doc).encode())
    assert harness.register(job) == "FAILED"
    failed = harness.services.training.get(ALICE, job.id)
    assert failed.status == "FAILED"
    assert "registration failed: the ONNX export agrees with the source model on" in failed.reason
    assert "at least 99.5% is needed" in failed.reason
    # and the leaderboard is stored beside the version
    assert version.training["leaderboard"].endswith("/drifted/1/leaderboard.json")
