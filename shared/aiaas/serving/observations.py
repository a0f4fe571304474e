"""What a prediction's outputs were, for the per-model metrics (`aiaas.domain.model_metrics`):
noted by the prediction service, read by the predict app's request metrics, per request (a
context variable: each request runs in its own context)."""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from typing import Any

from aiaas.domain.model_metrics import length_bucket

_LAST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "aiaas_prediction_summary", default=None
)


def note(outputs: Sequence[dict[str, Any]], lengths: Sequence[int] = ()) -> None:
    """Summarize one prediction's outputs (classes and top scores, values, input lengths)."""
    summary: dict[str, Any] = {"rows": len(outputs), "classes": {}, "top": 0.0,
                               "value_sum": 0.0, "value_squares": 0.0, "lengths": {}}  # fmt: skip
    for output in outputs:
        if "label" in output:
            label = str(output["label"])
            summary["classes"][label] = summary["classes"].get(label, 0) + 1
            summary["top"] += float(output.get("score", 0.0))
        elif "value" in output:
            value = float(output["value"])
            summary["value_sum"] += value
            summary["value_squares"] += value * value
    for length in lengths:
        bucket = length_bucket(length)
        summary["lengths"][bucket] = summary["lengths"].get(bucket, 0) + 1
    _current().update(summary)


def note_tokens(prompt: int, completion: int) -> None:
    """A generation's prompt and completion tokens (noted when its stream ends, which may be
    in a worker thread: the request's summary is one shared dict, see `start`)."""
    _current().update(prompt_tokens=prompt, completion_tokens=completion)


def note_audio(seconds: int) -> None:
    """A transcription's audio seconds (rounded up, as metered)."""
    _current().update(audio_seconds=seconds)


def start() -> None:
    """Begin this request's summary: one dict that copies of the request's context (a
    streaming response's worker thread) fill in too."""
    _LAST.set({})


def take() -> dict[str, Any] | None:
    """The summary noted in this request, once."""
    summary = _LAST.get()
    _LAST.set(None)
    return summary or None


def _current() -> dict[str, Any]:
    summary = _LAST.get()
    if summary is None:
        summary = {}
        _LAST.set(summary)
    return summary
