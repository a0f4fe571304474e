"""Each function's FastAPI app, built from the routers it serves."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from aiaas.settings import get_settings
from aiaas.web.deps import get_registry
from aiaas.web.errors import install_error_handlers
from aiaas.web.responses import FastJSONResponse
from aiaas.web.routes import models, predict


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
    configure_logging(settings.log_level)
    get_registry().preload(settings.preload)
    app = FastAPI(
        title="aiaas predictions", version="0.1.0", default_response_class=FastJSONResponse
    )
    install_error_handlers(app)
    app.include_router(models.router)
    app.include_router(predict.router)
    return app
