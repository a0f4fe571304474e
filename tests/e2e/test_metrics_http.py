"""Per-model metrics over real HTTP on the local stack: a tenant's mixed successes and 400s
come back from ``GET /v1/models/{name}/metrics`` as exact counts, with percentiles within the
stated bucket error of the latencies the handler measured (its EMF lines, in the stack's
output); another tenant sees none of them."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from tests.e2e.accounts import new_account
from tests.e2e.conftest import RUNNING

pytestmark = pytest.mark.e2e
GOOD = {"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}


def handler_latencies(local_stack: str, tenant: str) -> list[float]:
    lines = [json.loads(line) for line in RUNNING[local_stack].lines if line.startswith('{"_aws"')]
    return sorted(
        line["LatencyMs"]
        for line in lines
        if line.get("tenant") == tenant and line.get("model") == "iris-rf"
        and line.get("route") == "predict"
    )  # fmt: skip


def test_exact_counts_and_bounded_percentiles_for_the_caller_only(
    http: httpx.Client, local_stack: str
) -> None:
    mine, theirs = new_account(http), new_account(http)
    key = {"x-api-key": mine["key"]}
    statuses = [
        http.post(
            "/v1/models/iris-rf/predict", json=GOOD if i % 3 else {"inputs": [[1]]}, headers=key
        ).status_code
        for i in range(15)
    ]
    assert statuses.count(200) == 10 and statuses.count(400) == 5
    answer = http.get("/v1/models/iris-rf/metrics?granularity=day", headers=key)
    assert answer.status_code == 200, answer.text
    total = answer.json()["total"]
    assert (total["requests"], total["rows"]) == (15, 20)
    assert total["errors"] == {"400": 5} and total["statuses"] == {"200": 10, "400": 5}
    latencies = handler_latencies(local_stack, mine["tenant"])
    assert len(latencies) == 15
    bound = total["latency_ms"]["relative_error"]
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        measured = latencies[math.ceil(q * len(latencies)) - 1]
        assert abs(total["latency_ms"][name] - measured) <= bound * measured + 1e-3
    other = http.get(
        "/v1/models/iris-rf/metrics?granularity=day", headers={"x-api-key": theirs["key"]}
    )
    assert other.status_code == 200 and other.json()["total"]["requests"] == 0
