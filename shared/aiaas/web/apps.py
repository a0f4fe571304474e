"""Each function's FastAPI app, built from the routers it serves.

Routers are imported inside each factory: a function imports only what its layers ship
(AuthFunction has no inference runtime; ``tests/integration/test_function_imports.py`` checks).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI

from aiaas.services import catalog_service
from aiaas.settings import get_settings
from aiaas.web.errors import install_error_handlers
from aiaas.web.responses import FastJSONResponse


def configure_logging(level: str) -> None:
    """Set the root level (Lambda's runtime installs the handler)."""
    logging.basicConfig(level=level)
    logging.getLogger().setLevel(level)


def create_predict_app() -> FastAPI:
    """The PredictFunction app. Reads settings now so bad configuration fails at cold start.

    Models named in ``AIAAS_PRELOAD_MODELS`` are opened here, during Lambda's init phase,
    never in a lifespan handler (Mangum would run it on every invocation).
    """
    from aiaas.web.routes import infer, openai, predict  # noqa: PLC0415
    from aiaas.web.serving import get_registry  # noqa: PLC0415

    settings = get_settings()
    settings.require("usage_table")
    if not settings.models_dir.is_dir():
        raise RuntimeError(f"AIAAS_MODELS_DIR {settings.models_dir} is not a directory")
    configure_logging(settings.log_level)
    get_registry().preload(settings.preload)
    return _app("aiaas predictions", predict.router, openai.router, infer.router)


def create_auth_app() -> FastAPI:
    """The AuthFunction app: signup, login, keys, usage, health."""
    from aiaas.web.routes import auth, health, keys, usage  # noqa: PLC0415

    settings = get_settings()
    settings.require("accounts_table", "usage_table", "jwt_secret_arn")
    configure_logging(settings.log_level)
    return _app("aiaas accounts", health.router, auth.router, keys.router, usage.router)


def create_catalog_app() -> FastAPI:
    """The CatalogFunction app: the catalog and Open Inference Protocol metadata.

    The layer's built-in models are seeded into the catalog here, at cold start (three
    conditional writes, no-ops once done): no custom resource to deploy, and the local stack
    gets them the same way.
    """
    from aiaas.web.routes import catalog, oip  # noqa: PLC0415
    from aiaas.web.serving import get_registry  # noqa: PLC0415

    settings = get_settings()
    settings.require("models_table", "weights_bucket")
    configure_logging(settings.log_level)
    if settings.models_dir.is_dir():
        seeded = catalog_service().seed_builtins(get_registry().manifests().values())
        logging.getLogger(__name__).info("built-in models seeded: %s", seeded or "none new")
    return _app("aiaas catalog", catalog.router, oip.router)


def create_jobs_app() -> FastAPI:
    """The JobsFunction app: batch jobs (create with a presigned upload, read, list, cancel)."""
    from aiaas.web.routes import batch_jobs  # noqa: PLC0415

    settings = get_settings()
    settings.require("jobs_table", "batch_bucket", "models_table")
    configure_logging(settings.log_level)
    return _app("aiaas batch jobs", batch_jobs.router)


def _app(title: str, *routers: APIRouter) -> FastAPI:
    app = FastAPI(title=title, version="0.1.0", default_response_class=FastJSONResponse)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    return app
