"""Data capture over real HTTP on the local stack: the owner turns it on for a version, its
requests and answers are downloadable as JSONL, another tenant can neither turn it on nor
list it, and a bad setting is a 400."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from aiaas_dev.stack import LocalStack
from tests.e2e.accounts import new_account
from tests.e2e.inprocess import in_process_stack
from tests.e2e.models import breast_cancer_onnx, register

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(models_dir: Path) -> Iterator[LocalStack]:
    env = {"AIAAS_CAPTURE_MAX_RECORDS": "1", "AIAAS_CATALOG_CACHE_SECONDS": "0"}
    with in_process_stack(models_dir, env=env) as running:
        yield running


def test_captured_requests_are_the_owners_to_download(stack: LocalStack) -> None:
    rows = np.asarray(load_breast_cancer().data[:2], dtype=float).tolist()
    with httpx.Client(base_url=stack.base_url, timeout=60) as http:
        alice = {"x-api-key": new_account(http)["key"]}
        bob = {"x-api-key": new_account(http)["key"]}
        assert register(http, alice, "cancer", breast_cancer_onnx())["status"] == "READY"
        on = {"capture": {"sample_percent": 100}}
        assert http.patch("/v1/models/cancer/versions/1", json=on, headers=bob).status_code == 404
        changed = http.patch("/v1/models/cancer/versions/1", json=on, headers=alice)
        assert changed.status_code == 200, changed.text
        assert changed.json()["capture"] == {"sample_percent": 100}
        for row in rows:
            answer = http.post("/v1/models/cancer/predict", json={"inputs": [row]}, headers=alice)
            assert answer.status_code == 200, answer.text
        listed = http.get("/v1/models/cancer/versions/1/captures", headers=alice)
        assert listed.status_code == 200, listed.text
        files = listed.json()["data"]
        assert len(files) == 2
        records = [json.loads(httpx.get(f["url"], timeout=30).content) for f in files]
        assert sorted(r["inputs"] for r in records) == sorted([row] for row in rows)
        assert all("label" in r["outputs"][0] for r in records)
        other = http.get("/v1/models/cancer/versions/1/captures", headers=bob)
        assert other.status_code == 404
        bad = http.patch(
            "/v1/models/cancer/versions/1", json={"capture": {"sample_percent": 250}}, headers=alice
        )
        assert bad.status_code == 400 and "sample_percent" in bad.text
