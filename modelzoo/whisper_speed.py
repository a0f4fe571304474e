"""The speech runtime's own speed, per component: the model build's gate and `make bench`
time it the same way (numpy and the runtime only: importable from either environment)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np


def speed(served: Any, path: Path) -> dict[str, float]:
    """Median encoder run (one window) and decoder step (one token, 24 tokens in)."""
    processor = served.processor
    samples = processor.prepare({"audio": path.read_bytes()}, 0).samples
    features = processor.features(samples)[:, : processor.n_frames]
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        cross = processor.encode(served.runner, features)
        runs.append(time.perf_counter() - started)
    decoder = processor.decoder
    ids = [processor.ids.sot] + [processor.ids.timestamp_begin] * 23
    _, past = decoder.step(ids, 0, cross, decoder.empty())
    steps = []
    for position in range(24, 48):
        started = time.perf_counter()
        _, past = decoder.step([262], position, cross, past)
        steps.append(time.perf_counter() - started)
    return {"encoder_ms": round(float(np.median(runs)) * 1e3, 2),
            "decoder_ms_per_token": round(float(np.median(steps)) * 1e3, 2)}  # fmt: skip
