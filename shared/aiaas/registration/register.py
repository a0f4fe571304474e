"""Registration of an uploaded version: validate, quantize behind a gate, profile, store.

Runs once per upload even when S3 delivers its event twice: the version's
``PENDING_UPLOAD -> VALIDATING`` transition is conditional, and only its winner works.
Whatever happens next, the version ends READY or FAILED with a reason; nothing else in the
catalog changes for a bad upload.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from aiaas.domain.catalog import MAX_TOKENIZER_BYTES, TOKENIZER_FILE, parse_upload_key
from aiaas.domain.catalog_records import CatalogStore, ModelVersion
from aiaas.domain.pricing import PriceConfig, priced_latency
from aiaas.registration.parity import (
    MAX_PARITY_BYTES,
    PARITY_FILE,
    check_parity,
    parse_parity,
    refusal,
)
from aiaas.registration.quantization import GateConfig, gate_from, quantize_and_gate
from aiaas.registration.runs import LatencyProfile, profile_latency
from aiaas.registration.validation import InvalidModel, ValidationLimits, validate_model
from aiaas.settings import Settings

logger = logging.getLogger(__name__)
Outcome = Literal["READY", "FAILED", "SKIPPED"]


class Weights(Protocol):
    """The object store registration reads uploads from and writes artifacts to."""

    def size(self, key: str) -> int:
        """Bytes of an object."""
        ...

    def read(self, key: str, max_bytes: int) -> bytes:
        """An object's bytes."""
        ...

    def write(self, key: str, data: bytes) -> str:
        """Store an artifact (encrypted); its URI."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is there."""
        ...


@dataclass(frozen=True, slots=True)
class RegistrationConfig:
    """Limits, the int8 gate and the prices the profile's cost estimate uses."""

    limits: ValidationLimits = field(default_factory=ValidationLimits)
    gate: GateConfig = field(default_factory=GateConfig)
    price: PriceConfig = field(default_factory=lambda: PriceConfig(memory_mb=2048))


