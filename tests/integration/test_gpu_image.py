"""The GPU container image's recipe: its pins resolve, its base matches them, its code imports.

No Docker here: the image itself is built elsewhere. These catch the mistakes a build would
(an unresolvable pin, a base image whose CUDA does not match onnxruntime-gpu, a module that
needs a package the image does not install).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

IMAGE = ROOT / "functions" / "predict_gpu"
# onnxruntime-gpu release -> the CUDA it is built for (onnxruntime/capi/build_and_package_info.py
# in the wheel; its CUDA provider links libcudart.so.<major>).
ORT_GPU_CUDA = {"1.31.1": "13.0"}
# Imported by nothing the container runs: installed in the dev venv only, or in other layers.
NOT_IN_IMAGE = [
    "tokenizers", "PIL", "mangum", "httpx", "moto", "yaml", "sklearn", "skl2onnx", "argon2",
    "jwt", "aiaas_dev", "pytest", "tritonclient", "openai",
    "aws_lambda_powertools", "uvloop",
]  # fmt: skip
BLOCKER = """
import importlib.abc, sys
blocked = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the GPU image)")
        return None
sys.meta_path.insert(0, Block())
import aiaas.gpu.__main__, aiaas.gpu.server, aiaas.gpu.setup, aiaas.gpu.fp16
from onnxruntime.transformers.float16 import convert_float_to_float16
print("ok")
"""


def pins() -> dict[str, str]:
    lines = (IMAGE / "requirements.txt").read_text().splitlines()
    found = (re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip()) for line in lines)
    return {match[1].lower(): match[2] for match in found if match}


def test_every_requirement_is_pinned() -> None:
    lines = [
        line.strip()
        for line in (IMAGE / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == len(pins())
    assert {"onnxruntime-gpu", "numpy", "onnx", "fastapi", "uvicorn", "boto3"} <= set(pins())


def test_the_pinned_set_resolves_for_the_image() -> None:
    # The image: CPython 3.12 on Ubuntu 24.04 (glibc 2.39), x86_64, wheels only.
    platforms = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                 "manylinux2014_x86_64"]  # fmt: skip
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
        "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
        *(f"--platform={p}" for p in platforms), "--target", "/nonexistent-dry-run",
        "--quiet", "--report", "-", "-r", str(IMAGE / "requirements.txt"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0 and "Could not fetch URL" in done.stderr + done.stdout:
        pytest.skip("no package index reachable")
    assert done.returncode == 0, done.stderr
    for name, version in pins().items():
        assert re.search(rf'"name": "{re.escape(name)}",\s*"version": "{re.escape(version)}"',
                         done.stdout, re.IGNORECASE), name  # fmt: skip


def test_the_base_image_matches_the_onnxruntime_gpu_build() -> None:
    dockerfile = (IMAGE / "Dockerfile").read_text()
    (base,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    cuda = ORT_GPU_CUDA[pins()["onnxruntime-gpu"]]
    assert re.fullmatch(rf"nvidia/cuda:{re.escape(cuda)}\.\d+-cudnn-runtime-ubuntu24\.04", base)
    assert "FROM ${BASE_IMAGE}" in dockerfile


def test_the_image_runs_serve_as_a_non_root_user_on_8080() -> None:
    dockerfile = (IMAGE / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["serve"]' in dockerfile
    assert "EXPOSE 8080" in dockerfile
    assert re.search(r"^USER (?!root)\w+$", dockerfile, re.MULTILINE)
    for source in re.findall(r"^COPY (?!--)(.+) \S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), path
    ignore = (IMAGE / "Dockerfile.dockerignore").read_text()
    for path in ("shared/aiaas/", "layers/runtime/aiaas_runtime/", "functions/predict_gpu/serve"):
        assert f"!{path}" in ignore


def test_the_container_code_imports_without_packages_the_image_lacks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, ",".join(NOT_IN_IMAGE)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout.strip() == "ok", done.stderr
