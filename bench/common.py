"""Timing helpers shared by the benchmark scripts (stdlib only: runs on 3.11 and 3.12)."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def median_ms(
    fn: Callable[[], object], *, warmup: int = 5, min_runs: int = 20, min_seconds: float = 1.0
) -> float:
    """Median wall time of ``fn`` in milliseconds, after ``warmup`` calls.

    Runs at least ``min_runs`` times and at least ``min_seconds`` in total.
    """
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < min_runs or time.perf_counter() - started < min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
        if len(samples) >= 2000:
            break
    return round(statistics.median(samples), 3)


def batch_of(sentences: list[str], size: int) -> list[str]:
    """``size`` realistic sentences (medium ones first: the median request is not a novel)."""
    medium = sorted(sentences, key=len)[len(sentences) // 4 :]
    return (medium * (size // len(medium) + 1))[:size]


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write results, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def paired_median_ms(
    a: Callable[[], object], b: Callable[[], object], runs: int = 400, warmup: int = 20
) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` called alternately, so drifting machine load hits both."""
    for _ in range(warmup):
        a()
        b()
    times_a, times_b = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        t2 = time.perf_counter()
        times_a.append((t1 - t0) * 1e3)
        times_b.append((t2 - t1) * 1e3)
    return round(statistics.median(times_a), 3), round(statistics.median(times_b), 3)


def new_key(http: Any, scopes: list[str], password: str, **extra: Any) -> dict[str, str]:
    """Headers with a new account's API key (signup, login, key), for a bench on the stack."""
    import uuid  # noqa: PLC0415

    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    http.post("/v1/auth/signup", json={"email": email, "password": password}).raise_for_status()
    login = http.post("/v1/auth/login", json={"email": email, "password": password})
    token = login.raise_for_status().json()["access_token"]
    key = http.post(
        "/v1/keys",
        json={"name": "bench", "scopes": scopes, **extra},
        headers={"authorization": f"Bearer {token}"},
    )
    return {"x-api-key": key.raise_for_status().json()["key"]}


@contextmanager
def local_stack() -> Iterator[Any]:
    """The repository's template on the local stack (moto, every function), on a free port."""
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "tools"))
    from aiaas_dev.stack import LocalStack  # noqa: PLC0415 - the dev tools, after the path
    from aiaas_dev.template import load_template  # noqa: PLC0415

    stack = LocalStack(
        load_template(root / "template.yaml"),
        port=0,
        env_overrides={"AIAAS_MODELS_DIR": os.environ["AIAAS_MODELS_DIR"]},
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def block_median_ms(
    a: Callable[[], object],
    b: Callable[[], object],
    runs: int = 400,
    rounds: int = 8,
    warmup: int = 3,
) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` run in alternating blocks (``rounds`` of each, ``runs`` calls
    in all per side, the first ``warmup`` of every block untimed): for two engines with
    sessions of their own. Alternating single calls there measures each right after the other
    one (its weights in the caches, its pool threads still spinning: 2x on these 2 vCPUs), not
    as a function serving one model runs it; blocks still share the machine's drift."""
    per_block = max(1, runs // rounds)
    times_a: list[float] = []
    times_b: list[float] = []
    for _ in range(rounds):
        for fn, times in ((a, times_a), (b, times_b)):
            for _ in range(warmup):
                fn()
            for _ in range(per_block):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
    return round(statistics.median(times_a), 3), round(statistics.median(times_b), 3)
