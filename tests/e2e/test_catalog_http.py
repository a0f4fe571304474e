"""The catalog over real HTTP: a user registers a fresh model by presigned upload; the
OpenAI client lists models and Triton's Open Inference Protocol client reads metadata."""

from __future__ import annotations

from urllib.parse import urlsplit

import boto3
import httpx
import numpy as np
import openai as openai_errors
import pytest
import tritonclient.http as triton
from openai import OpenAI
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.e2e.accounts import new_account
from tests.e2e.models import breast_cancer_onnx, register, wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(local_stack: str) -> httpx.Client:
    with httpx.Client(base_url=local_stack, timeout=30) as client:
        yield client


def test_a_user_registers_a_fresh_model_and_only_their_tenant_sees_it(
    client: httpx.Client,
) -> None:
    owner, other = new_account(client), new_account(client)
    headers = {"x-api-key": owner["key"]}
    created = client.post(
        "/v1/models",
        headers=headers,
        json={
            "name": "breast-cancer-lr",
            "task": "tabular-classification",
            "description": "logistic regression, 30 features",
        },
    )
    assert created.status_code == 201, created.text
    version = client.post("/v1/models/breast-cancer-lr/versions", headers=headers).json()
    assert version["status"] == "PENDING_UPLOAD" and version["upload"]["max_bytes"] > 0
    # plain HTTP to the presigned POST, no SDK
    form = version["upload"]
    uploaded = httpx.post(
        form["url"], data=form["fields"], files={"file": ("model.onnx", breast_cancer_onnx())}
    )
    assert uploaded.status_code in (200, 204), uploaded.text
    ready = wait_for_status(client, headers, "breast-cancer-lr", version["version"])
    assert ready["status"] == "READY", ready
    assert ready["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 30]}]
    assert ready["quality"]["int8"]["reason"] and ready["latency"]["p50_ms"]["1"] > 0
    assert ready["latency"]["cost_per_million_usd"] > 0
    listed = client.get("/v1/models", headers=headers).json()["data"]
    assert "breast-cancer-lr" in {m["id"] for m in listed}
    theirs = client.get("/v1/models", headers={"x-api-key": other["key"]}).json()["data"]
    assert "breast-cancer-lr" not in {m["id"] for m in theirs}
    hidden = client.get("/v1/models/breast-cancer-lr", headers={"x-api-key": other["key"]})
    assert hidden.status_code == 404


def test_openai_client_lists_the_models(client: httpx.Client, local_stack: str) -> None:
    key = new_account(client)["key"]
    openai = OpenAI(base_url=f"{local_stack}/v1", api_key=key, max_retries=0)
    ids = {model.id for model in openai.models.list()}
    assert {"all-minilm-l6-v2", "iris-rf", "digits-cnn"} <= ids


def test_triton_client_reads_server_and_model_metadata_and_readiness(
    client: httpx.Client, local_stack: str
) -> None:
    headers = {"x-api-key": new_account(client)["key"]}
    triton_client = triton.InferenceServerClient(url=urlsplit(local_stack).netloc)
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    assert triton_client.get_server_metadata(headers=headers)["name"] == "aiaas"
    metadata = triton_client.get_model_metadata("iris-rf", headers=headers)
    assert metadata["inputs"][0] == {"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}
    assert triton_client.is_model_ready("iris-rf", headers=headers)
    assert not triton_client.is_model_ready("no-such-model", headers=headers)


def test_openai_client_embeds_with_base64_and_float(client: httpx.Client, local_stack: str) -> None:
    openai = OpenAI(base_url=f"{local_stack}/v1", api_key=new_account(client)["key"], max_retries=0)
    default = openai.embeddings.create(model="all-minilm-l6-v2", input=["hello world", "hi"])
    floats = openai.embeddings.create(
        model="all-minilm-l6-v2", input="hello world", encoding_format="float"
    )
    assert len(default.data) == 2 and len(default.data[0].embedding) == 384
    single = openai.embeddings.create(model="all-minilm-l6-v2", input="hello world")  # base64
    np.testing.assert_allclose(single.data[0].embedding, floats.data[0].embedding, atol=1e-6)
    assert default.usage.prompt_tokens > 0
    short = openai.embeddings.create(model="all-minilm-l6-v2", input="hi", dimensions=32)
    assert len(short.data[0].embedding) == 32
    with pytest.raises(openai_errors.NotFoundError):
        openai.embeddings.create(model="no-such-model", input="hi")
    with pytest.raises(openai_errors.BadRequestError):
        openai.embeddings.create(model="iris-rf", input="hi")


def test_a_registered_model_is_served_from_its_s3_weights(
    client: httpx.Client, local_stack: str
) -> None:
    owner = new_account(client)
    headers = {"x-api-key": owner["key"]}
    assert register(client, headers, "served-lr", breast_cancer_onnx())["status"] == "READY"
    x, y = load_breast_cancer(return_X_y=True)
    picked = np.r_[np.flatnonzero(y == 0)[:4], np.flatnonzero(y == 1)[:4]]  # both classes
    rows = x[picked].astype("float32")
    oracle = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500)).fit(x, y)
    # Open Inference Protocol, binary, through Triton's client
    triton_client = triton.InferenceServerClient(url=urlsplit(local_stack).netloc)
    tensor = triton.InferInput("X", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    result = triton_client.infer("served-lr", [tensor], headers=dict(headers))
    assert result.as_numpy("label").tolist() == oracle.predict(rows).tolist()
    # the native route takes rows for a single-input model
    native = client.post(
        "/v1/models/served-lr/predict", headers=headers, json={"inputs": rows.tolist()}
    )
    assert native.status_code == 200, native.text
    # no labels were declared: classes are named by index, as the graph's label output says
    want = [str(v) for v in result.as_numpy("label").tolist()]
    assert [o["label"] for o in native.json()["outputs"]] == want
    # another tenant cannot run it
    other = {"x-api-key": new_account(client)["key"]}
    assert (
        client.post(
            "/v1/models/served-lr/predict", headers=other, json={"inputs": rows.tolist()}
        ).status_code
        == 404
    )


def test_tampered_weights_are_refused(
    client: httpx.Client, local_stack: str, local_moto: str
) -> None:
    owner = new_account(client)
    headers = {"x-api-key": owner["key"]}
    # other weights than any model served so far: the cache is keyed by sha256
    assert register(client, headers, "tampered-lr", breast_cancer_onnx(c=0.3))["status"] == "READY"
    s3 = boto3.client(
        "s3",
        endpoint_url=local_moto,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "weights" in b["Name"])
    key = f"{owner['tenant']}/tampered-lr/1/model.fp32.onnx"
    s3.put_object(Bucket=bucket, Key=key, Body=b"not the registered model")
    response = client.post(
        "/v1/models/tampered-lr/predict", headers=headers, json={"inputs": [[0.0] * 30]}
    )
    assert response.status_code == 503 and "sha256" in response.json()["error"]["message"]


def test_a_gpu_model_without_a_gpu_backend_is_503(client: httpx.Client) -> None:
    headers = {"x-api-key": new_account(client)["key"]}
    created = client.post(
        "/v1/models",
        headers=headers,
        json={"name": "heavy-lr", "task": "tabular-classification", "runtime": "gpu"},
    )
    assert created.status_code == 201
    version = client.post("/v1/models/heavy-lr/versions", headers=headers).json()
    form = version["upload"]
    httpx.post(
        form["url"], data=form["fields"], files={"file": ("m.onnx", breast_cancer_onnx(c=2.0))}
    )
    assert wait_for_status(client, headers, "heavy-lr", 1)["status"] == "READY"
    response = client.post(
        "/v1/models/heavy-lr/predict", headers=headers, json={"inputs": [[0.0] * 30]}
    )
    assert response.status_code == 503
    assert "GPU backend not configured" in response.json()["error"]["message"]


def test_a_tenant_cannot_write_over_another_tenants_pending_upload(client: httpx.Client) -> None:
    # moto alone stores any POST; the local stack checks the form's policy as S3 does
    uploads = {}
    for tenant in ("victim", "attacker"):
        headers = {"x-api-key": new_account(client)["key"]}
        created = client.post(
            "/v1/models",
            headers=headers,
            json={"name": "pending-lr", "task": "tabular-classification"},
        )
        assert created.status_code == 201, created.text
        uploads[tenant] = (
            headers,
            client.post("/v1/models/pending-lr/versions", headers=headers).json(),
        )
    victim_headers, victim = uploads["victim"]
    _, attacker = uploads["attacker"]
    forged = {**attacker["upload"]["fields"], "key": victim["upload"]["fields"]["key"]}
    sent = httpx.post(attacker["upload"]["url"], data=forged, files={"file": ("model.onnx", b"x")})
    assert sent.status_code == 403 and "Policy Condition failed" in sent.text, sent.text
    form = victim["upload"]
    httpx.post(
        form["url"], data=form["fields"], files={"file": ("model.onnx", breast_cancer_onnx())}
    )
    assert (
        wait_for_status(client, victim_headers, "pending-lr", victim["version"])["status"]
        == "READY"
    )
