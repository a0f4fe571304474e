"""Each function's FastAPI app, built from the routers it serves."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI

from aiaas.settings import get_settings
from aiaas.web.deps import get_registry
from aiaas.web.errors import install_error_handlers
from aiaas.web.responses import FastJSONResponse
from aiaas.web.routes import auth, health, keys, models, predict, usage


def configure_logging(level: str) -> None:
    """Set the root level (Lambda's runtime installs the handler)."""
    logging.basicConfig(level=level)
    logging.getLogger().setLevel(level)


def create_predict_app() -> FastAPI:
    """The PredictFunction app. Reads settings now so bad configuration fails at cold start.

    Models named in ``AIAAS_PRELOAD_MODELS`` are opened here, during Lambda's init phase,
    never in a lifespan handler (Mangum would run it on every invocation).
    """
    settings = get_settings()
    settings.require("usage_table")
    if not settings.models_dir.is_dir():
        raise RuntimeError(f"AIAAS_MODELS_DIR {settings.models_dir} is not a directory")
    configure_logging(settings.log_level)
    get_registry().preload(settings.preload)
    return _app("aiaas predictions", models.router, predict.router)


def create_auth_app() -> FastAPI:
    """The AuthFunction app: signup, login, keys, usage, health."""
    settings = get_settings()
    settings.require("accounts_table", "usage_table", "jwt_secret_arn")
    configure_logging(settings.log_level)
    return _app("aiaas accounts", health.router, auth.router, keys.router, usage.router)


def _app(title: str, *routers: APIRouter) -> FastAPI:
    app = FastAPI(title=title, version="0.1.0", default_response_class=FastJSONResponse)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    return app
