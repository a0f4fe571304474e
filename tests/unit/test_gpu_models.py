"""The GPU container's loaded models: load once, verify, refuse, unload the least recent."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from aiaas.errors import InvalidInput, NotFound, Overloaded, Unavailable
from aiaas.gpu.models import BatchConfig, GpuModels
from aiaas.gpu.runtime import TENSORRT, Runtime, detect_runtime
from aiaas.serving.gpu import GpuTarget
from aiaas.serving.weights_cache import WeightsCache
from aiaas_runtime.session import CUDA
from tests.unit import catalog_models as cm

BUCKET = "weights"


class Missing(Exception):
    """Shaped like botocore's ClientError for a missing object."""

    response: ClassVar[dict[str, Any]] = {"Error": {"Code": "404", "Message": "Not Found"}}


class FakeS3:
    """Objects in memory; counts downloads."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.downloads = 0
        self.lock = threading.Lock()

    def add(self, key: str, data: bytes, name: str = "mlp") -> GpuTarget:
        uri = f"s3://{BUCKET}/{key}"
        self.objects[uri] = data
        return GpuTarget(name, 1, uri, hashlib.sha256(data).hexdigest(), ("y",))

    def download(self, uri: str, destination: Path) -> None:
        with self.lock:
            self.downloads += 1
        time.sleep(0.05)  # long enough for concurrent callers to overlap
        if uri not in self.objects:
            raise Unavailable("downloading model weights failed (404)") from Missing()
        destination.write_bytes(self.objects[uri])


def models_over(s3: FakeS3, tmp_path: Path, **options: int) -> GpuModels:
    return GpuModels(
        WeightsCache(s3, tmp_path, 1 << 30),
        bucket=BUCKET,
        runtime=Runtime(providers=("CPUExecutionProvider",), gpu=False, threads=1),
        batching=BatchConfig(max_batch=8, max_delay_s=0.001, max_queue=options.pop("queue", 8)),
        **options,
    )


def test_concurrent_first_requests_load_once(tmp_path: Path) -> None:
    s3 = FakeS3()
    target = s3.add("m/1.onnx", cm.to_bytes(cm.mlp()))
    models = models_over(s3, tmp_path)
    loaded = []
    threads = [threading.Thread(target=lambda: loaded.append(models.get(target))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert s3.downloads == 1
    assert len({id(model) for model in loaded}) == 1
    model = loaded[0]
    assert (model.variant, model.provider) == ("fp32", "CPUExecutionProvider")
    assert model.fp16 == "not tried: no GPU"
    assert model.inputs["x"].datatype == "FP32" and model.inputs["x"].shape == (-1, cm.FEATURES)
    result = model.batcher.infer({"x": np.ones((2, cm.FEATURES), np.float32)}, timeout=5)
    assert result["y"].shape == (2, cm.CLASSES)
    models.close()


def test_the_least_recently_used_model_is_unloaded(tmp_path: Path) -> None:
    s3 = FakeS3()
    first, second, third = (
        s3.add(f"m/{s}.onnx", cm.to_bytes(cm.mlp(seed=s)), name=f"m{s}") for s in range(3)
    )
    models = models_over(s3, tmp_path, max_models=2)
    old = models.get(first)
    models.get(second)
    models.get(first)  # first is now the most recent
    models.get(third)

    assert [m["model"] for m in models.stats()] == ["m0", "m2"]
    assert models.cached(second) is None
    assert models.cached(first) is old
    models.close()


def test_weights_outside_the_bucket_or_with_a_bad_digest_are_refused(tmp_path: Path) -> None:
    s3 = FakeS3()
    target = s3.add("m/1.onnx", cm.to_bytes(cm.mlp()))
    models = models_over(s3, tmp_path)
    elsewhere = GpuTarget("m", 1, "s3://other/m/1.onnx", target.sha256, ())
    with pytest.raises(InvalidInput, match="must be in the weights bucket"):
        models.get(elsewhere)
    with pytest.raises(InvalidInput, match="64 lowercase hex digits"):
        models.get(GpuTarget("m", 1, target.artifact, "../../etc/passwd", ()))
    with pytest.raises(Unavailable, match="do not match the catalog's sha256"):
        models.get(GpuTarget("m", 1, target.artifact, "0" * 64, ()))
    assert s3.downloads == 1


def test_missing_weights_are_not_found(tmp_path: Path) -> None:
    models = models_over(FakeS3(), tmp_path)
    target = GpuTarget("gone", 2, f"s3://{BUCKET}/m/gone.onnx", "a" * 64, ())
    with pytest.raises(NotFound, match="'gone' version 2 are not in the weights bucket"):
        models.get(target)


def test_an_output_the_graph_lacks_is_refused(tmp_path: Path) -> None:
    s3 = FakeS3()
    target = s3.add("m/1.onnx", cm.to_bytes(cm.mlp()))
    model = models_over(s3, tmp_path).get(target)
    with pytest.raises(InvalidInput, match="no output 'logits'; it returns y"):
        model.check({"x": np.ones((1, cm.FEATURES), np.float32)}, ["logits"])


def test_a_file_onnxruntime_cannot_load_is_unavailable(tmp_path: Path) -> None:
    s3 = FakeS3()
    target = s3.add("m/bad.onnx", b"not a model")
    with pytest.raises(Unavailable, match="cannot be loaded"):
        models_over(s3, tmp_path).get(target)


def test_inputs_are_checked_against_the_graph(tmp_path: Path) -> None:
    s3 = FakeS3()
    model = models_over(s3, tmp_path).get(s3.add("m/1.onnx", cm.to_bytes(cm.mlp())))
    good = np.ones((1, cm.FEATURES), np.float32)
    model.check({"x": good})
    cases = {
        "unknown input 'z'": {"x": good, "z": good},
        "datatype FP64 does not match the model's FP32": {"x": good.astype(np.float64)},
        "shape [1, 3] does not fit the model's [-1, 16]": {"x": good[:, :3]},
        "shape [16] does not fit": {"x": good[0]},
        "missing input 'x'": {},
    }
    for message, feeds in cases.items():
        with pytest.raises(InvalidInput, match=message.replace("[", r"\[")):
            model.check(feeds)


def test_a_full_queue_is_overloaded_with_retry_after(tmp_path: Path) -> None:
    s3 = FakeS3()
    model = models_over(s3, tmp_path, queue=1).get(s3.add("m/1.onnx", cm.to_bytes(cm.mlp())))
    release = threading.Event()
    model.batcher._run = lambda feeds: release.wait(5) and {}  # type: ignore[assignment]
    feeds = {"x": np.ones((1, cm.FEATURES), np.float32)}
    model.batcher.submit(feeds)  # runs (held)
    while model.batcher.stats().queued:
        time.sleep(0.001)
    model.batcher.submit(feeds)  # waits

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(Overloaded) as raised:
            loop.run_until_complete(model.infer(feeds))
    finally:
        loop.close()
        release.set()
    assert raised.value.retry_after == 1


def test_on_a_gpu_an_fp16_graph_that_passes_the_gate_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a runtime that says GPU (sessions still run on the CPU here, which runs fp16 too)
    monkeypatch.setattr("aiaas.gpu.models.provider_of", lambda session: "CUDAExecutionProvider")
    s3 = FakeS3()
    models = GpuModels(
        WeightsCache(s3, tmp_path, 1 << 30),
        bucket=BUCKET,
        runtime=Runtime(providers=("CPUExecutionProvider",), gpu=True, threads=1),
        batching=BatchConfig(),
    )
    target = s3.add("m/1.onnx", cm.to_bytes(cm.mlp()))

    model = models.get(target)

    assert (model.variant, model.provider) == ("fp16", "CUDAExecutionProvider")
    assert model.fp16.startswith("fp16 agrees with fp32 (y cosine min")
    x = np.random.default_rng(0).standard_normal((3, cm.FEATURES)).astype(np.float32)
    assert model.batcher.infer({"x": x}, timeout=5)["y"].dtype == np.float32
    models.close()


def test_cuda_comes_first_when_onnxruntime_offers_it(monkeypatch: pytest.MonkeyPatch) -> None:
    offered = [TENSORRT, CUDA, "CPUExecutionProvider"]
    monkeypatch.setattr("onnxruntime.get_available_providers", lambda: offered)

    def names(runtime: Runtime) -> list[str]:
        return [p if isinstance(p, str) else p[0] for p in runtime.providers]

    assert names(detect_runtime()) == [CUDA, "CPUExecutionProvider"]
    with_trt = detect_runtime(tensorrt=True, cache_dir=Path("/cache"))
    assert names(with_trt) == [TENSORRT, CUDA, "CPUExecutionProvider"]
    assert with_trt.providers[0][1]["trt_engine_cache_path"] == "/cache/tensorrt"  # type: ignore[index]
    assert with_trt.gpu


def test_without_a_gpu_one_line_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aiaas.gpu.runtime"):
        runtime = detect_runtime()
    assert (runtime.providers, runtime.gpu) == (("CPUExecutionProvider",), False)
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage().startswith("no GPU found: onnxruntime")
    assert record.getMessage().endswith("serving on the CPU (fp16 off)")
