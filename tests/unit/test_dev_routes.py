"""aiaas_dev.routes: matching requests to routes as API Gateway HTTP APIs do."""

from __future__ import annotations

import pytest

from aiaas_dev.routes import Route, RouteTable, match_path

# The routing example of the API Gateway developer guide, plus a few of ours.
ROUTES = [
    Route("GET", "/pets/dog/1", "exact"),
    Route("GET", "/pets/dog/{id}", "param"),
    Route("GET", "/pets/{proxy+}", "greedy"),
    Route("ANY", "/{proxy+}", "any-greedy"),
    Route("POST", "/items/{id}", "post-param"),
    Route("ANY", "/items/{id}", "any-param"),
    Route("GET", "/", "root"),
    Route("ANY", "$default", "default"),
]


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/pets/dog/1", "exact", {}),
        ("GET", "/pets/dog/2", "param", {"id": "2"}),
        ("GET", "/pets/cat/1", "greedy", {"proxy": "cat/1"}),
        ("POST", "/pets/dog/1", "any-greedy", {"proxy": "pets/dog/1"}),
        ("GET", "/test", "any-greedy", {"proxy": "test"}),
        ("POST", "/items/7", "post-param", {"id": "7"}),  # a named method beats ANY
        ("DELETE", "/items/7", "any-param", {"id": "7"}),
        ("GET", "/", "root", {}),
        ("POST", "/", "default", {}),  # a greedy variable needs at least one segment
    ],
)
def test_most_specific_route_wins(
    method: str, path: str, function: str, params: dict[str, str]
) -> None:
    match = RouteTable(ROUTES).match(method, path)

    assert match is not None
    assert (match.route.function, match.path_parameters) == (function, params)


def test_default_route_catches_the_rest_and_its_absence_means_not_found() -> None:
    routes = [Route("GET", "/items", "items"), Route("ANY", "$default", "default")]

    match = RouteTable(routes).match("POST", "/items")

    assert match is not None
    assert match.route.route_key == "$default"
    assert match.path_parameters == {}
    assert RouteTable(routes[:1]).match("POST", "/items") is None


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/v1/models/{name}/predict", "/v1/models/minilm/predict", {"name": "minilm"}),
        ("/v1/models/{name}/predict", "/v1/models//predict", None),  # no empty parameter
        ("/v1/models", "/v1/models/", None),  # a trailing slash is another path
        ("/v1/models/{name}", "/v1/models/a%20b", {"name": "a b"}),  # decoded
        ("/v1/models/{name}", "/v1/models/a%2Fb", {"name": "a/b"}),  # decoded after the split
        ("/files/{proxy+}", "/files/a/b%20c.txt", {"proxy": "a/b c.txt"}),
        ("/files/{proxy+}", "/files/", None),
        ("/files/{proxy+}", "/files", None),
        ("/items", "/items/extra", None),
    ],
)
def test_match_path(pattern: str, path: str, expected: dict[str, str] | None) -> None:
    assert match_path(pattern, path) == expected


def test_named_stage_prefixes_every_path() -> None:
    table = RouteTable([Route("GET", "/items/{id}", "fn"), Route("ANY", "$default", "d")], "prod")

    match = table.match("GET", "/prod/items/1")

    assert match is not None
    assert (match.route.function, match.path_parameters) == ("fn", {"id": "1"})
    assert table.prefix == "/prod"
    assert table.match("GET", "/items/1") is None  # outside the stage: not even $default
    assert table.match("GET", "/production/items/1") is None
    default = table.match("GET", "/prod")
    assert default is not None
    assert default.route.function == "d"


def test_route_key() -> None:
    assert Route("POST", "/v1/models/{name}/predict", "f").route_key == (
        "POST /v1/models/{name}/predict"
    )
    assert Route("ANY", "$default", "f").route_key == "$default"
