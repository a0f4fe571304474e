"""RegisterModelFunction's handler: S3 ObjectCreated events on ``uploads/`` (plain, no FastAPI)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from aiaas.catalog.quantization import GateConfig
from aiaas.catalog.register import Registrar, RegistrationConfig
from aiaas.catalog.runs import PriceConfig
from aiaas.catalog.validation import ValidationLimits
from aiaas.repositories.models import DynamoCatalog
from aiaas.repositories.weights import S3Weights
from aiaas.settings import get_settings

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def registrar() -> Registrar:
    """The process-wide registrar, configured from settings."""
    import boto3  # noqa: PLC0415 - made lazily: moto must start before a client exists

    s = get_settings()
    s.require("models_table", "weights_bucket")
    logging.getLogger().setLevel(s.log_level)
    config = RegistrationConfig(
        limits=ValidationLimits(max_bytes=s.max_upload_bytes),
        gate=GateConfig(
            min_mean_cosine=s.gate_min_mean_cosine,
            min_min_cosine=s.gate_min_min_cosine,
            max_label_disagreement=s.gate_max_label_disagreement,
        ),
        price=PriceConfig(
            memory_mb=s.serving_memory_mb,
            per_gb_second=s.price_per_gb_second,
            per_request=s.price_per_request,
        ),
    )
    return Registrar(
        DynamoCatalog(boto3.client("dynamodb"), str(s.models_table)),
        S3Weights(boto3.client("s3"), str(s.weights_bucket)),
        config,
    )


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Register every upload the event names; returns the outcome per key."""
    outcomes = {}
    for record in event.get("Records", []):
        s3 = record.get("s3", {})
        key = unquote_plus(s3.get("object", {}).get("key", ""))
        if s3.get("bucket", {}).get("name") != get_settings().weights_bucket:
            logger.warning("ignoring an event for bucket %s", s3.get("bucket", {}).get("name"))
            continue
        outcomes[key] = registrar().register(key)
        logger.info("registration of %s: %s", key, outcomes[key])
    return {"outcomes": outcomes}
