"""Recipe: ``ocr``, PP-OCRv4 text detection and recognition from the ``rapidocr-onnxruntime`` wheel.

The wheel ships PaddleOCR's graphs already in ONNX; they are copied unchanged: the DB text
detector (``det.fp32.onnx``, the served graph: ``x`` [batch, 3, h, w] in, a text probability
map [batch, 1, h, w] out), the 0/180 degree line orientation classifier (``cls.onnx``) and the
CTC line recognizer (``rec.onnx``). The recognizer's alphabet lives in its ONNX metadata
(``character``); it is written to ``charset.txt`` one character per line, as rapidocr reads it
(``str.splitlines``), without the CTC blank (index 0) and the space (last) the decoder adds.
One of its characters is the ideographic space U+3000: a reader must not strip the lines.
Settings come from the wheel's ``config.yaml`` (RapidOCR's defaults).

The reference for the runtime's own pipeline is the package itself: ``RapidOCR()`` with its
default config over text rendered with Pillow's bundled font (Aileron, the same on every
host): lines of words, digits, prices and dates on plain and light backgrounds, some turned
by 180 degrees, one tilted a few degrees. Its lines (box, text, score) are written to
``testdata/ocr_samples.json``; the manifest records their character error rate against the
rendered text and rapidocr's time per image. The latency profile is that pipeline's (detector,
classifier and recognizer per image), not the detector's alone on generated inputs.
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from modelzoo import common

NAME = "ocr"
VERSION = "1"
PACKAGE = "rapidocr-onnxruntime"
GRAPHS = {  # role -> (file in the wheel's models/, file in the model directory)
    "fp32": ("ch_PP-OCRv4_det_infer.onnx", "det.fp32.onnx"),
    "cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", "cls.onnx"),
    "rec": ("ch_PP-OCRv4_rec_infer.onnx", "rec.onnx"),
}
LINES = (
    "Invoice No. 2024-0173", "Date: 15/03/2024", "Total due: $1,249.99", "Subtotal $18.50",
    "VAT (20%) $3.70", "Open daily 9:00-17:30", "Call +1 (555) 013-2468", "Order #A-10293",
    "The quick brown fox", "jumps over the lazy dog.", "Hello, world!", "Best before 2025-12-31",
    "Serverless model serving", "Batch size: 32, threads: 2", "Release v2.13.0 (stable)",
    "Meeting at 10:45 on Monday", "Price per kg: 3.25 EUR", "Room 404 - not found?",
    "SALE: 50% OFF everything", "Thank you for shopping!", "Platform 7 departs 08:15",
    "email: support@example.com", "Page 3 of 12", "Ticket 0042 / Row F", "Net weight 500 g",
    "Quarterly report Q3 2024", "Latency p50 = 12.4 ms", "Receipt total: 27.80",
)  # fmt: skip
# One test image per entry: (lines, degrees turned counter-clockwise, canvas size or None to
# fit the text). The 640 x 60 line is flatter than width_height_ratio: rapidocr pads it first.
LAYOUTS = ((1, 0, None), (2, 0, None), (3, 0, None), (1, 180, None), (4, 0, None), (2, 4, None),
           (1, 0, (640, 60)), (3, 180, None), (2, 0, None), (4, 0, None), (1, 0, None),
           (2, 180, None))  # fmt: skip
FONT_SIZES = (16, 44)
MIN_SIZE, MAX_SIZE = (200, 60), (900, 500)


def package_dir() -> Path:
    """The installed ``rapidocr_onnxruntime`` package."""
    import rapidocr_onnxruntime  # noqa: PLC0415

    return Path(rapidocr_onnxruntime.__file__).parent


def read_config() -> dict[str, Any]:
    """RapidOCR's default settings (its ``config.yaml``)."""
    import yaml  # noqa: PLC0415 - a dependency of rapidocr-onnxruntime

    config: dict[str, Any] = yaml.safe_load((package_dir() / "config.yaml").read_text())
    return config


