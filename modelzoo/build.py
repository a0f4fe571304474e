"""Command line: build the model zoo.

Run from the repository root with the build environment (Python 3.11, torch)::

    .venv-build/bin/python -m modelzoo.build --out build/models [--only NAME ...]

Each recipe writes ``<out>/<name>/`` (``manifest.json``, ``model.int8.onnx``,
``model.fp32.onnx``, and ``tokenizer.json`` for text models) and its held-out test data under
``--testdata`` (default: ``testdata`` beside ``--out``). Recipes are imported only when built,
so ``--only iris-rf`` does not load torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelzoo import common

log = logging.getLogger("modelzoo")

# Model name -> recipe module (each exposes ``build(models_dir, testdata_dir) -> manifest``).
RECIPES = {
    "all-minilm-l6-v2": "modelzoo.minilm",
    "iris-rf": "modelzoo.iris",
    "digits-cnn": "modelzoo.digits",
    "image-classifier": "modelzoo.efficientnet",
    "sentiment": "modelzoo.sentiment",  # after all-minilm-l6-v2: its encoder
    "face-detector": "modelzoo.blazeface",
    "ocr": "modelzoo.ocr",
    "smollm2-135m-instruct": "modelzoo.smollm2",
    "whisper-tiny-en": "modelzoo.whisper",
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m modelzoo.build", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build/models"), help="models directory")
    parser.add_argument(
        "--testdata",
        type=Path,
        default=None,
        help="test data directory (default: <out>/../testdata)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(RECIPES), default=None, help="build only these models"
    )
    return parser.parse_args(argv)


def build(names: Sequence[str], models_dir: Path, testdata_dir: Path) -> dict[str, dict[str, Any]]:
    """Build the named models, in the order given.

    Args:
        names: Model names (keys of ``RECIPES``).
        models_dir: Output directory for model directories.
        testdata_dir: Output directory for held-out test data.

    Returns:
        The written manifests by model name.
    """
    common.set_offline()
    manifests: dict[str, dict[str, Any]] = {}
    for name in names:
        common.seed_everything()
        recipe = importlib.import_module(RECIPES[name])
        with common.timed(f"{name}: total"):
            manifests[name] = recipe.build(models_dir, testdata_dir)
        log.info("%s: quality %s", name, manifests[name]["quality"])
    return manifests


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    args = parse_args(argv)
    names = args.only or list(RECIPES)
    testdata = args.testdata or args.out.parent / "testdata"
    start = time.perf_counter()
    build(names, args.out, testdata)
    log.info("built %s into %s in %.1f s", ", ".join(names), args.out, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
