"""aiaas_dev.cli: the ``event`` command, argument parsing and the start banner's examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiaas_dev.cli import _example_curls, _route_lines, main
from aiaas_dev.routes import Route, RouteTable

ECHO_TEMPLATE = str(Path(__file__).resolve().parents[1] / "fixtures" / "echo_template.yaml")


def test_event_command_prints_the_event_for_the_matching_route(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(
        ["event", "POST", "/items/42?v=1", "--template", ECHO_TEMPLATE, "--body", '{"a": 1}',
         "--header", "X-Trace: abc"]
    )  # fmt: skip

    event = json.loads(capsys.readouterr().out)
    assert status == 0
    assert event["routeKey"] == "POST /items/{id}"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"v": "1"}
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-trace"] == "abc"
    assert event["headers"]["x-forwarded-proto"] == "https"


def test_event_command_with_a_stage(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["event", "GET", "/prod/items", "--template", ECHO_TEMPLATE, "--stage", "prod"])

    event = json.loads(capsys.readouterr().out)
    assert status == 0
    assert (event["rawPath"], event["requestContext"]["stage"]) == ("/prod/items", "prod")


def test_event_command_without_a_route(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {}\n")

    assert main(["event", "GET", "/x", "--template", str(template)]) == 1
    assert "no route for GET /x" in capsys.readouterr().err


def test_bad_template_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["event", "GET", "/x", "--template", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read template" in capsys.readouterr().err


def test_bad_key_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--env", "NO_EQUALS_SIGN"])
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_example_curls() -> None:
    table = RouteTable(
        [Route("GET", "/v1/models", "P"), Route("POST", "/v1/models/{name}/predict", "P")]
    )

    curls = _example_curls(
        "http://127.0.0.1:3000", table, {"name": "all-minilm-l6-v2"}, '{"inputs": ["hello world"]}'
    )

    assert curls == [
        "curl -s http://127.0.0.1:3000/v1/models",
        "curl -s -X POST http://127.0.0.1:3000/v1/models/all-minilm-l6-v2/predict"
        """ -H 'content-type: application/json' -d '{"inputs": ["hello world"]}'""",
    ]
    assert "<name>" in _example_curls("http://h", table, {}, "{}")[1]


AUTH_TEMPLATE = str(Path(__file__).resolve().parents[1] / "fixtures" / "auth_template.yaml")


def test_event_command_prints_the_authorizer_event(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["event", "GET", "/items/7?x=1", "--template", AUTH_TEMPLATE, "--authorizer",
         "--header", "Authorization: Bearer good"]
    )  # fmt: skip

    event = json.loads(capsys.readouterr().out)
    assert status == 0
    assert (event["version"], event["type"]) == ("2.0", "REQUEST")
    assert event["identitySource"] == ["Bearer good"]
    assert event["routeArn"].endswith(":1234567890/$default/GET/items/7")
    assert event["routeKey"] == "GET /items/{id}"
    assert "body" not in event


def test_event_command_authorizer_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["event", "GET", "/items/7", "--template", AUTH_TEMPLATE, "--authorizer"]) == 1
    assert "answers 401 without calling the authorizer" in capsys.readouterr().err

    assert main(["event", "GET", "/public", "--template", AUTH_TEMPLATE, "--authorizer"]) == 1
    assert "GET /public is public" in capsys.readouterr().err


def test_event_command_with_an_authorizer_context(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["event", "GET", "/items/7", "--template", AUTH_TEMPLATE,
         "--authorizer-context", '{"tenant": "t1", "scopes": "predict"}']
    )  # fmt: skip

    event = json.loads(capsys.readouterr().out)
    assert status == 0
    assert event["requestContext"]["authorizer"] == {
        "lambda": {"tenant": "t1", "scopes": "predict"}
    }


@pytest.mark.parametrize("value", ["not json", "[1]"])
def test_authorizer_context_must_be_a_json_object(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["event", "GET", "/x", "--authorizer-context", value])
    assert "--authorizer-context" in capsys.readouterr().err


def test_route_lines_show_the_authorizer() -> None:
    table = RouteTable([Route("GET", "/a", "F"), Route("GET", "/b", "F", authorizer="Auth")])

    lines = _route_lines(table)

    assert lines[0].endswith("auth: NONE")
    assert lines[1].endswith("auth: Auth")


def test_example_curls_prefer_a_post_with_parameters_and_show_the_auth_header() -> None:
    table = RouteTable(
        [
            Route("POST", "/v1/auth/login", "A", authorizer=None),
            Route("GET", "/v1/health", "A"),
            Route("POST", "/v1/models/{name}/predict", "P", authorizer="Auth"),
        ]
    )

    curls = _example_curls("http://h", table, {"name": "m"}, "{}")

    assert curls == [
        "curl -s http://h/v1/health",
        "curl -s -X POST http://h/v1/models/m/predict -H 'authorization: Bearer <token>'"
        " -H 'content-type: application/json' -d '{}'",
    ]