def write_charset(rec: Path, dst: Path) -> int:
    """The recognizer's alphabet (metadata ``character``) as rapidocr splits it, one per line;
    checked to read back the same with ``splitlines``. Returns the number of characters."""
    sess = common.session(rec)
    characters = sess.get_modelmeta().custom_metadata_map["character"].splitlines()
    classes = sess.get_outputs()[0].shape[-1]
    assert classes == len(characters) + 2, (classes, len(characters))  # + blank and space
    dst.write_text("".join(f"{c}\n" for c in characters), encoding="utf-8")
    assert dst.read_text(encoding="utf-8").splitlines() == characters
    return len(characters)


def fit_font(lines: list[str], size: int, margin: int, limit: tuple[int, int]) -> Any:
    """Pillow's bundled font (a FreeType one) at ``size``, or smaller until the lines fit
    within ``limit``, but not under the smallest font size."""
    font = ImageFont.load_default(size=size)
    width = max(font.getbbox(line)[2] for line in lines) + 2 * margin
    height = len(lines) * round(size * 1.6) + 2 * margin
    if size <= FONT_SIZES[0] or (width <= limit[0] and height <= limit[1]):
        return font
    return fit_font(lines, size - 2, margin, limit)


def render(
    lines: list[str], rng: np.random.Generator, degrees: int, canvas: tuple[int, int] | None
) -> Image.Image:
    """The lines left-aligned, one font size, dark ink on white or a light colour, on a
    ``canvas`` of that size or one that fits them, then turned by ``degrees`` (expanding the
    canvas, filled with the background)."""
    margin = int(rng.integers(12, 100))
    limit = (MAX_SIZE[0] - 60, MAX_SIZE[1] - 60) if degrees % 180 else MAX_SIZE
    if canvas:
        margin, limit = 10, canvas
    font = fit_font(lines, int(rng.integers(FONT_SIZES[0], FONT_SIZES[1] + 1)), margin, limit)
    step = round(font.size * 1.6)
    plain = rng.random() < 0.4
    background = (255, 255, 255) if plain else tuple(int(v) for v in rng.integers(215, 256, 3))
    ink = tuple(int(v) for v in rng.integers(0, 90, 3))
    text_width = max(font.getbbox(line)[2] for line in lines)
    size = canvas or (max(MIN_SIZE[0], text_width + 2 * margin),
                      max(MIN_SIZE[1], len(lines) * step + 2 * margin))  # fmt: skip
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    top = (size[1] - len(lines) * step) // 2 + (step - font.size) // 2
    for i, line in enumerate(lines):
        draw.text((margin, top + i * step), line, font=font, fill=ink)
    if degrees:
        image = image.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=background)
    return image


def samples(seed: int) -> list[tuple[str, Image.Image, list[str]]]:
    """The test images (``LAYOUTS``) with their text top to bottom as the image shows it: a
    page turned by 180 degrees lists its last line first."""
    rng = np.random.default_rng(seed)
    out = []
    for k, (count, degrees, canvas) in enumerate(LAYOUTS):
        lines = [LINES[i] for i in rng.choice(len(LINES), size=count, replace=False)]
        image = render(lines, rng, degrees, canvas)
        assert MIN_SIZE[0] <= image.width <= MAX_SIZE[0], image.size
        assert MIN_SIZE[1] <= image.height <= MAX_SIZE[1], image.size
        name = f"text-{k:02d}" + (f"-turned-{degrees}" if degrees else "")
        out.append((name, image, lines[::-1] if degrees == 180 else lines))
    return out


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def reference_lines(engine: Any, data: bytes) -> list[dict[str, Any]]:
    """rapidocr's lines for an encoded image: box (4 corner points, clockwise from the top
    left, in pixels), text, score; in its reading order."""
    result, _ = engine(data)
    return [{"box": [[float(x), float(y)] for x, y in box], "text": str(text),
             "score": float(score)} for box, text, score in result or []]  # fmt: skip


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions and substitutions of one character)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def character_error_rate(truth: list[list[str]], found: list[list[str]]) -> float:
    """Edit distance over truth length, summed over images, each image's lines joined by
    newlines (a missed, split or reordered line counts)."""
    pairs = [("\n".join(t), "\n".join(f)) for t, f in zip(truth, found, strict=True)]
    errors = sum(edit_distance(f, t) for t, f in pairs)
    return round(errors / sum(len(t) for t, _ in pairs), 6)


