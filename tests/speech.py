"""Speech test data: the clips the model build spoke with espeak-ng, re-encoded; the word
error rate (`modelzoo.wer`, as the build gate counts it)."""

from __future__ import annotations

import io
import json
from functools import cache
from typing import Any

import numpy as np
import soundfile

from modelzoo.wer import word_error_rate as wer
from tests.conftest import TESTDATA

SPEECH = TESTDATA / "speech"


@cache
def clips() -> list[dict[str, Any]]:
    """``{"file", "text", "seconds"}`` of each clip (``build/testdata/speech/speech.json``)."""
    listed: list[dict[str, Any]] = json.loads((SPEECH / "speech.json").read_text())["clips"]
    return listed


def clip(index: int) -> tuple[bytes, str]:
    """One clip's WAV bytes and the text spoken in it."""
    entry = clips()[index]
    return (SPEECH / entry["file"]).read_bytes(), str(entry["text"])


def long_clip() -> tuple[bytes, str]:
    """The clip longer than one 30 s window."""
    index = next(i for i, c in enumerate(clips()) if float(c["seconds"]) > 30)
    return clip(index)


def encode(wav: bytes, fmt: str) -> bytes:
    """The same audio as FLAC, MP3 or OGG (Vorbis)."""
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format=fmt)
    return out.getvalue()


def wav_of(samples: np.ndarray, rate: int = 16_000) -> bytes:
    """16-bit PCM WAV bytes of float samples."""
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


__all__ = ["clip", "clips", "encode", "long_clip", "wav_of", "wer"]
