"""Open sessions of registered models are capped by count and by estimated memory."""

from __future__ import annotations

from pathlib import Path

from aiaas.serving.catalog_models import RegisteredModels
from tests.unit import catalog_models as cm


def model_files(tmp_path: Path, count: int) -> list[Path]:
    paths = []
    for seed in range(count):
        path = tmp_path / f"m{seed}.onnx"
        path.write_bytes(cm.to_bytes(cm.mlp(seed=seed)))
        paths.append(path)
    return paths


def test_least_recently_used_session_closes_over_the_count(tmp_path: Path) -> None:
    models = RegisteredModels(None, None, max_sessions=2)  # type: ignore[arg-type]
    first, second, third = model_files(tmp_path, 3)
    session = models._session(first)
    assert models._session(first) is session  # kept across calls
    models._session(second)
    models._session(first)  # first is now the most recent
    models._session(third)
    assert list(models._sessions) == [first, third]


def test_memory_cap_keeps_only_what_fits(tmp_path: Path) -> None:
    paths = model_files(tmp_path, 3)
    one_model = 2 * paths[0].stat().st_size
    models = RegisteredModels(None, None, max_sessions=10, max_session_bytes=one_model * 2)  # type: ignore[arg-type]
    for path in paths:
        models._session(path)
    assert list(models._sessions) == paths[1:]