def unspaced(pages: list[list[str]]) -> list[list[str]]:
    return [[line.replace(" ", "") for line in lines] for lines in pages]


Lines = list[list[dict[str, Any]]]


def timed_lines(engine: Any, encoded: list[bytes]) -> tuple[Lines, list[float]]:
    """``reference_lines`` for every image after one warm-up call; the milliseconds of each."""
    engine(encoded[0])
    found, ms = [], []
    for data in encoded:
        started = time.perf_counter()
        found.append(reference_lines(engine, data))
        ms.append((time.perf_counter() - started) * 1e3)
    return found, ms


def settings(config: dict[str, Any], det_input: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest's preprocessing and postprocessing: RapidOCR's defaults."""
    glob, det, cls, rec = (config[k] for k in ("Global", "Det", "Cls", "Rec"))
    sides = ("max_side_len", "min_side_len", "min_height", "width_height_ratio")
    preprocessing = {
        "input": det_input,
        "layout": "NCHW",
        "channels": 3,
        "limit_side_len": det["limit_side_len"],
        "limit_type": det["limit_type"],
        **{k: glob[k] for k in sides},
        "mean": det["mean"],
        "std": det["std"],
    }
    boxes = ("thresh", "box_thresh", "max_candidates", "unclip_ratio", "use_dilation")
    postprocessing = {
        **{k: det[k] for k in boxes},
        "text_score": glob["text_score"],
        "cls": {"image_shape": cls["cls_image_shape"], "batch": cls["cls_batch_num"],
                "thresh": cls["cls_thresh"], "labels": cls["label_list"]},
        "rec": {"image_shape": rec["rec_img_shape"], "batch": rec["rec_batch_num"]},
    }  # fmt: skip
    return preprocessing, postprocessing


def quality(truth: list[list[str]], reference: Lines, ms: list[float]) -> dict[str, Any]:
    """The reference's character error rate and line counts on the test images, its time."""
    found = [[line["text"] for line in lines] for lines in reference]
    exact = sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True))
    return {
        "metric": "character error rate of the reference against the rendered text: edit "
        "distance over truth length, summed over images, each image's lines joined by "
        "newlines in reading order; the runtime is checked against the same reference "
        "(testdata/ocr_samples.json)",
        "cer": character_error_rate(truth, found),
        # most of the errors: the Chinese-first recognizer often drops spaces between words
        "cer_ignoring_spaces": character_error_rate(unspaced(truth), unspaced(found)),
        "images": len(truth),
        "lines": sum(len(t) for t in truth),
        "reference_lines": sum(len(f) for f in found),
        "exact_lines": exact,
        "ms_per_image_rapidocr": round(float(np.mean(ms)), 2),
    }


