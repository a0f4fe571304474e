"""Handlers invoked as Lambda invokes them: ``handler(event, context)``."""

from __future__ import annotations

import gc
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aiaas_dev.events import build_event
from tests.aws import AwsResources
from tests.conftest import ROOT

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers read."""

    function_name: str = "PredictFunction"
    memory_limit_in_mb: int = 2048
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:PredictFunction"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def load_function(name: str) -> ModuleType:
    """Import ``functions/<name>/app.py`` as Lambda does (by file, as module ``app``)."""
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"aiaas_function_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gc.unfreeze()  # app.py froze the objects of its init (aiaas.coldstart); tests go on
    return module


# The caller every guarded event carries, as the authorizer would put it (all scopes).
CALLER: dict[str, Any] = {
    "tenant": "tnt_0123456789abcdef",
    "principal": "usr_0123456789abcdef",
    "kind": "key",
    "key_id": "abcdefghijklmnop",
    "scopes": "batch keys:manage models:read models:write predict",
    "daily_quota": 0,
}


@pytest.fixture
def predict_handler(aws: AwsResources) -> Handler:
    """A fresh cold start of PredictFunction (its services built from this test's moto)."""
    handler: Handler = load_function("predict").handler
    return handler


@pytest.fixture
def auth_handler(aws: AwsResources) -> Handler:
    """A fresh cold start of AuthFunction."""
    handler: Handler = load_function("auth").handler
    return handler


@pytest.fixture
def authorizer_handler(aws: AwsResources) -> Handler:
    """A fresh cold start of AuthorizerFunction."""
    handler: Handler = load_function("authorizer").handler
    return handler


def invoke(handler: Handler, event: dict[str, Any]) -> tuple[int, dict[str, Any], Any]:
    """Call a handler; return status, headers and the decoded JSON body."""
    response = handler(event, LambdaContext())
    assert not response.get("isBase64Encoded"), "JSON responses travel as text"
    return response["statusCode"], response["headers"], json.loads(response["body"])


def http_event(
    method: str,
    path: str,
    route_key: str,
    body: bytes = b"",
    content_type: str | None = "application/json",
    path_parameters: dict[str, str] | None = None,
    caller: dict[str, Any] | None = CALLER,
    query: str = "",
) -> dict[str, Any]:
    """An HTTP API event for a request, as API Gateway would build it (authorized as caller)."""
    headers = {"content-type": content_type} if content_type else {}
    event = build_event(
        method, path, headers=headers, body=body, route_key=route_key,
        path_parameters=path_parameters, raw_query_string=query,
    )  # fmt: skip
    if caller is not None:
        event["requestContext"]["authorizer"] = {"lambda": caller}
    return event


def event_file(name: str) -> dict[str, Any]:
    """An event from ``events/`` (the same files ``sam local invoke -e`` uses)."""
    event: dict[str, Any] = json.loads((Path(ROOT) / "events" / name).read_text())
    return event
