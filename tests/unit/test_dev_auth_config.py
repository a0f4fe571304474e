"""aiaas_dev.auth_config and the template's routes: which authorizer guards which route."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aiaas_dev.auth_config import AuthorizerSpec
from aiaas_dev.cfn import TemplateError
from aiaas_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
AUTH_TEMPLATE = FIXTURES / "auth_template.yaml"

LAMBDA_AUTHORIZER: dict[str, Any] = {
    "FunctionArn": {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]},
    "AuthorizerPayloadFormatVersion": "2.0",
    "EnableSimpleResponses": True,
}


def write_template(
    tmp_path: Path,
    authorizer: dict[str, Any] | None = None,
    *,
    default: str | None = "Auth",
    route_auth: dict[str, Any] | None = None,
    authorizer_runtime: str = "python3.12",
) -> Path:
    """A template with one authorizer ``Auth``, one function and one route."""
    auth: dict[str, Any] = {"Authorizers": {"Auth": authorizer or LAMBDA_AUTHORIZER}}
    if default is not None:
        auth["DefaultAuthorizer"] = default
    event: dict[str, Any] = {"ApiId": {"Ref": "Api"}, "Method": "GET", "Path": "/x"}
    if route_auth is not None:
        event["Auth"] = route_auth
    code = str(FIXTURES / "auth_app")
    document = {
        "Resources": {
            "Api": {"Type": "AWS::Serverless::HttpApi", "Properties": {"Auth": auth}},
            "AuthorizerFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Runtime": authorizer_runtime,
                    "CodeUri": code,
                    "Handler": "authorizer.handler",
                },
            },
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "CodeUri": code,
                    "Handler": "app.handler",
                    "Events": {"X": {"Type": "HttpApi", "Properties": event}},
                },
            },
        }
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_fixture_template_authorizers_and_routes() -> None:
    template = load_template(AUTH_TEMPLATE)

    assert template.authorizers == {
        "TokenAuthorizer": AuthorizerSpec(
            "TokenAuthorizer", "AuthorizerFunction", ("$request.header.Authorization",), 0
        ),
        "OpenAuthorizer": AuthorizerSpec("OpenAuthorizer", "AuthorizerFunction", (), 0),
        "CachedAuthorizer": AuthorizerSpec(
            "CachedAuthorizer", "AuthorizerFunction", ("$request.header.Authorization",), 60
        ),
    }
    assert {route.route_key: route.authorizer for route in template.routes} == {
        "GET /public": None,  # Authorizer: NONE
        "GET /guarded": "TokenAuthorizer",  # the DefaultAuthorizer
        "GET /open": "OpenAuthorizer",
        "GET /cached": "CachedAuthorizer",
        "PUT /items/{id}": "TokenAuthorizer",
        "GET /items/{id}": "TokenAuthorizer",
    }
    assert "AuthorizerFunction" in template.functions  # loaded like any other function


def test_repository_template_guards_all_but_the_public_routes() -> None:
    template = load_template(ROOT / "template.yaml")

    public = {route.route_key for route in template.routes if route.authorizer is None}
    assert {"POST /v1/auth/signup", "POST /v1/auth/login", "GET /v1/health"} <= public
    guarded = {route.authorizer for route in template.routes if route.route_key not in public}
    assert guarded == {"KeyOrTokenAuthorizer"}
    spec = template.authorizers["KeyOrTokenAuthorizer"]
    assert (spec.function, spec.identity_sources, spec.ttl_s) == ("AuthorizerFunction", (), 0)


def test_routes_without_default_authorizer_are_public(tmp_path: Path) -> None:
    template = load_template(write_template(tmp_path, default=None))

    assert [route.authorizer for route in template.routes] == [None]
    assert template.authorizers == {}  # unused authorizers are not served


def test_identity_sources_in_order(tmp_path: Path) -> None:
    identity = {
        "Headers": ["Authorization", "X-Api-Key"],
        "QueryStrings": ["token"],
        "Context": ["routeKey"],
        "ReauthorizeEvery": 30,
    }
    template = load_template(write_template(tmp_path, {**LAMBDA_AUTHORIZER, "Identity": identity}))

    spec = template.authorizers["Auth"]
    assert spec.identity_sources == (
        "$request.header.Authorization",
        "$request.header.X-Api-Key",
        "$request.querystring.token",
        "$context.routeKey",
    )
    assert spec.ttl_s == 30


@pytest.mark.parametrize(
    ("authorizer", "route_auth", "message"),
    [
        ({**LAMBDA_AUTHORIZER, "AuthorizerPayloadFormatVersion": "1.0"}, None, "'1.0' is not"),
        ({**LAMBDA_AUTHORIZER, "EnableSimpleResponses": False}, None, "only simple responses"),
        ({k: v for k, v in LAMBDA_AUTHORIZER.items() if k != "EnableSimpleResponses"}, None,
         "only simple responses"),
        ({"JwtConfiguration": {"issuer": "x"}, "IdentitySource": "$request.header.A"}, None,
         "only Lambda authorizers"),
        ({**LAMBDA_AUTHORIZER, "FunctionArn": "arn:aws:lambda:us-east-1:1:function:f"}, None,
         "FunctionArn must be !GetAtt"),
        ({**LAMBDA_AUTHORIZER, "Identity": {"ReauthorizeEvery": 60}}, None,
         "needs identity sources"),
        ({**LAMBDA_AUTHORIZER, "Identity": {"Headers": ["A"], "ReauthorizeEvery": 3601}}, None,
         "ReauthorizeEvery must be 0 to 3600"),
        ({**LAMBDA_AUTHORIZER, "Identity": {"StageVariables": ["v"]}}, None, "stage variables"),
        ({**LAMBDA_AUTHORIZER, "Identity": {"Context": ["nope"]}}, None, r"\$context.nope"),
        (None, {"Authorizer": "Other"}, "'Other' is not in the HttpApi's Auth.Authorizers"),
        (None, {"Authorizer": "AWS_IAM"}, "'AWS_IAM' is not in"),
    ],
)  # fmt: skip
def test_what_cannot_run_locally_is_a_clear_template_error(
    tmp_path: Path,
    authorizer: dict[str, Any] | None,
    route_auth: dict[str, Any] | None,
    message: str,
) -> None:
    path = write_template(tmp_path, authorizer, route_auth=route_auth)

    with pytest.raises(TemplateError, match=message):
        load_template(path)


def test_unknown_default_authorizer(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="DefaultAuthorizer 'Missing'"):
        load_template(write_template(tmp_path, default="Missing"))


def test_authorizer_function_must_run_locally(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="'AuthorizerFunction' is not a zip-packaged Python"):
        load_template(write_template(tmp_path, authorizer_runtime="nodejs20.x"))
