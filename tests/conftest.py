"""Shared fixtures: the built model zoo (``make models``) and its held-out test data."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["tests.aws", "tests.gpu"]

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.setdefault("AIAAS_MODELS_DIR", str(ROOT / "build" / "models")))
TESTDATA = ROOT / "build" / "testdata"
EVENTS = ROOT / "events"


def pytest_configure(config: pytest.Config) -> None:
    """Fail at once, with the fix, when the model zoo was not built."""
    if not any(MODELS_DIR.glob("*/manifest.json")):
        raise pytest.UsageError(f"no models in {MODELS_DIR}: run `make models` (or `make test`)")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Directory of the built models."""
    return MODELS_DIR


def load_testdata(name: str) -> Any:
    """Held-out data the model build wrote (``build/testdata/<name>.json``)."""
    return json.loads((TESTDATA / f"{name}.json").read_text())


def load_event(name: str) -> dict[str, Any]:
    """An API Gateway event from ``events/`` (the files ``sam local invoke -e`` uses)."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event
