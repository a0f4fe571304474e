"""whisper-tiny-en on the runtime: fp16 blocks expand exactly, the log-mel equals
transformers', espeak-ng speech is transcribed (one clip over 30 s, across windows, with
increasing times), WAV, FLAC, MP3 and Ogg of the same speech read alike, sampling is seeded, and
every bad request is refused, naming the field at fault."""

from __future__ import annotations

import base64
import io
import json
import math
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aiaas_runtime import AudioTooLongError, ModelRegistry, PredictParams
from aiaas_runtime import blocks as block_weights
from aiaas_runtime.errors import InvalidInputError
from aiaas_runtime.tasks.transcript import Window
from modelzoo.wer import word_error_rate, words
from tests.speech import SPEECH, encode

NAME = "whisper-tiny-en"
MAX_WER = 0.15
SEGMENT_FIELDS = {
    "id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
    "compression_ratio", "no_speech_prob",
}  # fmt: skip


@pytest.fixture(scope="module")
def model(models_dir: Path):  # type: ignore[no-untyped-def]
    return ModelRegistry(models_dir).get(NAME)


@pytest.fixture(scope="module")
def clips() -> list[dict[str, Any]]:
    index = SPEECH / "speech.json"
    if not index.is_file():
        pytest.fail(f"no {index}: the model build made no speech clips (install espeak-ng)")
    clips: list[dict[str, Any]] = json.loads(index.read_text())["clips"]
    return clips


def transcribe(model: Any, item: Any) -> dict[str, Any]:
    result: dict[str, Any] = model.predict([item]).results[0]
    return result


