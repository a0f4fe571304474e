"""aiaas_dev.authorizer and the authorizer events: API Gateway's Lambda authorizer steps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiaas_dev.auth_config import AuthorizerSpec
from aiaas_dev.authorizer import (
    Authorizer,
    Decision,
    Outcome,
    identity_values,
    parse_simple_response,
)
from aiaas_dev.events import (
    build_authorizer_event,
    build_event,
    route_arn,
    with_authorizer_context,
)
from aiaas_dev.invoker import FunctionWorker, InvocationError
from aiaas_dev.routes import RouteTable
from aiaas_dev.server import Gateway, HttpRequest
from aiaas_dev.template import FunctionSpec, load_template

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The payload 2.0 REQUEST example of the API Gateway developer guide ("Working with AWS Lambda
# authorizers for HTTP APIs"), written down as documented.
DOC_EXAMPLE: dict[str, Any] = json.loads(
    (FIXTURES / "authorizer_event_v2_example.json").read_text()
)
HEADER = ("$request.header.Authorization",)


def route_event(**overrides: Any) -> dict[str, Any]:
    """A full route event: cookies, query, path parameters, a body, a named stage."""
    options: dict[str, Any] = {
        "raw_query_string": "parameter1=value1&parameter1=value2&parameter2=value",
        "headers": [("Authorization", "Bearer good"), ("Cookie", "cookie1; cookie2")],
        "body": b'{"a": 1}',
        "route_key": "POST /my/{parameter1}",
        "path_parameters": {"parameter1": "path"},
        "stage": "test",
    }
    return build_event("POST", "/test/my/path", **{**options, **overrides})


def test_authorizer_event_has_the_documented_keys_types_and_order() -> None:
    event = build_authorizer_event(route_event(), ["Bearer good"])

    not_sent = {"stageVariables"}  # no stage variables locally
    assert list(event) == [key for key in DOC_EXAMPLE if key not in not_sent]
    for key in event:
        assert type(event[key]) is type(DOC_EXAMPLE[key]), key
    context_keys = set(DOC_EXAMPLE["requestContext"]) - {"authentication"}  # no mutual TLS
    assert set(event["requestContext"]) == context_keys
    assert set(event["requestContext"]["http"]) == set(DOC_EXAMPLE["requestContext"]["http"])


def test_authorizer_event_values() -> None:
    source = route_event()
    event = build_authorizer_event(source, ["Bearer good"])

    assert (event["version"], event["type"]) == ("2.0", "REQUEST")
    assert event["routeArn"] == (
        "arn:aws:execute-api:us-east-1:123456789012:1234567890/test/POST/my/path"
    )
    assert event["identitySource"] == ["Bearer good"]
    assert event["cookies"] == ["cookie1", "cookie2"]
    assert event["queryStringParameters"] == DOC_EXAMPLE["queryStringParameters"]
    for key in ("routeKey", "rawPath", "rawQueryString", "headers", "pathParameters"):
        assert event[key] == source[key]
    assert event["requestContext"] == source["requestContext"]
    assert "body" not in event and "isBase64Encoded" not in event


def test_authorizer_event_without_identity_sources_or_optional_parts() -> None:
    event = build_authorizer_event(build_event("GET", "/"))

    assert "identitySource" not in event
    assert not {"cookies", "queryStringParameters", "pathParameters"} & set(event)
    assert event["routeArn"].endswith("/$default/GET/")


def test_route_arn_strips_only_the_stage_prefix() -> None:
    assert route_arn(build_event("GET", "/prod/prod/x", stage="prod")).endswith("/prod/GET/prod/x")
    assert route_arn(build_event("GET", "/prod/x")).endswith("/$default/GET/prod/x")


def test_route_event_carries_the_authorizer_context() -> None:
    event = build_event("GET", "/x", authorizer_context={"tenant": "t1", "scopes": "predict"})

    assert event["requestContext"]["authorizer"] == {
        "lambda": {"tenant": "t1", "scopes": "predict"}
    }
    assert list(event["requestContext"])[:3] == ["accountId", "apiId", "authorizer"]
    assert "authorizer" not in build_event("GET", "/x")["requestContext"]
    bare = with_authorizer_context(build_event("GET", "/x"), None)
    assert bare["requestContext"]["authorizer"] == {"lambda": None}  # allowed without context
    assert "authorizer" not in build_authorizer_event(event)["requestContext"]


def test_identity_values() -> None:
    event = route_event(headers=[("AUTHORIZATION", "Bearer x"), ("X-Key", "")])
    sources = ("$request.header.authorization", "$request.querystring.parameter2")

    assert identity_values(sources, event) == ["Bearer x", "value"]
    assert identity_values(("$context.routeKey", "$context.stage"), event) == [
        "POST /my/{parameter1}",
        "test",
    ]
    assert identity_values(("$request.header.x-key",), event) is None  # empty is missing
    assert identity_values(("$request.querystring.PARAMETER2",), event) is None  # case matters
    assert identity_values(("$request.header.missing",), event) is None


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"isAuthorized": True, "context": {"t": "1"}}, Decision(Outcome.ALLOW, {"t": "1"})),
        ({"isAuthorized": True}, Decision(Outcome.ALLOW, None)),
        ({"isAuthorized": False, "context": {"why": "no"}}, Decision(Outcome.DENY)),
        ({"isAuthorized": "true"}, Decision(Outcome.ERROR)),
        ({"isAuthorized": True, "context": "t1"}, Decision(Outcome.ERROR)),
        ({"principalId": "x", "policyDocument": {}}, Decision(Outcome.ERROR)),
        ([True], Decision(Outcome.ERROR)),
        (None, Decision(Outcome.ERROR)),
        ({"isAuthorized": True, "context": {"x": object()}}, Decision(Outcome.ERROR)),
    ],
)  # fmt: skip
def test_parse_simple_response(result: Any, expected: Decision) -> None:
    assert parse_simple_response(result) == expected


class FakeWorker:
    """Stands in for a FunctionWorker: answers from a function, records the events."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        self.events.append(event)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer(event) if callable(self.answer) else self.answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def authorizer(answer: Any, *, sources: tuple[str, ...] = HEADER, ttl_s: int = 0) -> Authorizer:
    spec = AuthorizerSpec("Auth", "AuthorizerFunction", sources, ttl_s)
    return Authorizer(spec, FakeWorker(answer), clock=Clock())  # type: ignore[arg-type]


