"""Auth over real HTTP on the local stack: the authorizer in front of every guarded route."""

from __future__ import annotations

import time

import boto3
import httpx
import jwt
import pytest

from aiaas_dev.cfn import load_yaml
from tests.conftest import ROOT
from tests.e2e.accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(local_stack: str) -> httpx.Client:
    with httpx.Client(base_url=local_stack, timeout=30) as client:
        yield client


def test_signup_login_key_predict_with_both_header_forms(client: httpx.Client) -> None:
    account = new_account(client)
    body = {"inputs": [[5.1, 3.5, 1.4, 0.2]]}
    for headers in ({"authorization": f"Bearer {account['key']}"}, {"x-api-key": account["key"]}):
        response = client.post("/v1/models/iris-rf/predict", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["outputs"][0]["label"] == "setosa"
    usage = client.get("/v1/usage", headers={"x-api-key": account["key"]}).json()
    assert usage["by_key"] == {account["key_id"]: 2}
    listed = client.get("/v1/keys", headers={"x-api-key": account["key"]}).json()["data"]
    assert [k["id"] for k in listed] == [account["key_id"]]
    assert account["key"] not in str(listed)


def guarded_routes() -> list[tuple[str, str]]:
    """Every route of the template that is not public, with its path parameters filled."""
    routes = []
    for resource in load_yaml(ROOT / "template.yaml")["Resources"].values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            props = event.get("Properties", {})
            if event.get("Type") != "HttpApi" or props.get("Auth", {}).get("Authorizer") == "NONE":
                continue
            path = props["Path"].replace("{name}", "iris-rf").replace("{key_id}", "a" * 16)
            routes.append((props["Method"], path))
    return routes


@pytest.fixture(scope="module")
def bad_credentials(client: httpx.Client, local_moto: str) -> dict[str, dict[str, str]]:
    """One header set per way a credential can be wrong."""
    account = new_account(client)
    revoked = client.post(
        "/v1/keys", json={"name": "r", "scopes": ["predict"]}, headers={"x-api-key": account["key"]}
    ).json()
    client.delete(f"/v1/keys/{revoked['id']}", headers={"x-api-key": account["key"]})
    expiring = client.post(
        "/v1/keys",
        json={"name": "x", "scopes": ["predict"], "expires_in_days": 1},
        headers={"x-api-key": account["key"]},
    ).json()
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=local_moto,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    dynamodb.update_item(
        TableName="AccountsTable",
        Key={"pk": {"S": f"KEY#{expiring['id']}"}, "sk": {"S": "KEY"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": "1000"}},
    )
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=local_moto,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn = secrets.list_secrets()["SecretList"][0]["ARN"]
    secret = secrets.get_secret_value(SecretId=arn)["SecretString"]
    now = int(time.time())
    claims = {
        "iss": "aiaas",
        "sub": "usr_x",
        "tenant": account["tenant"],
        "scopes": "predict",
        "iat": now - 3600,
        "exp": now - 60,
    }
    live = {**claims, "exp": now + 600}
    return {
        "no header": {},
        "malformed header": {"authorization": "Token abc"},
        "unknown key": {"x-api-key": "aiaas_abcdefghijklmnop_not-a-real-secret"},
        "revoked key": {"x-api-key": revoked["key"]},
        "expired key": {"x-api-key": expiring["key"]},
        "expired JWT": {"authorization": "Bearer " + jwt.encode(claims, secret, "HS256")},
        "JWT other secret": {"authorization": "Bearer " + jwt.encode(live, "x" * 40, "HS256")},
        "JWT alg none": {"authorization": "Bearer " + jwt.encode(live, None, "none")},
    }


CASES = [
    "no header",
    "malformed header",
    "unknown key",
    "revoked key",
    "expired key",
    "expired JWT",
    "JWT other secret",
    "JWT alg none",
]


@pytest.mark.parametrize(("method", "path"), guarded_routes())
@pytest.mark.parametrize("case", CASES)
def test_every_guarded_route_refuses_every_bad_credential(
    client: httpx.Client, bad_credentials: dict, method: str, path: str, case: str
) -> None:
    response = client.request(method, path, headers=bad_credentials[case], json={})
    assert response.status_code in (401, 403), (case, response.text)
    assert set(response.json()) == {"message"}  # API Gateway's JSON; no data leaks


def test_missing_scope_and_other_tenants_data(client: httpx.Client) -> None:
    alice, bob = new_account(client), new_account(client)
    predict_only = client.post(
        "/v1/keys", json={"name": "p", "scopes": ["predict"]}, headers={"x-api-key": alice["key"]}
    ).json()["key"]
    response = client.get("/v1/keys", headers={"x-api-key": predict_only})
    assert response.status_code == 403 and "keys:manage" in response.json()["error"]["message"]
    bobs = {"x-api-key": bob["key"]}
    assert [k["id"] for k in client.get("/v1/keys", headers=bobs).json()["data"]] == [bob["key_id"]]
    assert client.delete(f"/v1/keys/{alice['key_id']}", headers=bobs).status_code == 404
    predicted = client.post(
        "/v1/models/iris-rf/predict",
        json={"inputs": [[1, 2, 3, 4]]},
        headers={"x-api-key": alice["key"]},
    )
    assert predicted.status_code == 200
    # alice's request was counted, so bob's empty report means isolation, not no data
    assert client.get("/v1/usage", headers={"x-api-key": alice["key"]}).json()["total"] == 1
    assert client.get("/v1/usage", headers=bobs).json()["total"] == 0


def test_quota_exhausted_is_429_with_retry_after(client: httpx.Client) -> None:
    account = new_account(client)
    key = client.post(
        "/v1/keys",
        json={"name": "q", "scopes": ["predict"], "daily_quota": 3},
        headers={"x-api-key": account["key"]},
    ).json()["key"]
    statuses = []
    for _ in range(4):
        response = client.post(
            "/v1/models/iris-rf/predict",
            json={"inputs": [[1, 2, 3, 4]]},
            headers={"x-api-key": key},
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "quota_exceeded"


def test_public_routes_need_no_credential(client: httpx.Client) -> None:
    assert client.get("/v1/health").json() == {"status": "ok"}
    response = client.post("/v1/auth/login", json={"email": "x@example.com", "password": "p" * 12})
    assert response.status_code == 401
