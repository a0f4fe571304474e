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

CHILD = """
import importlib.abc, sys
blocked = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in this function's layers)")
        return None
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[2])
import app
assert callable(app.handler)
"""


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