def calls(auth: Authorizer) -> list[dict[str, Any]]:
    return auth.worker.events  # type: ignore[attr-defined,no-any-return]


def by_token(event: dict[str, Any]) -> dict[str, Any]:
    token = event["headers"].get("authorization")
    return {"isAuthorized": token == "Bearer good", "context": {"token": token}}


def test_allow_passes_the_context_and_the_authorizer_gets_its_event() -> None:
    auth = authorizer(by_token)

    decision = auth.authorize(route_event())

    assert decision == Decision(Outcome.ALLOW, {"token": "Bearer good"})
    (sent,) = calls(auth)
    assert sent["type"] == "REQUEST" and sent["identitySource"] == ["Bearer good"]


def test_deny_missing_identity_and_errors() -> None:
    deny = authorizer(by_token)
    assert deny.authorize(route_event(headers=[("authorization", "Bearer bad")])).outcome is (
        Outcome.DENY
    )

    missing = authorizer(by_token)
    assert missing.authorize(route_event(headers=[])).outcome is Outcome.UNAUTHORIZED
    assert calls(missing) == []  # API Gateway does not call the authorizer

    assert authorizer(InvocationError("boom")).authorize(route_event()).outcome is Outcome.ERROR
    assert authorizer({"isAuthorized": 1}).authorize(route_event()).outcome is Outcome.ERROR


def test_without_identity_sources_every_request_reaches_the_authorizer() -> None:
    auth = authorizer(by_token, sources=())

    assert auth.authorize(route_event(headers=[])).outcome is Outcome.DENY
    assert "identitySource" not in calls(auth)[0]


def test_no_cache_when_reauthorize_every_is_0() -> None:
    auth = authorizer(by_token)

    for _ in range(3):
        assert not auth.authorize(route_event()).cached
    assert len(calls(auth)) == 3


def test_cache_keyed_on_identity_values_for_the_ttl() -> None:
    auth = authorizer(by_token, ttl_s=60)
    clock: Clock = auth._clock  # type: ignore[assignment]
    good, bad = route_event(), route_event(headers=[("authorization", "Bearer bad")])

    assert auth.authorize(good) == Decision(Outcome.ALLOW, {"token": "Bearer good"})
    assert auth.authorize(good) == Decision(Outcome.ALLOW, {"token": "Bearer good"}, cached=True)
    assert auth.authorize(bad).outcome is Outcome.DENY  # another identity: another entry
    assert auth.authorize(bad).cached  # denials are cached too
    assert len(calls(auth)) == 2
    clock.now += 60
    assert not auth.authorize(good).cached  # expired
    assert len(calls(auth)) == 3


