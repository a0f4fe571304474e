"""Capture and drift over real HTTP on the local stack, as a model's owner: train a model on
a CSV, turn capture on, send traffic whose ``age`` is shifted, run the drift schedule (the
dev CLI's on-demand run), and read the report: ``age`` drifted, nothing else; a second window
drawn from the training distribution drifts nowhere. Another tenant sees nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from aiaas_dev.schedules import DEV_PATH
from aiaas_dev.stack import LocalStack
from tests.e2e.accounts import new_account
from tests.e2e.inprocess import in_process_stack
from tests.training_data import churn_rows, to_csv

pytestmark = pytest.mark.e2e
FEATURES = ["age", "income", "city", "plan", "visits", "region_code"]


@pytest.fixture(scope="module")
def stack(models_dir: Path) -> Iterator[LocalStack]:
    env = {"AIAAS_CATALOG_CACHE_SECONDS": "0", "AIAAS_CAPTURE_MAX_RECORDS": "1",
           "AIAAS_DRIFT_SETTLE_S": "0"}  # fmt: skip
    with in_process_stack(models_dir, env=env, schedules=False) as running:
        yield running


def train(http: httpx.Client, headers: dict[str, str]) -> None:
    request = {"model": "churn", "task": "classification", "target": "churn",
               "algorithms": ["logistic_regression"], "param_grid": {"C": [1.0]}, "cv": 3,
               "seed": 1}  # fmt: skip
    created = http.post("/v1/training-jobs", json=request, headers=headers)
    assert created.status_code == 202, created.text
    form = created.json()["upload"]
    data = to_csv(churn_rows(800, seed=2))
    sent = httpx.post(form["url"], data=form["fields"], files={"file": ("churn.csv", data)})
    assert sent.status_code in (200, 204), sent.text
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = http.get(f"/v1/training-jobs/{created.json()['id']}", headers=headers).json()
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert job["status"] == "SUCCEEDED", job
            return
        time.sleep(0.5)
    raise AssertionError("training did not finish")


def send(http: httpx.Client, headers: dict[str, str], rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 25):
        chunk = [{k: r[k] for k in FEATURES} for r in rows[start : start + 25]]
        answer = http.post("/v1/models/churn/predict", json={"inputs": chunk}, headers=headers)
        assert answer.status_code == 200, answer.text


def run_drift(stack: LocalStack) -> Any:
    root = "{0.scheme}://{0.netloc}".format(urlsplit(stack.base_url))
    answer = httpx.post(f"{root}{DEV_PATH}DriftFunction", timeout=300)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_shifted_feature_is_flagged_and_a_training_like_window_is_not(
    stack: LocalStack,
) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=60) as http:
        owner = new_account(http)
        alice = {"x-api-key": owner["key"]}
        bob = {"x-api-key": new_account(http)["key"]}
        train(http, {"authorization": f"Bearer {owner['token']}"})
        version = http.get("/v1/models/churn/versions/1", headers=alice).json()
        assert version["baseline"] == {"rows": None, "source": "training"}
        on = http.patch(
            "/v1/models/churn/versions/1", json={"capture": {"sample_percent": 100}}, headers=alice
        )
        assert on.status_code == 200, on.text
        # When the traffic's age is 25 years older than the training data's
        shifted = churn_rows(200, seed=21)
        for row in shifted:
            row["age"] = None if row["age"] is None else row["age"] + 25
        send(http, alice, shifted)
        assert run_drift(stack)["drifted"] == ["churn/1"]
        # Then the report flags age, and only age
        listed = http.get("/v1/models/churn/drift", headers=alice)
        assert listed.status_code == 200, listed.text
        (entry,) = listed.json()["data"]
        report = entry["report"]
        assert report["rows"] == 200 and report["drifted"] == ["age"]
        assert [v["feature_name"] for v in report["violations"]["violations"]] == ["age"]
        assert {f["name"] for f in report["features"]} == {"age", "income", "city", "plan",
                                                            "visits", "region_code"}  # fmt: skip
        # When the next window is drawn from the training distribution
        send(http, alice, churn_rows(200, seed=22))
        assert run_drift(stack)["drifted"] == []
        (entry,) = http.get("/v1/models/churn/drift", headers=alice).json()["data"]
        assert entry["report"]["drifted"] == [] and entry["report"]["rows"] == 200
        assert entry["report"]["window"]["start"] == report["window"]["end"]
        # and another tenant sees none of it, nor sets a baseline
        assert http.get("/v1/models/churn/drift", headers=bob).status_code == 404
        put = http.put("/v1/models/churn/versions/1/baseline", json={"rows": [{}]}, headers=bob)
        assert put.status_code == 404
        # and a bad baseline is a 400 that says why
        bad = http.put(
            "/v1/models/churn/versions/1/baseline", json={"from_captures": 0}, headers=alice
        )
        assert bad.status_code == 400 and "from_captures" in bad.text
        mine = http.put(
            "/v1/models/churn/versions/1/baseline", json={"from_captures": 100}, headers=alice
        )
        assert mine.status_code == 200, mine.text
        assert mine.json()["baseline"] == {"rows": 100, "source": "captures"}
