"""One OpenAPI document for the whole HTTP API, merged from every function's FastAPI app.

Each API function (``functions/*/app.py``) serves one FastAPI app, and each app documents
its own routes. The console's API reference shows them as one document: the operations of
every route the template's HttpApi exposes (taken from the app that serves it), their
schemas, and the two credentials the authorizer takes (``x-api-key`` and a bearer login
token or key); public routes (``Auth: NONE``) say so with an empty ``security``.

The apps are built here as their functions build them, from a `Services` object, with
placeholder resource names: building an app makes no AWS call (the catalog app seeds the
built-ins only when its models directory exists, and it does not here).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiaas_dev.routes import Route

logger = logging.getLogger(__name__)

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
SECURITY_SCHEMES = {
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "An API key (`aiaas_<key id>_<secret>`), created with `POST /v1/keys`.",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT or API key",
        "description": "A login token (`POST /v1/auth/login`, 15 minutes, every scope of "
        "its user) or an API key.",
    },
}
GUARDED: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}]
# Placeholders: an app needs its settings to be built, never to answer an OpenAPI request.
_PLACEHOLDERS = {
    "accounts_table": "accounts",
    "usage_table": "usage",
    "jwt_secret_arn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:jwt",
    "models_table": "models",
    "weights_bucket": "weights",
    "jobs_table": "jobs",
    "batch_bucket": "batch",
    "log_level": "WARNING",
}


def app_documents() -> list[dict[str, Any]]:
    """Every API function's app's own OpenAPI document (predict, chat, auth, catalog, jobs)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # boto3 clients need a region
    from aiaas.services import (  # noqa: PLC0415  # the apps are slow to import
        auth_services,
        catalog_services,
        chat_services,
        jobs_services,
        predict_services,
    )
    from aiaas.settings import Settings  # noqa: PLC0415
    from aiaas.web import apps  # noqa: PLC0415

    factories: list[tuple[Callable[[Settings], Any], Callable[[Any], Any]]] = [
        (predict_services, apps.create_predict_app),
        (chat_services, apps.create_chat_app),
        (auth_services, apps.create_auth_app),
        (catalog_services, apps.create_catalog_app),
        (jobs_services, apps.create_jobs_app),
    ]
    documents = []
    with tempfile.TemporaryDirectory() as empty:
        for build, create in factories:
            serving = build in (predict_services, chat_services)
            models = Path(empty) if serving else Path(empty) / "absent"
            settings = Settings(models_dir=models, **_PLACEHOLDERS)  # type: ignore[arg-type]
            documents.append(create(build(settings)).openapi())
    return documents


def merge(
    documents: Iterable[dict[str, Any]], routes: Iterable[Route], title: str = "aiaas"
) -> dict[str, Any]:
    """Merge the apps' documents into one, keeping the routes the gateway exposes.

    Args:
        documents: Each app's OpenAPI document.
        routes: The template's routes (method, path, authorizer or None).
        title: The merged document's title.

    Returns:
        The merged document.

    Raises:
        ValueError: Two apps define one schema name differently.
    """
    documents = list(documents)
    operations = {
        (method, path): operation
        for document in documents
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        method = route.method.lower()
        operation = operations.get((method, route.path))
        if operation is None:
            logger.warning("%s %s is in the template but no app documents it", method, route.path)
            continue
        security = [] if route.authorizer is None else GUARDED
        paths.setdefault(route.path, {})[method] = {**operation, "security": security}
    return {
        "openapi": documents[0].get("openapi", "3.1.0") if documents else "3.1.0",
        "info": {
            "title": title,
            "version": documents[0]["info"]["version"] if documents else "0",
            "description": "Every route of the aiaas HTTP API, merged from each function's "
            "app. Send an API key as `x-api-key`, or a login token or key as a bearer token.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": _merged_schemas(documents),
            "securitySchemes": SECURITY_SCHEMES,
        },
        "security": GUARDED,
    }


def _merged_schemas(documents: Iterable[dict[str, Any]]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for document in documents:
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if name in schemas and schemas[name] != schema:
                raise ValueError(f"schema {name} differs between the apps' documents")
            schemas[name] = schema
    return dict(sorted(schemas.items()))


def write_document(routes: Iterable[Route], out: Path) -> dict[str, Any]:
    """Build the merged document and write it to ``out`` (its directory is created).

    Args:
        routes: The template's routes.
        out: The file to write.

    Returns:
        The document.
    """
    document = merge(app_documents(), routes)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    return document