def test_errors_are_not_cached() -> None:
    auth = authorizer(InvocationError("boom"), ttl_s=60)

    auth.authorize(route_event())
    auth.authorize(route_event())

    assert len(calls(auth)) == 2


@pytest.fixture(scope="module")
def real_authorizer() -> Iterator[FunctionWorker]:
    spec = FunctionSpec(
        "AuthorizerFunction", "auth", FIXTURES / "auth_app", "authorizer.handler", timeout_s=0.2
    )
    worker = FunctionWorker(spec)
    assert worker.start()
    yield worker
    worker.stop()


@pytest.mark.parametrize(
    ("token", "outcome"),
    [
        ("Bearer good", Outcome.ALLOW),
        ("Bearer bad", Outcome.DENY),
        ("Bearer boom", Outcome.ERROR),  # raises
        ("Bearer garbage", Outcome.ERROR),  # not a simple response
    ],
)
def test_with_the_fixture_authorizer_in_its_worker(
    real_authorizer: FunctionWorker, token: str, outcome: Outcome
) -> None:
    auth = Authorizer(AuthorizerSpec("Auth", "AuthorizerFunction", HEADER), real_authorizer)

    decision = auth.authorize(route_event(headers=[("authorization", token)]))

    assert decision.outcome is outcome
    if outcome is Outcome.ALLOW:
        assert decision.context is not None
        assert decision.context["tenant"] == "t1"
        assert decision.context["identitySource"] == [token]


def test_authorizer_timeout_is_an_error(tmp_path: Path) -> None:
    spec = FunctionSpec("Slow", "slow", FIXTURES / "auth_app", "authorizer.handler", timeout_s=0.05)
    worker = FunctionWorker(spec)
    assert worker.start()
    auth = Authorizer(AuthorizerSpec("Auth", "Slow", HEADER), worker)
    try:
        decision = auth.authorize(route_event(headers=[("authorization", "Bearer slow")]))
    finally:
        worker.stop()

    assert decision.outcome is Outcome.ERROR


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    template = load_template(FIXTURES / "auth_template.yaml")
    needed = ("AuthorizerFunction", "ApiFunction")
    workers = {name: FunctionWorker(template.functions[name]) for name in needed}
    for worker in workers.values():
        assert worker.start()
    authorizers = {
        name: Authorizer(spec, workers[spec.function])
        for name, spec in template.authorizers.items()
    }
    routes = [route for route in template.routes if route.function in workers]
    yield Gateway(RouteTable(routes, template.stage), workers, authorizers)
    for worker in workers.values():
        worker.stop()


@pytest.mark.parametrize(
    ("path", "headers", "status", "body"),
    [
        ("/guarded", [], 401, {"message": "Unauthorized"}),
        ("/guarded", [("Authorization", "Bearer bad")], 403, {"message": "Forbidden"}),
        ("/guarded", [("Authorization", "Bearer boom")], 500, {"message": "Internal Server Error"}),
        ("/open", [], 403, {"message": "Forbidden"}),  # no identity source: the authorizer decides
    ],
)
def test_gateway_answers_for_the_authorizer(
    gateway: Gateway, path: str, headers: list[tuple[str, str]], status: int, body: dict[str, str]
) -> None:
    response = gateway.handle(HttpRequest("GET", path, headers))

    assert (response.status, json.loads(response.body)) == (status, body)
    assert response.header("apigw-requestid")


def test_gateway_passes_the_context_to_the_function(gateway: Gateway) -> None:
    allowed = json.loads(
        gateway.handle(HttpRequest("GET", "/guarded", [("Authorization", "Bearer good")])).body
    )
    public = json.loads(gateway.handle(HttpRequest("GET", "/public")).body)

    context = allowed["authorizer"]["lambda"]
    assert (context["tenant"], context["scopes"], context["type"]) == ("t1", "predict", "REQUEST")
    assert context["routeArn"].endswith("/$default/GET/guarded")
    assert public == {
        "path": "public",
        "routeKey": "GET /public",
        "has_authorizer": False,
        "authorizer": None,
    }
