"""Each function imports with only what its layers ship (plus the Lambda runtime's boto3).

The dev venv has every package, so a missing layer dependency would pass every other test
and fail in AWS. Here each function's module is imported in a fresh process where the
packages of the layers it lacks cannot be imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aiaas_dev.cfn import load_yaml
from tests.aws import AwsResources
from tests.conftest import ROOT

# Top-level import names each layer provides (see layers/*/requirements.txt, shared/).
LAYERS = {
    "InferenceLayer": {"aiaas_runtime", "numpy", "onnxruntime", "tokenizers", "PIL"},
    "RegisterLayer": {"aiaas_runtime", "numpy", "onnxruntime", "onnx", "ml_dtypes"},
    "ModelsLayer": set(),
    "TrainingLayer": {
        "numpy",
        "scipy",
        "sklearn",
        "skl2onnx",
        "onnx",
        "ml_dtypes",
        "joblib",
        "threadpoolctl",
        "narwhals",
    },
    "AppLayer": {
        "aiaas",
        "fastapi",
        "starlette",
        "pydantic",
        "mangum",
        "orjson",
        "argon2",
        "jwt",
        "aws_lambda_powertools",
        "jmespath",
    },
}
# Only in the development environment, never in a Lambda.
DEV_ONLY = {
    "moto",
    "yaml",
    "httpx",
    "aiaas_dev",
    "sklearn",
    "skl2onnx",
    "tritonclient",
    "openai",
    "torch",
    "pytest",
}

BLOCKER = """
import importlib.abc, sys
blocked = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in this function's layers)")
        return None
sys.meta_path.insert(0, Block())
"""

TRAINING_STEP = (
    BLOCKER
    + r"""
from aiaas.training.records import Candidate, build_spec
from aiaas.training.search import cross_validate, finish, split
from aiaas.training.table import Limits, load_dataset
cells = lambda i: f"{i % 7},{'xyz'[i % 3]},{i % 5 or ''},{'yes' if i % 3 else 'no'}"
rows = ["a,b,c,y"] + [cells(i) for i in range(60)]
body = {"model": "m", "task": "classification", "target": "y", "algorithms": ["gradient_boosting"]}
spec = build_spec(body, max_grid=10, max_runtime_s=60)
data = load_dataset("\n".join(rows).encode(), "y", "classification", 5, Limits())
held = split(data, spec)
scored = cross_validate(data, held, spec.candidates()[0], spec)
assert scored.get("cv_mean") is not None, scored
trained = finish(data, held, scored, spec)
assert len(trained.onnx) > 1000 and trained.metrics["accuracy"] is not None
"""
)

CHILD = (
    BLOCKER
    + """
sys.path.insert(0, sys.argv[2])
import app
assert callable(app.handler)
"""
)


def functions() -> dict[str, tuple[str, set[str]]]:
    """Function -> (code folder, packages its layers provide)."""
    found = {}
    for name, resource in load_yaml(ROOT / "template.yaml")["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            layers = [ref["Ref"] for ref in props.get("Layers", [])]
            found[name] = (props["CodeUri"], set().union(*(LAYERS[layer] for layer in layers)))
    return found


@pytest.mark.parametrize("function", sorted(functions()))
def test_function_imports_with_only_its_layers(function: str, aws: AwsResources) -> None:
    code, provided = functions()[function]
    blocked = (set().union(*LAYERS.values()) | DEV_ONLY) - provided
    result = subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(sorted(blocked)), str(ROOT / code)],
        check=False,
        env={**os.environ, "AIAAS_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(ROOT / code),
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_training_step_runs_with_only_the_training_and_app_layers() -> None:
    # A cross-validation and a finish (refit, metrics, importance, ONNX export) import only
    # what TrainingLayer and AppLayer ship: no onnxruntime, no pandas.
    provided = LAYERS["TrainingLayer"] | LAYERS["AppLayer"]
    blocked = (set().union(*LAYERS.values()) | DEV_ONLY | {"pandas"}) - provided
    result = subprocess.run(
        [sys.executable, "-c", TRAINING_STEP, ",".join(sorted(blocked))],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
