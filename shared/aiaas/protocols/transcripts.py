"""OpenAI's transcription response formats: ``json``, ``text``, ``verbose_json``, ``srt``
and ``vtt``, from one transcript (``text``, ``language``, ``duration`` and ``segments`` with
``start``/``end`` seconds, as `aiaas_runtime.tasks.speech` answers)."""

from __future__ import annotations

from typing import Any, Literal

ResponseFormat = Literal["json", "text", "verbose_json", "srt", "vtt"]
FORMATS: tuple[ResponseFormat, ...] = ("json", "text", "verbose_json", "srt", "vtt")
SEGMENT_FIELDS = (
    "id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
    "compression_ratio", "no_speech_prob",
)  # fmt: skip


def timestamp(seconds: float, separator: str) -> str:
    """``HH:MM:SS<separator>mmm`` (SubRip uses a comma, WebVTT a full stop)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(transcript: dict[str, Any], separator: str) -> list[tuple[str, str]]:
    cues = []
    for segment in transcript.get("segments", []):
        text = str(segment["text"]).strip()
        if text:
            start = timestamp(float(segment["start"]), separator)
            cues.append((f"{start} --> {timestamp(float(segment['end']), separator)}", text))
    return cues


def to_srt(transcript: dict[str, Any]) -> str:
    """SubRip: numbered cues, ``00:00:01,500 --> 00:00:03,000``, a blank line after each."""
    cues = _cues(transcript, ",")
    return "".join(f"{n}\n{times}\n{text}\n\n" for n, (times, text) in enumerate(cues, 1))


def to_vtt(transcript: dict[str, Any]) -> str:
    """WebVTT: the ``WEBVTT`` header, then ``00:00:01.500 --> 00:00:03.000`` cues."""
    return "WEBVTT\n\n" + "".join(f"{times}\n{text}\n\n" for times, text in _cues(transcript, "."))


def usage(transcript: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's usage of a transcription billed by duration (whole seconds, rounded up)."""
    duration = float(transcript.get("duration", 0.0))
    return {"type": "duration", "seconds": int(-(-duration // 1))}


def to_json(transcript: dict[str, Any], response_format: ResponseFormat) -> dict[str, Any]:
    """The ``json`` body (text and usage) or ``verbose_json`` (language, duration, segments)."""
    if response_format == "json":
        return {"text": transcript["text"], "usage": usage(transcript)}
    segments = [
        {key: segment[key] for key in SEGMENT_FIELDS if key in segment}
        for segment in transcript.get("segments", [])
    ]
    return {
        "task": "transcribe",
        "language": transcript.get("language", "english"),
        "duration": round(float(transcript.get("duration", 0.0)), 3),
        "text": transcript["text"],
        "segments": segments,
        "usage": usage(transcript),
    }


def to_text(transcript: dict[str, Any], response_format: ResponseFormat) -> str:
    """The plain-text formats: ``text`` (the transcript and a newline), ``srt`` or ``vtt``."""
    if response_format == "srt":
        return to_srt(transcript)
    if response_format == "vtt":
        return to_vtt(transcript)
    return f"{transcript['text']}\n"
