"""DriftFunction's handler: an EventBridge schedule (plain, no FastAPI) runs the drift job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiaas import logs
from aiaas.services import Services

logger = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(services: Services) -> Handler:
    """The handler over one function's services."""
    logs.setup(services.settings.log_level, "aiaas-drift")
    monitor = services.drift_monitor

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Check every captured version against its baseline; what was checked and found."""
        outcome = monitor.run()
        logger.info("drift job done", extra=dict(outcome))
        return outcome

    return handle
