"""Every log line of a user's first session is JSON with its request's ids, and none holds a
password, an API key's secret, a login token or a request body (logging at DEBUG)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from aiaas.logs import JsonFormatter
from tests.conftest import ROOT
from tests.integration.conftest import load_function

pytestmark = pytest.mark.usefixtures("aws")
PASSWORD = "correct horse battery staple 91"
SECRET_TEXT = "my private diary entry, do not log 4f7c"


def event(name: str, **changes: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "events" / name).read_text())
    return loaded | changes


def test_a_session_logs_json_lines_without_secrets(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AIAAS_LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    auth, predict = load_function("auth"), load_function("predict")
    body = json.dumps({"email": "diary@example.com", "password": PASSWORD})
    assert auth.handler(event("auth-signup.json", body=body), None)["statusCode"] == 201
    login = auth.handler(event("auth-login.json", body=body), None)
    token = json.loads(login["body"])["access_token"]
    created = auth.handler(event("keys-create.json"), None)
    secret = json.loads(created["body"])["key"]
    texts = json.dumps({"inputs": [SECRET_TEXT]})
    assert predict.handler(event("predict-embedding.json", body=texts), None)["statusCode"] == 200
    bad = json.dumps({"inputs": [{"not": SECRET_TEXT}]})
    assert predict.handler(event("predict-embedding.json", body=bad), None)["statusCode"] == 400
    formatter = JsonFormatter("test")
    lines = [formatter.format(record) for record in caplog.records]
    assert lines, "the session logged nothing"
    for line in lines:
        entry = json.loads(line)
        assert {"level", "message", "timestamp", "service", "location"} <= set(entry)
        for secret_value in (PASSWORD, token, secret, SECRET_TEXT):
            assert secret_value not in line, line
