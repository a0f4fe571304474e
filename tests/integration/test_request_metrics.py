"""EMF lines of the predict function: one per model request, with the dimensions model,
version and route, the metrics the dashboard reads, tenant and key as properties only, and
the shape Powertools Metrics writes."""

from __future__ import annotations

import io
import json
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
