"""AuthFunction and AuthorizerFunction handlers with API Gateway events, on moto."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import jwt
import pytest

from tests.aws import AwsResources
from tests.integration.conftest import CALLER, Handler, event_file, http_event, invoke

pytestmark = pytest.mark.usefixtures("aws")
PASSWORD = "correct horse battery staple"


def call(
    handler: Handler,
    method: str,
    path: str,
    route: str,
    body: Any = None,
    caller: dict[str, Any] | None = CALLER,
    **kw: Any,
) -> tuple[int, dict, Any]:
    raw = json.dumps(body).encode() if body is not None else b""
    response = handler(http_event(method, path, route, raw, caller=caller, **kw), None)
    body_text = response.get("body") or "null"
    return response["statusCode"], response["headers"], json.loads(body_text)


def signup_and_login(handler: Handler, email: str) -> tuple[dict[str, Any], str]:
    status, _, user = call(
        handler,
        "POST",
        "/v1/auth/signup",
        "POST /v1/auth/signup",
        {"email": email, "password": PASSWORD},
        caller=None,
    )
    assert status == 201, user
    status, _, login = call(
        handler,
        "POST",
        "/v1/auth/login",
        "POST /v1/auth/login",
        {"email": email, "password": PASSWORD},
        caller=None,
    )
    assert status == 200, login
    return user, login["access_token"]


def authorize(handler: Handler, headers: dict[str, str]) -> dict[str, Any]:
    event = copy.deepcopy(event_file("authorizer-request.json"))
    event["headers"] = {"host": "localhost", **headers}
    result: dict[str, Any] = handler(event, None)
    return result


def test_signup_and_login_events(auth_handler: Handler) -> None:
    status, _, user = invoke(auth_handler, event_file("auth-signup.json"))
    assert status == 201 and user["email"] == "ada@example.com"
    status, _, login = invoke(auth_handler, event_file("auth-login.json"))
    assert status == 200 and login["token_type"] == "bearer" and login["expires_in"] == 900
    status, _, _ = invoke(auth_handler, event_file("auth-signup.json"))
    assert status == 409


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com"}, "password"),
    ],
)
def test_signup_validates_email_and_password(auth_handler: Handler, body: dict, param: str) -> None:
    status, _, error = call(
        auth_handler, "POST", "/v1/auth/signup", "POST /v1/auth/signup", body, caller=None
    )
    assert status == 400 and error["error"]["param"] == param


def test_full_flow_through_the_authorizer(
    auth_handler: Handler, authorizer_handler: Handler, aws: AwsResources
) -> None:
    user, token = signup_and_login(auth_handler, "flow@example.com")
    # the JWT authorizes and carries the user's tenant
    decision = authorize(authorizer_handler, {"authorization": f"Bearer {token}"})
    assert decision["isAuthorized"] and decision["context"]["tenant"] == user["tenant"]
    # a key created with that identity works in both header forms
    status, _, key = call(
        auth_handler,
        "POST",
        "/v1/keys",
        "POST /v1/keys",
        {"name": "ci", "scopes": ["predict"]},
        caller=decision["context"],
    )
    assert status == 201 and key["key"].startswith(f"aiaas_{key['id']}_")
    for headers in ({"authorization": f"Bearer {key['key']}"}, {"x-api-key": key["key"]}):
        allowed = authorize(authorizer_handler, headers)
        assert allowed["isAuthorized"] and allowed["context"]["scopes"] == "predict"
    # listing shows the prefix, never the key
    status, _, listing = call(
        auth_handler, "GET", "/v1/keys", "GET /v1/keys", caller=decision["context"]
    )
    assert status == 200 and key["key"] not in json.dumps(listing)
    assert listing["data"][0]["prefix"] == f"aiaas_{key['id']}"


def secret_value(aws: AwsResources) -> str:
    answer = aws.client("secretsmanager").get_secret_value(SecretId=aws.jwt_secret_arn)
    return str(answer["SecretString"])


BAD_CREDENTIALS = {
    "no header": {},
    "malformed header": {"authorization": "Basic dXNlcjpwYXNz"},
    "empty bearer": {"authorization": "Bearer "},
    "unknown key": {"x-api-key": "aiaas_abcdefghijklmnop_notarealsecret"},
    "not a key": {"x-api-key": "sk-1234"},
}


@pytest.mark.parametrize("headers", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
def test_bad_credentials_are_denied(authorizer_handler: Handler, headers: dict) -> None:
    assert authorize(authorizer_handler, headers) == {"isAuthorized": False}


def forged(secret: str, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": "aiaas",
        "sub": "usr_x",
        "tenant": "tnt_x",
        "scopes": "predict",
        "iat": now,
        "exp": now + 600,
        **changes.pop("claims", {}),
    }
    return jwt.encode(claims, changes.pop("key", secret), algorithm=changes.pop("alg", "HS256"))


def test_expired_forged_and_unsigned_tokens_are_denied(
    authorizer_handler: Handler, aws: AwsResources
) -> None:
    secret = secret_value(aws)
    assert authorize(authorizer_handler, {"authorization": f"Bearer {forged(secret)}"})[
        "isAuthorized"
    ]  # the control: a good token passes
    now = int(time.time())
    bad = {
        "expired": forged(secret, claims={"iat": now - 1000, "exp": now - 10}),
        "other secret": forged("another-secret-of-sufficient-length-123456"),
        "alg none": jwt.encode(
            {
                "iss": "aiaas",
                "sub": "u",
                "tenant": "t",
                "scopes": "predict",
                "iat": now,
                "exp": now + 60,
            },
            None,
            algorithm="none",
        ),
        "HS512": forged(secret, alg="HS512"),
        "no tenant": jwt.encode(
            {"iss": "aiaas", "sub": "u", "scopes": "predict", "iat": now, "exp": now + 60},
            secret,
            algorithm="HS256",
        ),
    }
    for name, token in bad.items():
        decision = authorize(authorizer_handler, {"authorization": f"Bearer {token}"})
        assert decision == {"isAuthorized": False}, name


def test_missing_scope_is_403_naming_it(auth_handler: Handler, predict_handler: Handler) -> None:
    predict_only = {**CALLER, "scopes": "predict"}
    status, _, body = call(auth_handler, "GET", "/v1/keys", "GET /v1/keys", caller=predict_only)
    assert status == 403 and "keys:manage" in body["error"]["message"]
    no_predict = {**CALLER, "scopes": "models:read"}
    status, _, body = call(
        predict_handler,
        "POST",
        "/v1/models/iris-rf/predict",
        "POST /v1/models/{name}/predict",
        {"inputs": [[1, 2, 3, 4]]},
        caller=no_predict,
        path_parameters={"name": "iris-rf"},
    )
    assert status == 403 and "predict" in body["error"]["message"]


def test_without_authorizer_context_guarded_routes_are_401(auth_handler: Handler) -> None:
    status, _, body = call(auth_handler, "GET", "/v1/keys", "GET /v1/keys", caller=None)
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_tenants_cannot_see_each_others_keys_or_usage(
    auth_handler: Handler, predict_handler: Handler, aws: AwsResources
) -> None:
    a = {**CALLER, "tenant": "tnt_aaaaaaaaaaaaaaaa", "key_id": "aaaaaaaaaaaaaaaa"}
    b = {**CALLER, "tenant": "tnt_bbbbbbbbbbbbbbbb", "key_id": "bbbbbbbbbbbbbbbb"}
    aws.put_key(a["key_id"], a["tenant"])  # b makes no metered call
    # tenant a has counted usage, so an empty report for b means something
    predicted = predict_handler(
        http_event("POST", "/v1/models/iris-rf/predict", "POST /v1/models/{name}/predict",
                   b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}', caller=a,
                   path_parameters={"name": "iris-rf"}),
        None,
    )  # fmt: skip
    assert predicted["statusCode"] == 200
    assert call(auth_handler, "GET", "/v1/usage", "GET /v1/usage", caller=a)[2]["total"] == 1
    status, _, key = call(
        auth_handler,
        "POST",
        "/v1/keys",
        "POST /v1/keys",
        {"name": "a", "scopes": ["predict"]},
        caller=a,
    )
    assert status == 201
    assert call(auth_handler, "GET", "/v1/keys", "GET /v1/keys", caller=b)[2]["data"] == []
    status, _, _ = call(
        auth_handler,
        "DELETE",
        f"/v1/keys/{key['id']}",
        "DELETE /v1/keys/{key_id}",
        caller=b,
        path_parameters={"key_id": key["id"]},
    )
    assert status == 404
    assert call(auth_handler, "GET", "/v1/usage", "GET /v1/usage", caller=b)[2]["total"] == 0


def test_quota_and_usage_through_the_handlers(
    auth_handler: Handler, predict_handler: Handler, aws: AwsResources
) -> None:
    caller = {**CALLER, "key_id": "qqqqqqqqqqqqqqqq", "daily_quota": 2}
    aws.put_key(caller["key_id"])
    statuses, retry = [], None
    for _ in range(3):
        response = predict_handler(
            http_event(
                "POST",
                "/v1/models/iris-rf/predict",
                "POST /v1/models/{name}/predict",
                b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
                caller=caller,
                path_parameters={"name": "iris-rf"},
            ),
            None,
        )
        statuses.append(response["statusCode"])
        retry = response["headers"].get("retry-after", retry)
    assert statuses == [200, 200, 429]
    assert retry is not None and int(retry) > 0
    _, _, usage = call(auth_handler, "GET", "/v1/usage", "GET /v1/usage", caller=caller)
    assert usage["by_key"] == {"qqqqqqqqqqqqqqqq": 2}
    assert usage["by_model"] == {"iris-rf": 2}


def test_no_password_or_key_reaches_a_log_line_or_a_stored_item(
    auth_handler: Handler,
    authorizer_handler: Handler,
    aws: AwsResources,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    # Given a user who signs up, logs in, makes a key, uses it and fails a login
    _, token = signup_and_login(auth_handler, "quiet@example.com")
    context = authorize(authorizer_handler, {"authorization": f"Bearer {token}"})["context"]
    _, _, key = call(
        auth_handler,
        "POST",
        "/v1/keys",
        "POST /v1/keys",
        {"name": "k", "scopes": ["predict"]},
        caller=context,
    )
    authorize(authorizer_handler, {"x-api-key": key["key"]})
    authorize(authorizer_handler, {"x-api-key": key["key"][:-3] + "xyz"})
    call(
        auth_handler,
        "POST",
        "/v1/auth/login",
        "POST /v1/auth/login",
        {"email": "quiet@example.com", "password": "wrong password 123"},
        caller=None,
    )
    # Then neither secret is in any log record nor in any stored item
    secret_part = key["key"].removeprefix(f"aiaas_{key['id']}_")  # may hold "_" itself
    for secret in (PASSWORD, "wrong password 123", key["key"], secret_part, token):
        assert secret not in caplog.text
    for table in (aws.accounts_table, aws.usage_table):
        items = str(aws.client("dynamodb").scan(TableName=table)["Items"])
        assert PASSWORD not in items and secret_part not in items
