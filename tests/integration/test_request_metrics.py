"""EMF lines of the predict function: one per model request, with the dimensions model,
version and route, the metrics the dashboard reads, tenant and key as properties only, and
the shape Powertools Metrics writes."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest

from aiaas.metrics import MetricsWriter, emf_document
from tests.integration.conftest import load_function

pytestmark = pytest.mark.usefixtures("aws")


def invoke(handler: Any, event: dict[str, Any], path: str, body: dict[str, Any]) -> int:
    event = json.loads(json.dumps(event))
    name = path.split("/")[3]
    event |= {"rawPath": path, "routeKey": "POST /v1/models/{name}/predict",
              "body": json.dumps(body), "pathParameters": {"name": name}}  # fmt: skip
    event["requestContext"]["http"]["path"] = path
    return int(handler(event, None)["statusCode"])


def test_each_model_request_writes_one_emf_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import ROOT  # noqa: PLC0415

    predict = load_function("predict")
    event = json.loads((ROOT / "events" / "predict-tabular.json").read_text())
    capsys.readouterr()
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    statuses = [
        invoke(predict.handler, event, "/v1/models/iris-rf/predict", {"inputs": rows}),
        invoke(predict.handler, event, "/v1/models/iris-rf/predict", {"inputs": [[1, 2]]}),
        invoke(predict.handler, event, "/v1/models/nope/predict", {"inputs": [[1, 2, 3, 4]]}),
    ]  # fmt: skip
    assert statuses == [200, 400, 404]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(lines) == 3
    ok, bad, missing = lines
    spec = ok["_aws"]["CloudWatchMetrics"][0]
    assert spec["Namespace"] == "aiaas"
    assert spec["Dimensions"] == [["model", "version", "route"], ["route"]]
    assert (ok["model"], ok["version"], ok["route"]) == ("iris-rf", "1", "predict")
    assert (ok["Requests"], ok["Errors"], ok["Predictions"], ok["BatchSize"]) == (1, 0, 2, 2)
    assert ok["LatencyMs"] >= ok["InferenceMs"] > 0
    assert ok["tenant"] == "tnt_0123456789abcdef" and ok["key_id"] == "abcdefghijklmnop"
    assert "tenant" not in spec["Dimensions"][0]  # a property, never a dimension
    assert (bad["Errors"], bad["Errors.invalid_input"], bad["status"]) == (1, 1, 400)
    assert (missing["Errors.not_found"], missing["model"]) == (1, "nope")
    assert "Predictions" not in bad


def test_the_document_has_powertools_shape() -> None:
    from aws_lambda_powertools import Metrics  # noqa: PLC0415
    from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415

    metrics = Metrics(namespace="aiaas")
    metrics.add_dimension("model", "iris-rf")
    metrics.add_metric("Requests", MetricUnit.Count, 1)
    theirs = metrics.serialize_metric_set()
    ours = emf_document({"Requests": (1, "Count")}, {"model": "iris-rf"})
    for doc in (theirs, ours):
        doc["_aws"]["Timestamp"] = 0
    theirs["Requests"] = theirs["Requests"][0]  # Powertools writes a list of values; EMF takes
    assert ours == theirs  # a number as well
    stream = io.StringIO()
    writer = MetricsWriter(stream)
    writer.emit({"Requests": (1, "Count")}, {"model": "m"})
    writer.emit({"Requests": (1, "Count")}, {"model": "m"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["ColdStart"] == 1 and "ColdStart" not in second


def test_the_owner_reads_exact_counts_and_percentiles_within_their_bound(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aiaas.serving import observations  # noqa: PLC0415
    from tests.conftest import ROOT  # noqa: PLC0415

    predict, catalog = load_function("predict"), load_function("catalog")
    event = json.loads((ROOT / "events" / "predict-tabular.json").read_text())
    observations.note([{"label": "stale"}] * 20)  # a prediction outside any request
    good = {"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.0, 3.4, 1.5, 0.2]]}
    path = "/v1/models/iris-rf/predict"
    statuses = [
        invoke(predict.handler, event, path, good if i % 3 else {"inputs": [[1]]})
        for i in range(12)
    ]
    assert statuses.count(200) == 8 and statuses.count(400) == 4
    latencies = sorted(
        json.loads(line)["LatencyMs"]
        for line in capsys.readouterr().out.splitlines()
        if '"_aws"' in line
    )
    get = json.loads((ROOT / "events" / "catalog-get-model.json").read_text())
    get |= {"rawPath": "/v1/models/iris-rf/metrics", "routeKey": "GET /v1/models/{name}/metrics",
            "pathParameters": {"name": "iris-rf"}, "rawQueryString": "granularity=day"}  # fmt: skip
    get["requestContext"]["http"]["path"] = "/v1/models/iris-rf/metrics"
    get["queryStringParameters"] = {"granularity": "day"}
    answer = catalog.handler(get, None)
    assert answer["statusCode"] == 200, answer["body"]
    report = json.loads(answer["body"])
    total = report["total"]
    assert (total["requests"], total["rows"]) == (12, 24)
    assert total["errors"] == {"400": 4} and total["statuses"] == {"200": 8, "400": 4}
    assert sum(total["classes"].values()) == 24 and 0 < total["mean_top_score"] <= 1
    bound = total["latency_ms"]["relative_error"]
    # each percentile is within the stated bound of the measured latency at its rank
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        measured = latencies[math.ceil(q * len(latencies)) - 1]
        assert abs(total["latency_ms"][name] - measured) <= bound * measured + 1e-3
    assert len(report["data"]) == 1 and report["granularity"] == "day"
    # another tenant sees none of these calls
    other = json.loads(json.dumps(get))
    other["requestContext"]["authorizer"]["lambda"]["tenant"] = "tnt_someoneelse00000"
    theirs = json.loads(catalog.handler(other, None)["body"])
    assert theirs["total"]["requests"] == 0
