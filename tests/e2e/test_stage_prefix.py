"""Behind a named stage (`/prod`), as API Gateway serves it: Triton's client prefixes its paths."""

from __future__ import annotations

import os
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from tests.e2e.accounts import new_account

pytestmark = pytest.mark.e2e


def test_protocol_clients_work_under_a_stage_prefix(
    local_stack_factory: Callable[..., str],
) -> None:
    env = {"AIAAS_MODELS_DIR": os.environ["AIAAS_MODELS_DIR"]}
    base = local_stack_factory(env=env, extra_args=["--param", "StageName=prod"])
    assert base.endswith("/prod")
    with httpx.Client(base_url=base, timeout=30) as client:
        key = new_account(client)["key"]
        assert client.get("/v1/models", headers={"x-api-key": key}).status_code == 200
    parts = urlsplit(base)
    triton_client = triton.InferenceServerClient(url=f"{parts.netloc}{parts.path}")
    headers = {"x-api-key": key}
    assert triton_client.is_server_live()
    assert triton_client.get_model_metadata("iris-rf", headers=dict(headers))["name"] == "iris-rf"
    rows = triton.InferInput("float_input", [1, 4], "FP32")
    rows.set_data_from_numpy(np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float32))
    result = triton_client.infer("iris-rf", [rows], headers=dict(headers))
    assert result.as_numpy("label").tolist() == [0]
