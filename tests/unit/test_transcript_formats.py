"""OpenAI's transcription formats from one transcript: SubRip and WebVTT cues, usage in
whole seconds, verbose_json's segment fields."""

from __future__ import annotations

from typing import Any

import pytest

from aiaas.protocols.transcripts import timestamp, to_json, to_srt, to_text, to_vtt, usage

SEGMENT = {"seek": 0, "tokens": [1, 2], "temperature": 0.0, "avg_logprob": -0.2,
           "compression_ratio": 1.1, "no_speech_prob": 0.01}  # fmt: skip
TRANSCRIPT: dict[str, Any] = {
    "text": "Hello there. General Kenobi.",
    "language": "english",
    "duration": 3661.2004,
    "segments": [
        {"id": 0, "start": 0.0, "end": 1.5, "text": " Hello there.", **SEGMENT},
        {"id": 1, "start": 1.5, "end": 3661.2, "text": " General Kenobi.", **SEGMENT},
        {"id": 2, "start": 3661.2, "end": 3661.2, "text": " ", **SEGMENT},
    ],
}


@pytest.mark.parametrize(
    ("seconds", "srt", "vtt"),
    [(0.0, "00:00:00,000", "00:00:00.000"), (1.5, "00:00:01,500", "00:00:01.500"),
     (3661.2004, "01:01:01,200", "01:01:01.200"), (59.9996, "00:01:00,000", "00:01:00.000")],
)  # fmt: skip
def test_timestamps(seconds: float, srt: str, vtt: str) -> None:
    assert timestamp(seconds, ",") == srt
    assert timestamp(seconds, ".") == vtt


def test_srt_numbers_its_cues_and_skips_empty_segments() -> None:
    assert to_srt(TRANSCRIPT) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n"
        "2\n00:00:01,500 --> 01:01:01,200\nGeneral Kenobi.\n\n"
    )


def test_vtt_has_its_header() -> None:
    assert to_vtt(TRANSCRIPT) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n"
        "00:00:01.500 --> 01:01:01.200\nGeneral Kenobi.\n\n"
    )
    assert to_vtt({"text": "", "segments": []}) == "WEBVTT\n\n"


def test_usage_rounds_seconds_up() -> None:
    assert usage({"duration": 2.01}) == {"type": "duration", "seconds": 3}
    assert usage({"duration": 2.0}) == {"type": "duration", "seconds": 2}


def test_json_and_verbose_json() -> None:
    assert to_json(TRANSCRIPT, "json") == {"text": TRANSCRIPT["text"], "usage": usage(TRANSCRIPT)}
    verbose = to_json(TRANSCRIPT | {"internal": 1}, "verbose_json")
    assert verbose["task"] == "transcribe" and verbose["language"] == "english"
    assert verbose["duration"] == 3661.2 and "internal" not in verbose
    assert verbose["segments"][1] == TRANSCRIPT["segments"][1]


def test_text_ends_with_a_newline() -> None:
    assert to_text(TRANSCRIPT, "text") == "Hello there. General Kenobi.\n"
    assert to_text(TRANSCRIPT, "srt").startswith("1\n")
