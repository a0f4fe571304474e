"""The local stack over real HTTP: a Lambda authorizer in front of routes, resources in moto.

Runs the authorizer fixture template (not the real app): an authorizer that allows
``Bearer good``, public and guarded FastAPI routes echoing ``requestContext.authorizer``, and
a function that uses the template's DynamoDB table, generated secret and S3 bucket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningStack, start_stack

pytestmark = pytest.mark.e2e

AUTH_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "auth_template.yaml"
GOOD = {"Authorization": "Bearer good"}


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack(AUTH_TEMPLATE, extra_args=["--param", "Quota=7"])
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(stack: RunningStack) -> Iterator[httpx.Client]:
    assert stack.base_url is not None
    with httpx.Client(base_url=stack.base_url, timeout=10) as client:
        yield client


def authorizer_of(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["authorizer"]


def test_banner_shows_authorizers_and_created_resources(stack: RunningStack) -> None:
    output = stack.output()

    assert "/public" in output and "auth: NONE" in output
    assert "auth: TokenAuthorizer" in output
    assert "Created in moto:" in output
    assert "aiaas-local-items (GSI by-tenant, TTL expires_at)" in output
    assert "secret:ApiSecret-" in output
    assert "aiaas-local-filesbucket (versioning Enabled)" in output


@pytest.mark.parametrize(
    ("path", "headers", "status", "message"),
    [
        ("/guarded", {}, 401, "Unauthorized"),  # no Authorization: the authorizer is not called
        ("/guarded", {"Authorization": "Bearer bad"}, 403, "Forbidden"),
        ("/guarded", {"Authorization": "Bearer boom"}, 500, "Internal Server Error"),
        ("/guarded", {"Authorization": "Bearer garbage"}, 500, "Internal Server Error"),
        ("/open", {}, 403, "Forbidden"),  # no identity source: the authorizer decides
        ("/items/x", {}, 401, "Unauthorized"),
    ],
)
def test_refusals(
    api: httpx.Client, path: str, headers: dict[str, str], status: int, message: str
) -> None:
    response = api.get(path, headers=headers)

    assert (response.status_code, response.json()) == (status, {"message": message})


def test_allowed_request_carries_the_authorizer_context(api: httpx.Client) -> None:
    context = authorizer_of(api.get("/guarded", headers=GOOD))["lambda"]

    assert (context["tenant"], context["scopes"]) == ("t1", "predict")
    assert context["type"] == "REQUEST"
    assert context["identitySource"] == ["Bearer good"]
    assert context["routeArn"].endswith(":1234567890/$default/GET/guarded")


def test_public_route_has_no_authorizer(api: httpx.Client) -> None:
    body = api.get("/public", headers={"Authorization": "Bearer bad"}).json()

    assert body["has_authorizer"] is False


def test_cache_only_where_reauthorize_every_is_set(api: httpx.Client) -> None:
    uncached = [authorizer_of(api.get("/guarded", headers=GOOD))["lambda"] for _ in range(2)]
    cached = [authorizer_of(api.get("/cached", headers=GOOD))["lambda"] for _ in range(2)]
    other = authorizer_of(api.get("/cached", headers={"Authorization": "Bearer other"}))

    assert uncached[0]["calls"] != uncached[1]["calls"]  # ReauthorizeEvery 0: called each time
    assert cached[0] == cached[1]  # ReauthorizeEvery 60: the second answer came from the cache
    assert other["lambda"]["tenant"] == "t2"  # another identity value: another cache entry


def test_dynamodb_secret_and_bucket_through_the_environment(api: httpx.Client) -> None:
    put = api.put("/items/a1", content=b"hello", headers={**GOOD, "content-type": "text/plain"})
    got = api.get("/items/a1", headers=GOOD)

    assert put.status_code == 200, put.text
    body = got.json()
    assert body["item"] == {"pk": "a1", "tenant": "t1", "value": "hello"}
    assert body["table"] == "aiaas-local-items"
    assert (body["secret_user"], body["secret_key_length"], body["secret_key_alnum"]) == (
        "svc",
        48,
        True,
    )
    assert body["bucket_versioning"] == "Enabled"
    assert body["quota"] == "7"  # --param Quota=7 over the Default
