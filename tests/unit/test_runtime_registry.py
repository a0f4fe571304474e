"""Manifests, sessions and the registry's load-once behaviour."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import pytest

from aiaas_runtime import ModelLoadError, ModelNotFoundError, ModelRegistry
from aiaas_runtime.manifest import load_manifest
from aiaas_runtime.session import _cgroup_cpu_quota, available_cpus, choose_providers

EXPECTED = {"all-minilm-l6-v2": "embedding", "iris-rf": "tabular-classification",
            "digits-cnn": "image-classification",
            "image-classifier": "image-classification",
            "sentiment": "text-classification",
            "ocr": "ocr",
            "face-detector": "face-detection",
            "smollm2-135m-instruct": "chat",
            "whisper-tiny-en": "speech-recognition"}  # fmt: skip


def test_the_zoo_has_its_models_with_their_tasks(models_dir: Path) -> None:
    manifests = ModelRegistry(models_dir).manifests()
    assert {name: m.task for name, m in manifests.items()} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_artifact_matches_its_recorded_sha256_and_size(models_dir: Path, name: str) -> None:
    manifest = load_manifest(models_dir / name)
    for role, artifact in manifest.artifacts.items():
        path = manifest.artifact_path(role)
        if not path.exists():
            continue  # e.g. fp32 stays out of the layer
        assert path.stat().st_size == artifact.size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == artifact.sha256


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_manifest_records_tensors_and_quality(models_dir: Path, name: str) -> None:
    manifest = load_manifest(models_dir / name)
    assert manifest.inputs and manifest.outputs
    assert all(t.datatype in {"FP32", "INT64"} for t in manifest.inputs + manifest.outputs)
    assert "fp32" in manifest.quality  # and int8's, wherever an int8 file was made
    assert "int8" in manifest.quality or "int8" not in manifest.artifacts


def test_unknown_model_is_not_found(models_dir: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="'nope' not found"):
        ModelRegistry(models_dir).get("nope")


def test_concurrent_first_requests_open_one_session(models_dir: Path) -> None:
    registry = ModelRegistry(models_dir)
    loaded = []
    barrier = threading.Barrier(4)

    def load() -> None:
        barrier.wait()
        loaded.append(registry.get("iris-rf"))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(model) for model in loaded}) == 1


def test_a_background_preload_opens_once_and_a_request_waits_for_it(models_dir: Path) -> None:
    registry = ModelRegistry(models_dir)
    thread = registry.preload(["iris-rf"], background=True)
    assert thread is not None and thread.daemon
    served = registry.get("iris-rf")  # waits for the open under way, if any, instead of a second
    thread.join(timeout=60)
    assert registry.get("iris-rf") is served
    assert len(registry.pool) == 1


def test_a_failed_background_preload_is_logged_and_the_request_gets_the_error(
    tmp_path: Path, models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = json.loads((models_dir / "iris-rf" / "manifest.json").read_text())
    (tmp_path / "iris-rf").mkdir()
    (tmp_path / "iris-rf" / "manifest.json").write_text(json.dumps(raw))  # no model file
    registry = ModelRegistry(tmp_path)
    thread = registry.preload(["iris-rf", "nope"], background=True)
    assert thread is not None
    thread.join(timeout=60)
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "could not preload model iris-rf",
        "could not preload model nope",
    ]
    with pytest.raises(ModelLoadError, match="none of the artifacts"):
        registry.get("iris-rf")
    assert registry.preload([], background=True) is None


def test_broken_manifest_and_missing_file_are_load_errors(tmp_path: Path, models_dir: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot read"):
        ModelRegistry(tmp_path).manifests()

    raw = json.loads((models_dir / "iris-rf" / "manifest.json").read_text())
    (tmp_path / "bad" / "manifest.json").write_text(json.dumps(raw))  # no model file beside it
    with pytest.raises(ModelLoadError, match="none of the artifacts"):
        ModelRegistry(tmp_path).get("iris-rf")


def test_corrupt_model_file_is_a_load_error(tmp_path: Path, models_dir: Path) -> None:
    raw = json.loads((models_dir / "iris-rf" / "manifest.json").read_text())
    (tmp_path / "iris-rf").mkdir()
    (tmp_path / "iris-rf" / "manifest.json").write_text(json.dumps(raw))
    (tmp_path / "iris-rf" / raw["artifacts"]["int8"]["file"]).write_bytes(b"\x08\x01garbage")
    with pytest.raises(ModelLoadError, match="cannot open"):
        ModelRegistry(tmp_path).get("iris-rf")


def test_cpu_count_honours_a_cgroup_quota(tmp_path: Path) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")
    assert _cgroup_cpu_quota(quota) == 1
    quota.write_text("max 100000\n")
    assert _cgroup_cpu_quota(quota) is None
    assert _cgroup_cpu_quota(tmp_path / "missing") is None
    assert available_cpus() >= 1


def test_cpu_provider_is_chosen_where_cuda_is_not_offered() -> None:
    assert choose_providers()[-1] == "CPUExecutionProvider"


def test_the_pre_optimized_minilm_is_served_by_the_onnxruntime_that_made_it(
    models_dir: Path,
) -> None:
    model = ModelRegistry(models_dir).get("all-minilm-l6-v2")
    assert model.variant == "int8_optimized"


def test_layer_and_model_build_pin_the_same_onnxruntime() -> None:
    # the pre-optimized graph only loads in the onnxruntime version that wrote it
    root = Path(__file__).resolve().parents[2]

    def pin(path: Path) -> str:
        lines = path.read_text().splitlines()
        return next(line for line in lines if line.startswith("onnxruntime=="))

    assert pin(root / "layers/runtime/requirements.txt") == pin(root / "modelzoo/requirements.txt")


def test_a_pre_optimized_file_from_another_onnxruntime_is_skipped(
    tmp_path: Path, models_dir: Path
) -> None:
    shutil.copytree(models_dir / "all-minilm-l6-v2", tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    manifest["optimized"]["onnxruntime"] = "0.0.1"
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
    assert ModelRegistry(tmp_path).get("all-minilm-l6-v2").variant == "int8"
