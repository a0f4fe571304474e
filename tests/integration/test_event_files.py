"""Every file in events/ drives its function as `sam local invoke -e` would: no 5xx, JSON out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiaas_dev.cfn import load_yaml
from tests.conftest import ROOT
from tests.integration.conftest import load_function

pytestmark = pytest.mark.usefixtures("aws")


def route_functions() -> dict[str, str]:
    """``"METHOD /path"`` -> the function's CodeUri folder name, from template.yaml."""
    routes = {}
    for resource in load_yaml(ROOT / "template.yaml")["Resources"].values():
        props = resource.get("Properties", {})
        for event in (props.get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                key = f"{event['Properties']['Method']} {event['Properties']['Path']}"
                routes[key] = Path(props["CodeUri"]).name
    return routes


HTTP_EVENTS = sorted(
    p.name
    for p in (ROOT / "events").glob("*.json")
    if "routeKey" in json.loads(p.read_text()) and "type" not in json.loads(p.read_text())
)


@pytest.mark.parametrize("name", HTTP_EVENTS)
def test_http_event_is_answered_without_a_server_error(name: str) -> None:
    event = json.loads((ROOT / "events" / name).read_text())
    function = route_functions()[event["routeKey"]]
    response = load_function(function).handler(event, None)
    assert response["statusCode"] < 500, response
    if response.get("body"):
        json.loads(response["body"])


def test_s3_event_reaches_registration() -> None:
    event = json.loads((ROOT / "events" / "s3-model-upload.json").read_text())
    outcome = load_function("register").handler(event, None)
    key = "uploads/tnt_0123456789abcdef/wine-lr/1/model.onnx"
    assert outcome == {"outcomes": {key: "SKIPPED"}}  # no such pending version in this moto


def test_authorizer_event_is_decided() -> None:
    event = json.loads((ROOT / "events" / "authorizer-request.json").read_text())
    assert load_function("authorizer").handler(event, None) == {"isAuthorized": False}


def test_s3_batch_events_reach_the_splitter() -> None:
    load_function("catalog")  # its cold start seeds the built-ins the splitter checks
    split = load_function("batch_split").handler
    upload = json.loads((ROOT / "events" / "s3-batch-upload.json").read_text())
    key = "uploads/batch_0123456789abcdef01234567.jsonl"
    assert split(upload, None) == {"outcomes": {key: "ignored: no job expects this upload"}}
    inbox = json.loads((ROOT / "events" / "s3-batch-inbox.json").read_text())
    outcome = split(inbox, None)["outcomes"]["inbox/iris-rf/2026-11-23/flowers.csv"]
    assert "the input file is gone" in outcome  # the event names a file this moto lacks


def test_sqs_batch_event_gets_a_partial_batch_response() -> None:
    event = json.loads((ROOT / "events" / "sqs-batch-chunk.json").read_text())
    response = load_function("batch").handler(event, None)
    assert response == {"batchItemFailures": []}  # no such job: nothing to retry