class Registrar:
    """Turns one uploaded file into a READY (or FAILED) catalog version."""

    def __init__(self, store: CatalogStore, weights: Weights, config: RegistrationConfig) -> None:
        self.store = store
        self.weights = weights
        self.config = config

    def register(self, key: str, etag: str = "") -> Outcome:
        """Register the upload at ``key`` (its ETag ``etag``, from the S3 event).

        SKIPPED for a replayed event, a key the version did not give out, and an upload after
        the version took its one: that one is counted in the version's ``ignored_uploads``.
        """
        tenant, name, number = parse_upload_key(key)
        pending = self.store.get_version(tenant, name, number)
        if pending is None or (pending.upload_key and pending.upload_key != key):
            logger.info("skip %s: not the upload this version's form names", key)
            return "SKIPPED"
        if not self.store.start_validation(tenant, name, number, etag):
            current = self.store.get_version(tenant, name, number)
            if current is not None and etag and current.upload_etag not in ("", etag):
                logger.warning("%s: a later upload was ignored (a version takes one)", key)
                self.store.count_ignored_upload(tenant, name, number)
            else:
                logger.info("skip %s: version is not waiting for an upload (replayed event)", key)
            return "SKIPPED"
        version = self.store.get_version(tenant, name, number)
        assert version is not None  # start_validation found it
        try:
            ready = self._process(version, key)
        except InvalidModel as exc:
            logger.info("upload %s refused: %s", key, exc.message)
            self.store.put_version(replace(version, status="FAILED", reason=exc.message))
            return "FAILED"
        except Exception:
            logger.exception("registration of %s failed", key)
            reason = "internal error while registering; upload again or contact support"
            self.store.put_version(replace(version, status="FAILED", reason=reason))
            return "FAILED"
        self.store.put_version(ready)
        self._default_if_first(tenant, name, number)
        return "READY"

    def _process(self, version: ModelVersion, key: str) -> ModelVersion:
        limits = self.config.limits
        size = self.weights.size(key)
        if size > limits.max_bytes:
            raise InvalidModel(
                "too_large", f"file is {size} bytes; the limit is {limits.max_bytes}"
            )
        model = validate_model(self.weights.read(key, limits.max_bytes), limits)
        prefix = f"{version.tenant}/{version.name}/{version.version}"
        parity_doc = self._parity_doc(key)
        parity = check_parity(model.data, parity_doc) if parity_doc is not None else None
        if parity is not None and not parity.passed:
            raise InvalidModel("parity", refusal(parity))
        artifacts = {"fp32": self.weights.write(f"{prefix}/model.fp32.onnx", model.data)}
        quant = quantize_and_gate(model, self.config.gate)
        served, variant = model.data, "fp32"
        int8_parity = None
        if quant.kept and quant.data is not None and parity_doc is not None:
            int8_parity = check_parity(quant.data, parity_doc)
        if quant.kept and quant.data is not None and (int8_parity is None or int8_parity.passed):
            artifacts["int8"] = self.weights.write(f"{prefix}/model.int8.onnx", quant.data)
            served, variant = quant.data, "int8"
        digests = {"fp32": model.sha256}
        if variant == "int8":
            digests["int8"] = str(quant.to_dict().get("sha256", ""))
        tokenizer = self._tokenizer(key, prefix)
        if tokenizer is not None:
            artifacts["tokenizer"], digests["tokenizer"] = tokenizer
        profile = profile_latency(served, model.inputs)
        return replace(
            version,
            status="READY",
            reason="",
            sha256=model.sha256,
            size=model.size,
            inputs=[t.to_dict() for t in model.inputs],
            outputs=[t.to_dict() for t in model.outputs],
            quality={
                "int8": quant.to_dict()
                | ({"parity": int8_parity.to_dict()} if int8_parity is not None else {})
                | ({"kept": False} if int8_parity is not None and not int8_parity.passed else {}),
                "opset": model.opset,
                "producer": model.producer,
                **({"parity": parity.to_dict()} if parity is not None else {}),
            },
            latency=self._latency(profile, variant),
            artifacts=artifacts,
            digests=digests,
        )

    def _parity_doc(self, key: str) -> dict[str, Any] | None:
        """The ``parity.json`` uploaded beside the model (the training service writes one)."""
        source = key.rsplit("/", 1)[0] + f"/{PARITY_FILE}"
        if not self.weights.exists(source):
            return None
        size = self.weights.size(source)
        if size > MAX_PARITY_BYTES:
            raise InvalidModel(
                "parity", f"parity.json is {size} bytes; the limit is {MAX_PARITY_BYTES}"
            )
        return parse_parity(self.weights.read(source, MAX_PARITY_BYTES))

    def _tokenizer(self, key: str, prefix: str) -> tuple[str, str] | None:
        """The ``tokenizer.json`` uploaded beside the model, checked and stored; None if none."""
        source = key.rsplit("/", 1)[0] + f"/{TOKENIZER_FILE}"
        if not self.weights.exists(source):
            return None
        size = self.weights.size(source)
        if size > MAX_TOKENIZER_BYTES:
            raise InvalidModel(
                "tokenizer", f"tokenizer.json is {size} bytes; the limit is {MAX_TOKENIZER_BYTES}"
            )
        data = self.weights.read(source, MAX_TOKENIZER_BYTES)
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise InvalidModel("tokenizer", "tokenizer.json is not JSON") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("model"), dict):
            raise InvalidModel(
                "tokenizer", "tokenizer.json is not a Hugging Face tokenizers file (no 'model')"
            )
        uri = self.weights.write(f"{prefix}/{TOKENIZER_FILE}", data)
        return uri, hashlib.sha256(data).hexdigest()

    def _latency(self, profile: LatencyProfile, variant: str) -> dict[str, Any]:
        """The profile with its costs (`aiaas.domain.pricing.priced_latency`)."""
        return {
            **profile.to_dict(),
            **priced_latency(profile.p50_ms, profile.threads, variant, self.config.price),
        }

    def _default_if_first(self, tenant: str, name: str, number: int) -> None:
        model = self.store.get_model(tenant, name)
        if model is not None and model.default_version is None:
            self.store.save_model(model.with_changes(default_version=number))


def registrar_from(settings: Settings, store: CatalogStore, weights: Weights) -> Registrar:
    """A registrar with the limits, gate and prices of ``settings``."""
    config = RegistrationConfig(
        limits=ValidationLimits(max_bytes=settings.max_upload_bytes),
        gate=gate_from(settings),
        price=PriceConfig(
            memory_mb=settings.serving_memory_mb,
            per_gb_second=settings.price_per_gb_second,
            per_request=settings.price_per_request,
        ),
    )
    return Registrar(store, weights, config)
