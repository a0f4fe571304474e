"""whisper-tiny-en's gate: espeak-ng speech, transcribed by the served runtime and by
transformers' ``generate`` on the same log-mel windows.

Every window the runtime decodes (its features and tokens, recorded as it transcribes) is
decoded again by PyTorch (fp32, greedy, with timestamps, Whisper's suppressions): the tokens
must be the same. The transcripts' word error rate against the spoken text is recorded and
bounded, and the clips with their texts are written to ``<testdata>/speech/`` for the tests
(one clip is over 30 s, so the seek loop is exercised). Without espeak-ng the gate is skipped
and says so in the manifest.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import GenerationConfig, WhisperFeatureExtractor

from modelzoo import common
from modelzoo.wer import word_error_rate
from modelzoo.whisper_speed import speed

log = logging.getLogger("modelzoo.whisper")

NAME = "whisper-tiny-en"
SPEECH = "speech"  # <testdata>/speech/: clips and speech.json
CLIPS = {
    "hello.wav": "Hello world. This is a test of the speech recognition service.",
    "weather.wav": "The weather today is sunny and warm, with a light breeze from the west.",
    "meeting.wav": "Please send the quarterly report to the whole team before the meeting "
    "on Friday morning.",
    "story.wav": "Once upon a time, in a small village at the edge of a great forest, there "
    "lived an old farmer and his son. Every morning they rose before the sun to feed the "
    "animals and carry water from the river. The smell of fresh bread drifted through the "
    "narrow streets and woke the sleeping town. One winter, a heavy storm closed the only "
    "road to the city, and no food could reach the village. The farmer and his son shared "
    "everything they had, and the whole village gathered in the warm kitchen until the "
    "spring returned. When the snow finally melted, the road opened again, and carts full of "
    "food arrived from the city. The people thanked the farmer with a great feast, and the "
    "children sang songs late into the night.",
}
MAX_WER = 0.15  # per clip; the runtime and PyTorch give the same tokens, so this is the model's


def make_clips(folder: Path) -> list[dict[str, Any]] | None:
    """Speak every clip with espeak-ng (US English, 150 words a minute); None without it."""
    if shutil.which("espeak-ng") is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for file, text in CLIPS.items():
        command = ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(folder / file), text]
        subprocess.run(command, check=True, capture_output=True)
        clips.append({"file": file, "text": text})
    return clips


def reference_tokens(model: Any, generation: GenerationConfig, features: np.ndarray) -> list[int]:
    """transformers' greedy tokens with timestamps for one window (no start, no end)."""
    with torch.no_grad():
        out = model.generate(
            torch.from_numpy(features[None]), generation_config=generation,
            return_timestamps=True, max_new_tokens=generation.max_length // 2, do_sample=False,
            force_unique_generate_call=True,  # one window: no seeking inside it
        )  # fmt: skip
    sequence = out["sequences"] if isinstance(out, dict) else out
    tokens = [int(t) for t in sequence[0].tolist()]
    eot, sot = generation.eos_token_id, generation.decoder_start_token_id
    tokens = tokens[1:] if tokens and tokens[0] == sot else tokens
    return tokens[: tokens.index(eot)] if eot in tokens else tokens


def _recorder(processor: Any) -> list[tuple[np.ndarray, list[int]]]:
    """Record every greedy window the processor decodes: its features and tokens (a
    fallback's sampled retries are not PyTorch's greedy tokens, so they are left out)."""
    windows: list[tuple[np.ndarray, list[int]]] = []
    encode, decode = processor.encode, processor.decoder.decode
    features: list[np.ndarray] = []

    def record_encode(runner: Any, window: np.ndarray) -> Any:
        features[:] = [np.array(window)]
        return encode(runner, window)

    def record_decode(cross: Any, prompt: Any, temperature: float, *args: Any) -> Any:
        window = decode(cross, prompt, temperature, *args)
        if temperature == 0:
            windows.append((features[0], list(window.tokens)))
        return window

    processor.encode, processor.decoder.decode = record_encode, record_decode
    return windows


