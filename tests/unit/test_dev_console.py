"""The local stack's web console: static files for the GETs no route takes (aiaas_dev.static)
and the one OpenAPI document merged from every function's app (aiaas_dev.openapi)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis

from aiaas_dev.openapi import GUARDED, app_documents, merge
from aiaas_dev.routes import Route, RouteTable
from aiaas_dev.server import Gateway, HttpRequest
from aiaas_dev.static import StaticFiles
from aiaas_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def console(tmp_path: Path) -> StaticFiles:
    (tmp_path / "js").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "js" / "app.js").write_text("export {};")
    (tmp_path / ".secret").write_text("no")
    (tmp_path.parent / "outside.txt").write_text("no")
    return StaticFiles(tmp_path)


def test_root_is_index_html_and_types_follow_the_suffix(console: StaticFiles) -> None:
    index, script = console.response("/?x=1"), console.response("/js/app.js")

    assert index is not None and index.body.startswith(b"<!doctype html>")
    assert index.header("content-type") == "text/html; charset=utf-8"
    assert script is not None and script.header("content-type") == "text/javascript; charset=utf-8"
    assert script.header("x-content-type-options") == "nosniff"


@pytest.mark.parametrize(
    "target", ["/missing.js", "/../outside.txt", "/js/../../outside.txt", "/.secret", "/js"]
)
def test_nothing_outside_the_directory_or_hidden(console: StaticFiles, target: str) -> None:
    assert console.response(target) is None


def test_the_gateway_serves_files_only_where_no_route_answers(console: StaticFiles) -> None:
    table = RouteTable([Route("GET", "/v1/health", "Fn", None)], "$default")
    gateway = Gateway(table, {}, console=console)

    assert gateway.handle(HttpRequest("GET", "/")).status == 200
    assert gateway.handle(HttpRequest("HEAD", "/js/app.js")).status == 200
    assert gateway.handle(HttpRequest("POST", "/")).status == 404
    assert gateway.handle(HttpRequest("GET", "/v1/nothing")).status == 404


def doc(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "x", "version": "1"}, "paths": paths,
            "components": {"schemas": schemas or {}}}  # fmt: skip


def test_merge_keeps_the_template_routes_with_their_security() -> None:
    routes = [Route("POST", "/v1/auth/login", "Auth", None), Route("GET", "/v1/keys", "Auth", "A")]
    error = {"Error": {"type": "object"}}
    login = doc({"/v1/auth/login": {"post": {"summary": "login"}}}, error)
    keys = doc({"/v1/keys": {"get": {"summary": "keys"}}, "/internal": {"get": {}}}, error)
    documents = [login, keys]

    merged = merge(documents, routes)

    assert set(merged["paths"]) == {"/v1/auth/login", "/v1/keys"}
    assert merged["paths"]["/v1/auth/login"]["post"]["security"] == []
    assert merged["paths"]["/v1/keys"]["get"]["security"] == GUARDED
    assert set(merged["components"]["securitySchemes"]) == {"apiKey", "bearer"}
    assert merged["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
    assert list(merged["components"]["schemas"]) == ["Error"]


def test_merge_refuses_two_meanings_of_one_schema() -> None:
    documents = [doc({}, {"Error": {"type": "object"}}), doc({}, {"Error": {"type": "string"}})]

    with pytest.raises(ValueError, match="Error"):
        merge(documents, [])


def test_every_route_of_the_template_is_in_the_merged_document() -> None:
    template = load_template(ROOT / "template.yaml")

    merged = merge(app_documents(), template.routes)

    documented = {(m.upper(), p) for p, item in merged["paths"].items() for m in item}
    assert {(r.method, r.path) for r in template.routes} == documented
    ids = [op["operationId"] for item in merged["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    operations = list(schemathesis.openapi.from_dict(merged).get_all_operations())
    assert len(operations) == len(ids) and all(o.ok() for o in operations)
