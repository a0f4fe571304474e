"""The one pool of open models: capped by count and by estimated memory, opened once each."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from aiaas_runtime import ModelPool, Opened
from aiaas_runtime.session import open_session
from tests.unit import catalog_models as cm


def model_files(tmp_path: Path, count: int) -> list[Path]:
    paths = []
    for seed in range(count):
        path = tmp_path / f"m{seed}.onnx"
        path.write_bytes(cm.to_bytes(cm.mlp(seed=seed)))
        paths.append(path)
    return paths


def session_opener(path: Path):
    return lambda: Opened(open_session(path, prefer_gpu=False), 2 * path.stat().st_size)


def test_least_recently_used_session_closes_over_the_count(tmp_path: Path) -> None:
    pool: ModelPool[object] = ModelPool(max_items=2)
    first, second, third = model_files(tmp_path, 3)
    session = pool.get(first, session_opener(first))
    assert pool.get(first, session_opener(first)) is session  # kept across calls
    pool.get(second, session_opener(second))
    pool.get(first, session_opener(first))  # first is now the most recent
    pool.get(third, session_opener(third))
    assert first in pool and third in pool and second not in pool


def test_memory_cap_keeps_only_what_fits(tmp_path: Path) -> None:
    paths = model_files(tmp_path, 3)
    one_model = 2 * paths[0].stat().st_size
    evicted: list[object] = []
    pool: ModelPool[object] = ModelPool(
        max_items=10, max_bytes=one_model * 2, on_evict=evicted.append
    )
    sessions = [pool.get(path, session_opener(path)) for path in paths]
    assert [path in pool for path in paths] == [False, True, True]
    assert evicted == sessions[:1] and pool.used_bytes <= one_model * 2


def test_concurrent_first_requests_open_once() -> None:
    pool: ModelPool[int] = ModelPool()
    calls: list[int] = []

    def opener() -> Opened[int]:
        calls.append(1)
        time.sleep(0.05)
        return Opened(42, 1)

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(pool.get("k", opener))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42] * 8 and len(calls) == 1


def test_a_failed_open_leaves_nothing_and_is_tried_again() -> None:
    pool: ModelPool[int] = ModelPool()

    def broken() -> Opened[int]:
        raise RuntimeError("cannot open")

    with pytest.raises(RuntimeError):
        pool.get("k", broken)
    assert "k" not in pool
    assert pool.get("k", lambda: Opened(7, 1)) == 7