def _clip(served: Any, model: Any, generation: GenerationConfig, path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    windows = _recorder(served.processor)
    started = time.perf_counter()
    result = served.predict([{"audio": data}]).results[0]
    runtime_s = time.perf_counter() - started
    del served.processor.encode, served.processor.decoder.decode  # the recorder
    started = time.perf_counter()
    same = [reference_tokens(model, generation, features) == tokens for features, tokens in windows]
    torch_s = time.perf_counter() - started
    return {"result": result, "runtime_s": runtime_s, "torch_s": torch_s, "same": same,
            "tokens": sum(len(tokens) for _, tokens in windows)}  # fmt: skip


def log_mel_difference(served: Any, path: Path, testdata: Path) -> float:
    """The runtime's log-mel against transformers' ``WhisperFeatureExtractor`` (stored for
    the tests as ``<name>.mel.npy``)."""
    processor = served.processor
    samples = processor.prepare({"audio": path.read_bytes()}, 0).samples
    extractor = WhisperFeatureExtractor(feature_size=len(processor.filters))
    reference = extractor(samples, sampling_rate=16000, return_tensors="np").input_features[0]
    np.save(testdata / path.with_suffix(".mel.npy").name, reference.astype(np.float32))
    ours = processor.features(samples)[:, : reference.shape[1]]
    return float(np.abs(ours - reference).max())


def _clips(
    served: Any, model: Any, generation: GenerationConfig, folder: Path,
    clips: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, float]]:  # fmt: skip
    """Each clip's row (and its transcript added to ``clips``), and the totals."""
    rows, totals = [], {"runtime_s": 0.0, "torch_s": 0.0, "seconds": 0.0, "tokens": 0.0}
    for clip in clips:
        measured = _clip(served, model, generation, folder / clip["file"])
        result = measured["result"]
        clip |= {"seconds": round(result["duration"], 3),
                 "runtime_text": result["text"]}  # fmt: skip
        rows.append({"file": clip["file"], "seconds": clip["seconds"],
                     "wer": word_error_rate(clip["text"], result["text"]),
                     "windows": len(measured["same"]), "same_tokens": all(measured["same"]),
                     "fallbacks": sum(s["temperature"] > 0 for s in result["segments"]),
                     "text": result["text"]})  # fmt: skip
        for key in ("runtime_s", "torch_s", "tokens"):
            totals[key] += measured[key]
        totals["seconds"] += result["duration"]
    return rows, totals


def gate(
    models_dir: Path, testdata_dir: Path, model: Any, generation: GenerationConfig,
    filters: np.ndarray,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Quality and latency of the served model (see the module's docstring)."""
    from aiaas_runtime import ModelRegistry  # noqa: PLC0415
    from aiaas_runtime.session import available_cpus  # noqa: PLC0415

    folder = testdata_dir / SPEECH
    clips = make_clips(folder)
    if clips is None:
        log.warning("%s: espeak-ng is not installed: speech gate SKIPPED (apt-get install "
                    "espeak-ng)", NAME)  # fmt: skip
        skipped = {"skipped": "espeak-ng not installed"}
        return skipped, {"p50_ms": {}, **skipped}
    served = ModelRegistry(models_dir).get(NAME)
    assert np.array_equal(served.processor.filters, filters), "mel filters differ"
    mel_diff = log_mel_difference(served, folder / "hello.wav", folder)
    rows, totals = _clips(served, model, generation, folder, clips)
    common.write_json(folder / "speech.json", {"clips": clips})
    quality = {
        "metric": "espeak-ng speech (en-us, 150 wpm): tokens of every 30 s window the runtime "
        "decodes equal transformers' generate (fp32, greedy, timestamps) on the same log-mel; "
        "word error rate of the transcript against the spoken text",
        "clips": rows,
        "same_tokens": f"{sum(r['windows'] for r in rows if r['same_tokens'])}/"
        f"{sum(r['windows'] for r in rows)} windows",
        "wer_mean": round(float(np.mean([r["wer"] for r in rows])), 4),
        "log_mel_max_abs_diff": mel_diff,
        "gate": {"same_tokens": "all", "wer_per_clip": MAX_WER, "log_mel_max_abs_diff": 1e-4},
    }
    assert all(r["same_tokens"] for r in rows), f"gate failed (tokens): {rows}"
    assert all(r["wer"] <= MAX_WER for r in rows), f"gate failed (WER): {rows}"
    assert mel_diff <= 1e-4, f"gate failed (log-mel {mel_diff})"
    latency = {
        "p50_ms": {"1": round(totals["runtime_s"] / max(1, totals["tokens"]) * 1e3, 2)},
        **speed(served, folder / "hello.wav"),
        "real_time_factor": round(totals["seconds"] / totals["runtime_s"], 2),
        "pytorch_real_time_factor": round(totals["seconds"] / totals["torch_s"], 2),
        "audio_seconds": round(totals["seconds"], 2),
        "threads": available_cpus(),
        "measured_on": "the model build host, the gate's clips one at a time (p50_ms: "
        "transcription time per generated token, encoder included; real_time_factor: audio "
        "seconds per second of transcription)",
    }
    log.info("%s: %s", NAME, latency)
    return quality, latency