def refused(model: Any, item: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        model.prepare([item])
    return caught.value


def wav_bytes(samples: np.ndarray, rate: int = 16000, width: int = 2) -> bytes:
    """A mono PCM WAV file (16-bit, or 8-bit unsigned with ``width=1``)."""
    if width == 2:
        frames = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    else:
        frames = (np.clip(samples, -1, 1) * 127 + 128).astype(np.uint8).tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def test_f16_blocks_round_trip_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((64, 48)).astype(np.float16).astype(np.float32)
    packed = block_weights.pack_f16(weight)
    assert packed is not None and packed["w"].dtype == np.float16
    index = {"w": {"format": "f16", "shape": [64, 48]},
             "w.T": {"format": "transpose", "shape": [48, 64], "of": "w"}}  # fmt: skip
    blocks = tmp_path / "weights.blocks.npz"
    block_weights.save(blocks, index, {"w": packed})
    back = block_weights.load(blocks)
    assert np.array_equal(back["w"], weight) and back["w"].dtype == np.float32
    assert np.array_equal(back["w.T"], weight.T)
    assert block_weights.pack_f16(weight + 1e-4) is None  # not fp16: refused, not rounded
    graph = tmp_path / "graph.onnx"
    graph.write_bytes(b"x" * 100)
    assert block_weights.resident_bytes(graph, blocks) == 2 * (100 + 4 * 2 * weight.size)


def test_model_weights_are_fp16_blocks(model) -> None:  # type: ignore[no-untyped-def]
    storage = model.manifest.extra["quantization"]["storage"]
    assert storage["decoder"]["tensors"]["transpose"] == 1  # the tied output projection
    same, windows = model.manifest.quality["fp32"]["same_tokens"].split()[0].split("/")
    assert same == windows  # the build's gate: the runtime's tokens are PyTorch's


def test_log_mel_equals_transformers(model) -> None:  # type: ignore[no-untyped-def]
    reference = np.load(SPEECH / "hello.mel.npy")
    samples = model.prepare([(SPEECH / "hello.wav").read_bytes()]).items[0].samples
    ours = model.processor.features(samples)[:, : reference.shape[1]]
    assert reference.shape == (80, 3000)
    assert np.abs(ours - reference).max() < 1e-4


def test_transcripts_read_what_was_said(model, clips) -> None:  # type: ignore[no-untyped-def]
    for clip in clips:
        result = transcribe(model, {"audio": (SPEECH / clip["file"]).read_bytes()})
        assert result["text"] == clip["runtime_text"], clip["file"]  # as in the build's gate
        assert word_error_rate(clip["text"], result["text"]) <= MAX_WER, result["text"]
        assert result["language"] == "english"
        assert result["duration"] == pytest.approx(clip["seconds"], abs=1e-3)
        assert result["text"] == "".join(s["text"] for s in result["segments"]).strip()
        for segment in result["segments"]:
            assert set(segment) == SEGMENT_FIELDS
            assert segment["temperature"] == 0 and segment["no_speech_prob"] < 0.6


def test_long_audio_is_read_window_by_window(model, clips) -> None:  # type: ignore[no-untyped-def]
    clip = next(c for c in clips if c["seconds"] > 30)
    result = transcribe(model, (SPEECH / clip["file"]).read_bytes())
    segments = result["segments"]
    assert len({s["seek"] for s in segments}) >= 2  # a second window, after a seek
    assert [s["id"] for s in segments] == list(range(len(segments)))
    ends = [0.0]
    for segment in segments:
        assert ends[-1] <= segment["start"] < segment["end"] <= result["duration"] + 1.0
        ends.append(segment["end"])
    assert segments[-1]["start"] > 30
    tail = " ".join(words(clip["text"])[-5:])
    assert tail in " ".join(words(result["text"]))  # the last words, read in the last window


def test_wav_flac_mp3_and_ogg_read_alike(model) -> None:  # type: ignore[no-untyped-def]
    source = (SPEECH / "hello.wav").read_bytes()
    wav = transcribe(model, source)["text"]
    assert transcribe(model, encode(source, "FLAC"))["text"] == wav  # lossless
    for fmt in ("MP3", "OGG"):
        text = transcribe(model, encode(source, fmt))["text"]
        assert word_error_rate(wav, text) <= 0.1, (fmt, wav, text)


def test_base64_and_bare_items(model) -> None:  # type: ignore[no-untyped-def]
    data = (SPEECH / "hello.wav").read_bytes()
    prepared = model.prepare([base64.b64encode(data).decode()]).items[0]
    assert prepared.seconds == pytest.approx(len(prepared.samples) / 16000)
    assert model.processor.length(prepared) == math.ceil(prepared.seconds)


def test_without_timestamps_one_segment_per_window(model) -> None:  # type: ignore[no-untyped-def]
    data = (SPEECH / "hello.wav").read_bytes()
    result = transcribe(model, {"audio": data, "timestamps": False, "language": "en"})
    assert len(result["segments"]) == 1
    segment = result["segments"][0]
    assert segment["start"] == 0 and segment["end"] == pytest.approx(result["duration"], abs=0.02)
    assert all(t < 50257 for t in segment["tokens"])
    assert word_error_rate("Hello world. This is a test of the speech recognition service.",
                           result["text"]) <= MAX_WER  # fmt: skip


def test_sampling_is_seeded(model) -> None:  # type: ignore[no-untyped-def]
    data = (SPEECH / "weather.wav").read_bytes()
    first = transcribe(model, {"audio": data, "temperature": 0.8, "seed": 3})
    again = transcribe(model, {"audio": data, "temperature": 0.8, "seed": 3})
    assert first == again
    assert first["segments"][0]["temperature"] == 0.8


def test_a_prompt_is_taken_and_cut_to_whisper_s_limit(model) -> None:  # type: ignore[no-untyped-def]
    data = (SPEECH / "hello.wav").read_bytes()
    prepared = model.prepare([{"audio": data, "prompt": "word " * 400}]).items[0]
    assert len(prepared.prompt) == 223  # <|startofprev|> and the last 223 tokens
    result = transcribe(model, {"audio": data, "prompt": "A speech recognition test."})
    assert word_error_rate("Hello world. This is a test of the speech recognition service.",
                           result["text"]) <= MAX_WER  # fmt: skip


def test_repetitive_text_is_decoded_again_hotter(model, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given a decoder whose greedy text loops and whose sampled text does not
    processor = model.processor
    loop = processor.content.encode(" the the the the" * 20).ids
    calls: list[float] = []

    def decode(cross: Any, prompt: Any, temperature: float, *args: Any) -> Window:
        calls.append(temperature)
        if temperature == 0:
            return Window(loop, -0.5, 0.01, temperature)  # likely, but compresses > 2.4
        return Window([262, 13], -0.3, 0.01, temperature)

    monkeypatch.setattr(processor.decoder, "decode", decode)
    monkeypatch.setattr(processor, "encode", lambda runner, features: {})
    # When a window is decoded greedily
    window = processor.decode_window(None, np.zeros((80, 3000), np.float32), prompt=(),
                                     temperature=0.0, timestamps=True,
                                     rng=np.random.default_rng(0))  # fmt: skip
    # Then it is decoded again at 0.2, and that text is kept
    assert calls == [0.0, 0.2] and window.temperature == 0.2 and window.tokens == [262, 13]


def test_no_speech_is_flagged_or_skipped(model) -> None:  # type: ignore[no-untyped-def]
    hiss = np.random.default_rng(0).normal(0, 0.01, 16000 * 3)
    result = transcribe(model, wav_bytes(hiss))
    assert result["text"] == "" and result["segments"] == []  # a skipped window
    assert result["duration"] == pytest.approx(3.0)
    # digital silence: Whisper says "you", confidently enough not to skip, but flags it
    silence = transcribe(model, wav_bytes(np.zeros(16000 * 3)))
    assert all(s["no_speech_prob"] > 0.6 for s in silence["segments"])


@pytest.mark.parametrize(
    ("item", "param", "message"),
    [
        (b"", "file", "the audio file is empty"),
        ({"audio": b""}, "file", "the audio file is empty"),
        (b"not audio at all" * 64, "file", "WAV, FLAC, MP3 or Ogg Vorbis"),
        ("not base64!", "file", "base64"),
        ({"audio": None}, "file", "audio file is required"),
        ([1, 2], "file", "audio"),
        ({"audio": b"x", "speed": 2}, "speed", "speed"),
        ({"audio": b"x", "language": "fr"}, "language", "English"),
        ({"audio": b"x", "temperature": 1.5}, "temperature", "0 to 1"),
        ({"audio": b"x", "temperature": "hot"}, "temperature", "0 to 1"),
        ({"audio": b"x", "temperature": True}, "temperature", "0 to 1"),
        ({"audio": b"x", "prompt": 3}, "prompt", "string"),
        ({"audio": b"x", "timestamps": "yes"}, "timestamps", "true or false"),
    ],
)
def test_bad_requests_are_refused(model, item: Any, param: str, message: str) -> None:  # type: ignore[no-untyped-def]
    error = refused(model, item)
    assert error.param == param and message in error.message


def test_task_options_do_not_apply(model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError) as caught:
        model.prepare([(SPEECH / "hello.wav").read_bytes()], PredictParams(top_k=3))
    assert caught.value.param == "parameters"


def test_audio_without_samples_is_refused(model) -> None:  # type: ignore[no-untyped-def]
    error = refused(model, wav_bytes(np.zeros(0)))
    assert error.param == "file"


def test_audio_over_the_limit_is_too_long(model) -> None:  # type: ignore[no-untyped-def]
    limit = model.manifest.preprocessing["max_seconds"]
    data = wav_bytes(np.zeros(8000 * (limit + 1)), rate=8000, width=1)
    with pytest.raises(AudioTooLongError) as caught:
        model.prepare([data])
    assert caught.value.param == "file" and f"longer than {limit} s" in caught.value.message


def test_a_decompression_bomb_stops_at_the_limit(model) -> None:  # type: ignore[no-untyped-def]
    # Given an hour of silence as FLAC: a few hundred kilobytes that decode to 230 MB
    hour = encode(wav_bytes(np.zeros(16_000 * 3600)), "FLAC")
    assert len(hour) < 1_000_000
    # When it is prepared, Then decoding stops past the limit (600 s, 38 MB), at once
    started = time.perf_counter()
    with pytest.raises(AudioTooLongError):
        model.prepare([hour])
    assert time.perf_counter() - started < 5


def test_the_memory_estimate_counts_the_decoder(models_dir: Path) -> None:
    manifest = ModelRegistry(models_dir).manifest(NAME)
    files = {role: manifest.artifact_path(role) for role in manifest.artifacts}
    encoder = block_weights.resident_bytes(files["fp32"], files["blocks"])
    decoder = block_weights.resident_bytes(files["decoder"], files["decoder_blocks"])
    assert decoder > encoder > 0  # the decoder holds the 51,864-token embedding
    assert block_weights.model_resident_bytes(files["fp32"], files) == encoder + decoder
