"""``serve --state DIR`` (issue #19 item 18): accounts, keys, tokens, registered models and
their weights survive a restart of the local stack; without it, nothing does."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.accounts import PASSWORD, new_account
from tests.e2e.conftest import RunningStack, start_stack
from tests.e2e.models import breast_cancer_onnx, register

pytestmark = pytest.mark.e2e

ROWS = {"inputs": [[0.0] * 30]}


def stop(stack: RunningStack) -> str:
    """SIGTERM (a clean stop, when the state is saved); what the stack printed."""
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(timeout=60) == 0, stack.output()[-3000:]
    return stack.output()


def test_the_state_survives_a_restart(models_dir: Path, tmp_path: Path) -> None:
    env, state = {"AIAAS_MODELS_DIR": str(models_dir)}, tmp_path / "state"
    first = start_stack(env=env, extra_args=["--state", str(state)])
    try:
        assert first.base_url is not None
        with httpx.Client(base_url=first.base_url, timeout=60) as http:
            account = new_account(http)
            headers = {"x-api-key": account["key"]}
            assert register(http, headers, "kept-lr", breast_cancer_onnx())["status"] == "READY"
            before = http.post("/v1/models/kept-lr/predict", json=ROWS, headers=headers).json()
    finally:
        output = stop(first) if first.process.poll() is None else first.output()
    assert "state saved to" in output and (state / "state.json").is_file()

    second = start_stack(env=env, extra_args=["--state", str(state)])
    try:
        assert second.base_url is not None and second.base_url != first.base_url
        with httpx.Client(base_url=second.base_url, timeout=60) as http:
            # the key, the login token (the signing secret came back), the password
            after = http.post("/v1/models/kept-lr/predict", json=ROWS, headers=headers)
            assert after.status_code == 200, after.text
            assert after.json()["outputs"] == before["outputs"]  # the weights, from S3
            token = {"authorization": f"Bearer {account['token']}"}
            assert http.get("/v1/keys", headers=token).json()["data"][0]["id"] == account["key_id"]
            login = {"email": account["email"], "password": PASSWORD}
            assert http.post("/v1/auth/login", json=login).status_code == 200
            # the built-ins are there once, not seeded twice
            listed = http.get("/v1/models", headers=headers).json()["data"]
            names = [m["id"] for m in listed]
            assert names.count("iris-rf") == 1 and "kept-lr" in names
    finally:
        stop(second) if second.process.poll() is None else None

    third = start_stack(env=env)  # no --state: a fresh, empty moto
    try:
        assert third.base_url is not None
        with httpx.Client(base_url=third.base_url, timeout=60) as http:
            refused = http.post("/v1/models/kept-lr/predict", json=ROWS, headers=headers)
            assert refused.status_code in (401, 403)
    finally:
        third.stop()