def build(models_dir: Path, testdata_dir: Path) -> dict[str, Any]:
    """Copy the graphs and the alphabet, run the reference on rendered text, write the
    manifest with its quality and latency."""
    from rapidocr_onnxruntime import RapidOCR  # noqa: PLC0415

    out = models_dir / NAME
    out.mkdir(parents=True, exist_ok=True)
    artifacts, files = {}, {}
    for role, (src, dst) in GRAPHS.items():
        artifacts[role], files[role] = out / dst, f"rapidocr_onnxruntime/models/{src}"
        artifacts[role].write_bytes((package_dir() / "models" / src).read_bytes())
    artifacts["charset"] = out / "charset.txt"
    files["charset"] = f"{files['rec']} (metadata: character)"
    characters = write_charset(artifacts["rec"], artifacts["charset"])
    test = samples(common.SEED)
    encoded = [png(image) for _, image, _ in test]
    reference, ms = timed_lines(RapidOCR(), encoded)
    # the latency profile at the build's thread count, like the other built-ins' profiles
    pinned = RapidOCR(intra_op_num_threads=common.ORT_THREADS, inter_op_num_threads=1)
    _, pinned_ms = timed_lines(pinned, encoded)
    truth = [lines for _, _, lines in test]
    common.write_json(
        testdata_dir / "ocr_samples.json",
        {"images": [{"name": n, "png_base64": base64.b64encode(e).decode(), "truth": t,
                     "reference": r}
                    for (n, _, t), e, r in zip(test, encoded, reference, strict=True)]},
    )  # fmt: skip
    version = common.package_version(PACKAGE)
    preprocessing, postprocessing = settings(
        read_config(), common.graph_tensors(artifacts["fp32"])[0][0]["name"]
    )
    fields: dict[str, Any] = {
        "name": NAME,
        "version": VERSION,
        "task": "ocr",
        "description": "Text in an image (PNG/JPEG/WebP), Chinese and English: lines with "
        "their text, score and box, in reading order (PP-OCRv4 from rapidocr-onnxruntime)",
        "source": {
            "package": PACKAGE,
            "package_version": version,
            "files": files,
            "licence": "Apache-2.0",
            "reference": f"rapidocr-onnxruntime {version} (RapidOCR with its default config)",
        },
        "labels": [],
        "preprocessing": preprocessing,
        "postprocessing": postprocessing,
        "limits": {"max_batch_size": 1, "max_items": 4},
        "quantization": {
            "method": "none: fp32 graphs as shipped (det 4.7 MB, rec 10.9 MB, cls 0.6 MB)"
        },
        "quality": {"reference": {**quality(truth, reference, ms), "characters": characters}},
        "latency": {"p50_ms": {"1": round(float(np.median(pinned_ms)), 4)}},
    }
    common.write_manifest(out, fields, artifacts)  # what the runtime opens, measured next
    found, served_ms, threads = runtime_lines(models_dir, encoded)
    texts = [[line["text"] for line in lines] for lines in found]
    fields["quality"]["fp32"] = {  # the served pipeline, fp32 graphs
        "metric": "the runtime's pipeline (aiaas_runtime.tasks.ocr) on the same images: "
        "character error rate against the reference's lines, and against the rendered text",
        "cer_vs_reference": character_error_rate(
            [[line["text"] for line in lines] for lines in reference], texts
        ),
        "cer_vs_truth": character_error_rate(truth, texts),
        "lines": sum(len(t) for t in texts),
        "ms_per_image": round(float(np.mean(served_ms)), 2),
    }
    fields["latency"] = {
        "p50_ms": {"1": round(float(np.median(served_ms)), 4)},
        "skipped": {"32": "one image a request (max_batch_size 1)"},
        "runs": len(served_ms),
        "threads": threads,
        "measured_on": "the model build host: the runtime's whole pipeline (decode, det, "
        "cls, rec) once on each test image; rapidocr's own at 2 threads: "
        f"{round(float(np.median(pinned_ms)), 1)} ms",
    }
    return common.write_manifest(out, fields, artifacts)


def runtime_lines(models_dir: Path, encoded: list[bytes]) -> tuple[Lines, list[float], int]:
    """The served pipeline's lines for every image (after one warm-up), its times and its
    threads: the runtime imports on 3.11 (layers/runtime is on the build's PYTHONPATH)."""
    from aiaas_runtime import ModelRegistry  # noqa: PLC0415
    from aiaas_runtime.session import available_cpus  # noqa: PLC0415

    model = ModelRegistry(models_dir).get(NAME)
    texts = [base64.b64encode(e).decode() for e in encoded]
    model.predict(texts[:1])
    found, ms = [], []
    for text in texts:
        started = time.perf_counter()
        found.append(model.predict([text]).results[0]["lines"])
        ms.append((time.perf_counter() - started) * 1e3)
    return found, ms, available_cpus()
