"""OpenAI-compatible speech to text: ``POST /v1/audio/transcriptions`` (multipart form).

The official client's ``audio.transcriptions.create`` works unchanged, in every
``response_format``: ``json`` and ``verbose_json`` answer JSON, ``text``, ``srt`` and ``vtt``
plain text. The form is read from the raw body (after the body limit), with at most one file
(`aiaas.protocols.multipart`: the standard library's parser, not a dependency at start).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from aiaas.errors import InvalidInput
from aiaas.protocols.multipart import FilePart, parse_form
from aiaas.protocols.transcripts import FORMATS, ResponseFormat, to_json, to_text
from aiaas.serving.predictions import TranscriptionResult
from aiaas.web.body import check_size
from aiaas.web.docs import documented
from aiaas.web.errors import shaped_router
from aiaas.web.responses import FastJSONResponse
from aiaas.web.schemas.errors import error_responses
from aiaas.web.serving import PredictCallDep

router = shaped_router("openai", prefix="/v1", tags=["openai"])

ERRORS = error_responses(400, 401, 403, 404, 409, 413, 429, 503, shape="openai")
MAX_FIELDS = 16
MAX_FIELD_BYTES = 64 * 1024  # a prompt of 224 tokens is far less
# fields OpenAI's API defines that change nothing here, with the values that mean that
NEUTRAL = {"chunking_strategy": ("auto",), "stream": ("false",), "user": None}
GRANULARITIES = ("timestamp_granularities[]", "timestamp_granularities")


class Segment(BaseModel):
    """A stretch of speech with its times (seconds) and decoding statistics."""

    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class Transcription(BaseModel):
    """``json`` has ``text`` and ``usage``; ``verbose_json`` adds the rest."""

    text: str
    usage: dict[str, Any] = Field(description='{"type": "duration", "seconds": N}')
    task: Literal["transcribe"] | None = None
    language: str | None = None
    duration: float | None = None
    segments: list[Segment] | None = None


FORM_SCHEMA = {
    "type": "object",
    "required": ["file", "model"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "WAV, FLAC, MP3 or Ogg"},
        "model": {"type": "string", "example": "whisper-tiny-en"},
        "language": {"type": "string", "enum": ["en"]},
        "prompt": {"type": "string", "description": "text the speech continues (vocabulary)"},
        "response_format": {"type": "string", "enum": list(FORMATS), "default": "json"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
        "timestamp_granularities[]": {"type": "array", "items": {"enum": ["segment"]}},
    },
}
OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": FORM_SCHEMA}},
    }
}


@router.post("/audio/transcriptions", openapi_extra=OPENAPI)
@documented(Transcription, ERRORS)
async def transcriptions(request: Request, call: PredictCallDep) -> Response:
    """Transcribe speech (``file`` and ``model``; json, text, verbose_json, srt or vtt)."""
    form = await _form(request, call.max_body_bytes)
    model, item, response_format = _request(form)
    result = call.service.transcribe(call.caller, model, item)
    headers = _headers(result)
    if response_format in ("json", "verbose_json"):
        return FastJSONResponse(to_json(result.transcript, response_format), headers=headers)
    return PlainTextResponse(to_text(result.transcript, response_format), headers=headers)


Form = dict[str, list[str | FilePart]]


async def _form(request: Request, max_bytes: int) -> Form:
    """The multipart form, after the body limit; a malformed form (or no form) is a 400
    naming why."""
    body = await request.body()
    check_size(request, body, max_bytes)
    return parse_form(
        body, request.headers.get("content-type", ""), max_fields=MAX_FIELDS, max_files=1,
        max_field_bytes=MAX_FIELD_BYTES,
    )  # fmt: skip


def _request(form: Form) -> tuple[str, dict[str, Any], ResponseFormat]:
    """The model, the runtime's request item and the response format, each checked."""
    audio = next(iter(form.get("file", [])), None)
    if not isinstance(audio, FilePart):
        raise InvalidInput("file is required: the audio, as a file field", param="file")
    model = _text(form, "model")
    if model is None or not 0 < len(model) <= 64:
        raise InvalidInput("model must be a model name (1 to 64 characters)", param="model")
    response_format = _text(form, "response_format") or "json"
    if response_format not in FORMATS:
        raise InvalidInput(
            f"response_format must be one of {', '.join(FORMATS)}", param="response_format"
        )
    _refuse_unsupported(form)
    item: dict[str, Any] = {"audio": audio.data}
    for field in ("language", "prompt"):
        if (value := _text(form, field)) is not None:
            item[field] = value
    if (temperature := _text(form, "temperature")) is not None:
        item["temperature"] = _number(temperature, "temperature")
    return model, item, response_format


def _refuse_unsupported(form: Form) -> None:
    known = {"file", "model", "response_format", "language", "prompt", "temperature"}
    for key in form:
        if key in known:
            continue
        values = [str(v).lower() for v in form[key]]
        if key in GRANULARITIES:
            if any(v != "segment" for v in values):
                raise InvalidInput(
                    "only segment timestamps are supported (verbose_json, srt and vtt carry "
                    "them); word timestamps are not",
                    param="timestamp_granularities",
                )
        elif key in NEUTRAL:
            allowed = NEUTRAL[key]
            if allowed is not None and any(v not in allowed for v in values):
                what = "streamed transcriptions" if key == "stream" else f"{key}={values[0]}"
                raise InvalidInput(f"{what} are not supported", param=key)
        else:
            raise InvalidInput(f"unknown field {key!r}", param=key)


def _text(form: Form, field: str) -> str | None:
    values = form.get(field)
    if not values:
        return None
    value = values[0]
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a text field, not a file", param=field)
    return value


def _number(value: str, field: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise InvalidInput(f"{field} must be a number", param=field) from exc


def _headers(result: TranscriptionResult) -> dict[str, str]:
    return {
        "x-model-name": result.served.name,
        "x-model-version": result.served.version,
        "x-model-variant": result.served.variant,
        "x-inference-ms": f"{result.inference_ms:.2f}",
        "x-model-rows": "1",
        "x-audio-seconds": str(result.audio_seconds),
    }
