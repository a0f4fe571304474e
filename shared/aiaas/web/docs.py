"""OpenAPI responses of the routes that return their own `Response` (the prediction routes).

Those routes encode their JSON themselves (orjson, numpy arrays as they are), so a
``response_model`` would only document; declared the FastAPI way it also builds pydantic
schemas and imports ``pydantic.v1`` at cold start (~40 ms, measured). `documented` records
the bodies on the endpoint instead, and `install_docs` renders them into the app's OpenAPI
document the first time it is asked for, never on a prediction's path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__aiaas_responses__"
REF = "#/components/schemas/{model}"


def documented(
    ok: type[BaseModel] | None, errors: Mapping[int | str, Mapping[str, Any]], status: int = 200
) -> Callable[[F], F]:
    """Record an endpoint's success body and its error responses (``error_responses(...)``)."""

    def mark(endpoint: F) -> F:
        responses = {status: dict(spec) for status, spec in errors.items()}
        if ok is not None:
            responses[status] = {"model": ok, "description": "Successful Response"}
        setattr(endpoint, ATTRIBUTE, responses)
        return endpoint

    return mark


def install_docs(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Make ``app.openapi()`` add the responses recorded on the routers' endpoints (and drop
    the 422 FastAPI adds to routes with parameters: the API answers validation errors with
    400)."""
    plain = app.openapi
    routes = [
        (route, getattr(route.endpoint, ATTRIBUTE))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and hasattr(route.endpoint, ATTRIBUTE)
    ]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_responses(plain(), routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_responses(
    document: dict[str, Any], routes: list[tuple[APIRoute, dict[int | str, dict[str, Any]]]]
) -> dict[str, Any]:
    models = {
        spec["model"] for _, responses in routes for spec in responses.values() if "model" in spec
    }
    refs, defs = models_json_schema(
        [(model, "serialization") for model in models], ref_template=REF
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(defs.get("$defs", {}))
    for route, responses in routes:
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            documented_responses = operation.setdefault("responses", {})
            documented_responses.pop("422", None)
            for status, spec in responses.items():
                entry: dict[str, Any] = {"description": spec.get("description", "")}
                if "model" in spec:
                    schema = refs[(spec["model"], "serialization")]
                    entry["content"] = {"application/json": {"schema": schema}}
                documented_responses[str(status)] = entry
    _drop_unused_validation_schemas(document)
    return document


def _drop_unused_validation_schemas(document: dict[str, Any]) -> None:
    """FastAPI's 422 schemas, once no operation refers to them."""
    if "/HTTPValidationError'" not in str(document["paths"]):
        schemas = document.get("components", {}).get("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
