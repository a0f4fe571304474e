"""Each function's FastAPI app, built from the routers it serves and the services it is given.

``functions/<name>/app.py`` builds the function's `Services` once (``aiaas.services``), then
calls the factory here. Routers are imported inside each factory: a function imports only
what its layers ship (AuthFunction has no inference runtime;
``tests/integration/test_function_imports.py`` checks).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig

from aiaas import logs
from aiaas.services import Services
from aiaas.web.docs import install_docs
from aiaas.web.errors import install_error_handlers
from aiaas.web.logcontext import LogContext
from aiaas.web.paths import PathGuard
from aiaas.web.responses import FastJSONResponse

# FastAPI's native OpenTelemetry looks for providers on every request; the functions trace
# with X-Ray (the template's ``Tracing: Active``) instead.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def configure_logging(level: str, service: str = "aiaas") -> None:
    """JSON log lines at ``level`` (Lambda's runtime installs the handler; see `aiaas.logs`)."""
    logs.setup(level, service)


def create_predict_app(services: Services) -> FastAPI:
    """The PredictFunction app: native predictions and explanations, OpenAI's embeddings and
    the Open Inference Protocol."""
    from aiaas.web.routes import infer, openai, predict  # noqa: PLC0415

    return _model_app(services, "aiaas predictions", predict.router, openai.router, infer.router)


def create_chat_app(services: Services) -> FastAPI:
    """The ChatFunction app: OpenAI's chat, completions and transcriptions (the generative
    built-ins), apart from PredictFunction, whose cold start does not import them."""
    from aiaas.web.routes import audio, chat  # noqa: PLC0415

    return _model_app(services, "aiaas chat and speech", chat.router, audio.router)


def _model_app(services: Services, title: str, *routers: APIRouter) -> FastAPI:
    """An app of model routes: one EMF line and one per-model record (the owner's metrics
    route) per model request."""
    from aiaas.web.observe import RequestMetrics  # noqa: PLC0415

    app = _app(services, title, *routers)
    app.add_middleware(RequestMetrics, recorder=services.model_metrics.record)
    return app


def create_auth_app(services: Services) -> FastAPI:
    """The AuthFunction app: signup, login, keys, usage, health."""
    from aiaas.web.routes import account, auth, health, keys, usage  # noqa: PLC0415

    routers = (health.router, auth.router, keys.router, usage.router, account.router)
    return _app(services, "aiaas accounts", *routers)


def create_catalog_app(services: Services) -> FastAPI:
    """The CatalogFunction app: the catalog and Open Inference Protocol metadata.

    The layer's built-in models are seeded into the catalog here, at cold start (conditional
    writes, no-ops once done): no custom resource to deploy, and the local stack gets them
    the same way.
    """
    from aiaas.web.routes import catalog, oip  # noqa: PLC0415

    settings = services.settings
    if settings.models_dir.is_dir():
        seeded = services.catalog.seed_builtins(services.layer.manifests().values())
        logging.getLogger(__name__).info("built-in models seeded: %s", seeded or "none new")
    return _app(services, "aiaas catalog", catalog.router, oip.router)


def create_jobs_app(services: Services) -> FastAPI:
    """The JobsFunction app: batch and training jobs (create with a presigned upload, read,
    list, cancel)."""
    from aiaas.web.routes import batch_jobs, training_jobs  # noqa: PLC0415

    return _app(services, "aiaas jobs", batch_jobs.router, training_jobs.router)


def _app(services: Services, title: str, *routers: APIRouter) -> FastAPI:
    configure_logging(services.settings.log_level, title.replace(" ", "-"))
    app = FastAPI(
        title=title,
        version="0.1.0",
        default_response_class=FastJSONResponse,
        telemetry=NO_TELEMETRY,
    )
    app.state.services = services
    install_error_handlers(app)
    install_docs(app, routers)
    app.add_middleware(PathGuard)
    app.add_middleware(LogContext)
    for router in routers:
        app.include_router(router)
    return app
