"""The GPU container under test: its weights in moto's S3, the app on a loopback port.

A pytest plugin (``tests/conftest.py``): one container per session serves the functional
tests of ``aiaas.gpu``. The model zoo's fp32 files are its models, on the CPU.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
import onnxruntime as ort
import pytest

from aiaas.gpu.models import GpuModels
from aiaas.gpu.server import create_gpu_app
from aiaas.gpu.setup import build_models
from aiaas.serving.gpu import GpuTarget
from aiaas.serving.gpu_client import target_parameters
from aiaas.settings import Settings
from tests.conftest import MODELS_DIR

NAMES = ("iris-rf", "digits-cnn", "all-minilm-l6-v2")


@dataclass(frozen=True)
class Deployed:
    """A model uploaded to the weights bucket, and a CPU session to check answers with."""

    target: GpuTarget
    session: Any

    def expected(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.target.outputs, self.session.run(None, feeds), strict=True))


@dataclass(frozen=True)
class Container:
    url: str
    models: GpuModels
    bucket: str
    s3: Any


@pytest.fixture(scope="session")
def gpu_s3(moto_endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="session")
def gpu_bucket() -> str:
    """The weights bucket's name (``gpu_deployed`` makes it)."""
    return f"aiaas-gpu-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def gpu_models() -> dict[str, tuple[bytes, Any]]:
    """The model zoo's fp32 files, with a CPU session of each to check answers with."""
    models = {}
    for name in NAMES:
        data = (MODELS_DIR / name / "model.fp32.onnx").read_bytes()
        models[name] = (data, ort.InferenceSession(data, providers=["CPUExecutionProvider"]))
    return models


@pytest.fixture
def gpu_deployed(
    gpu_s3: Any, gpu_bucket: str, gpu_models: dict[str, tuple[bytes, Any]]
) -> dict[str, Deployed]:
    """The models in the weights bucket (uploaded again if another test reset moto)."""
    try:
        gpu_s3.head_bucket(Bucket=gpu_bucket)
    except Exception:  # botocore's ClientError: moto was reset, or this is the first test
        gpu_s3.create_bucket(Bucket=gpu_bucket)
        for name, (data, _) in gpu_models.items():
            gpu_s3.put_object(Bucket=gpu_bucket, Key=_key(name), Body=data)
    deployed = {}
    for name, (data, session) in gpu_models.items():
        outputs = tuple(o.name for o in session.get_outputs())
        digest = hashlib.sha256(data).hexdigest()
        target = GpuTarget(name, 1, f"s3://{gpu_bucket}/{_key(name)}", digest, outputs)
        deployed[name] = Deployed(target, session)
    return deployed


def _key(name: str) -> str:
    return f"models/public/{name}/1/model.fp32.onnx"


def settings_for(bucket: str, cache: Path, **overrides: Any) -> Settings:
    return Settings(
        weights_bucket=bucket,
        weights_cache_dir=cache,
        gpu_max_delay_ms=20,
        inference_threads=1,
        **overrides,
    )


@pytest.fixture(scope="session")
def gpu_container(
    gpu_s3: Any, gpu_bucket: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    """The app under uvicorn on a free loopback port, in a thread."""
    import uvicorn  # noqa: PLC0415 - only the GPU container's tests need it

    settings = settings_for(gpu_bucket, tmp_path_factory.mktemp("weights"))
    models = build_models(settings, s3_client=gpu_s3)
    app = create_gpu_app(settings, models)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Container(f"http://127.0.0.1:{port}", models, gpu_bucket, gpu_s3)
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def gpu_http(gpu_container: Container) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gpu_container.url, timeout=30, trust_env=False) as client:
        yield client


def json_request(target: GpuTarget, feeds: dict[str, np.ndarray], **extra: Any) -> bytes:
    inputs = [
        {"name": n, "datatype": _datatype(a), "shape": list(a.shape), "data": a.ravel().tolist()}
        for n, a in feeds.items()
    ]
    return json.dumps({"inputs": inputs, "parameters": target_parameters(target), **extra}).encode()


def _datatype(array: np.ndarray) -> str:
    return {"float32": "FP32", "int64": "INT64", "float64": "FP64"}[str(array.dtype)]


def iris_rows(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"float_input": rng.uniform(0, 8, (count, 4)).astype(np.float32)}


def digits(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"input": rng.uniform(0, 16, (count, 1, 8, 8)).astype(np.float32)}


def tokens(count: int, length: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, 30000, (count, length)).astype(np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    return {
        "input_ids": ids,
        "attention_mask": np.ones_like(ids),
        "token_type_ids": np.zeros_like(ids),
    }
