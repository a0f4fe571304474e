"""Speech to text over real HTTP with the official ``openai`` client: every response format,
WAV, FLAC, MP3 and Ogg input, long audio in 30 s windows, every bad request as OpenAI's
error, audio seconds in the usage report, quotas, and batch jobs of audio lines."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import numpy as np
import openai as openai_errors
import pytest
from openai import OpenAI

from tests.e2e.accounts import new_account
from tests.e2e.batch_jobs import batch_headers, output, submit, wait_for_job
from tests.e2e.conftest import RUNNING
from tests.speech import clip, encode, long_clip, wav_of, wer

pytestmark = pytest.mark.e2e

MODEL = "whisper-tiny-en"
WER_BOUND = 0.15  # espeak-ng's voice, read by Whisper tiny.en (the build measures each clip)


@pytest.fixture(scope="module")
def client(local_stack: str, account: dict[str, Any]) -> OpenAI:
    return OpenAI(base_url=f"{local_stack}/v1", api_key=account["key"], max_retries=0, timeout=120)


def test_models_list_the_speech_model(
    client: OpenAI, http: httpx.Client, key: dict[str, str]
) -> None:
    assert MODEL in {m.id for m in client.models.list().data}
    listed = http.get("/v1/models", headers=key).json()["data"]
    assert next(m for m in listed if m["id"] == MODEL)["task"] == "speech-recognition"


def test_json_transcript_is_within_the_word_error_bound(client: OpenAI) -> None:
    audio, text = clip(0)
    answer = client.audio.transcriptions.create(model=MODEL, file=("speech.wav", audio))
    assert wer(text, answer.text) <= WER_BOUND, (text, answer.text)
    assert answer.usage is not None and answer.usage.seconds >= 1


def test_verbose_json_has_timed_segments(client: OpenAI) -> None:
    audio, text = clip(1)
    answer = client.audio.transcriptions.create(
        model=MODEL, file=("speech.wav", audio), response_format="verbose_json",
        timestamp_granularities=["segment"],
    )  # fmt: skip
    assert answer.language == "english" and answer.duration > 1
    assert wer(text, answer.text) <= WER_BOUND, (text, answer.text)
    segments = answer.segments
    assert segments and segments[0].start >= 0 and segments[-1].end <= answer.duration + 0.5
    assert all(s.start <= s.end for s in segments)
    assert " ".join(s.text.strip() for s in segments) == answer.text.strip()


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
def test_plain_text_formats(client: OpenAI, fmt: str) -> None:
    audio, text = clip(0)
    answer = client.audio.transcriptions.create(
        model=MODEL, file=("speech.wav", audio), response_format=fmt
    )
    assert isinstance(answer, str)
    if fmt == "text":
        assert wer(text, answer) <= WER_BOUND
    elif fmt == "srt":
        assert answer.startswith("1\n00:00:0") and " --> " in answer
    else:
        assert answer.startswith("WEBVTT\n\n00:00:0") and " --> " in answer


@pytest.mark.parametrize("fmt", ["FLAC", "MP3", "OGG"])
def test_compressed_audio_reads_as_the_wav_does(client: OpenAI, fmt: str) -> None:
    audio, text = clip(0)
    encoded = encode(audio, fmt)
    answer = client.audio.transcriptions.create(
        model=MODEL, file=(f"speech.{fmt.lower()}", encoded)
    )
    assert wer(text, answer.text) <= WER_BOUND, (fmt, text, answer.text)


def test_long_audio_is_read_in_windows(client: OpenAI) -> None:
    audio, text = long_clip()
    answer = client.audio.transcriptions.create(
        model=MODEL, file=("long.wav", audio), response_format="verbose_json"
    )
    assert answer.duration > 30
    assert wer(text, answer.text) <= 0.2, (text, answer.text)
    starts = [s.start for s in answer.segments]
    assert starts == sorted(starts) and answer.segments[-1].end > 30


@pytest.mark.parametrize(
    ("fields", "files", "param"),
    [
        ({"model": MODEL}, {"file": ("notes.txt", b"not audio at all, just text")}, "file"),
        ({"model": MODEL}, {"file": ("empty.wav", b"")}, "file"),
        ({"model": MODEL, "language": "fr"}, None, "language"),
        ({"model": MODEL, "temperature": "1.5"}, None, "temperature"),
        ({"model": MODEL, "temperature": "warm"}, None, "temperature"),
        ({"model": MODEL, "response_format": "diarized_json"}, None, "response_format"),
        ({"model": MODEL, "timestamp_granularities[]": "word"}, None, "timestamp_granularities"),
        ({"model": MODEL, "stream": "true"}, None, "stream"),
        ({"model": MODEL, "keywords[]": "x"}, None, "keywords[]"),
        ({"model": MODEL}, {}, "file"),  # no file: not even a multipart form
        ({}, None, "model"),
    ],
)  # fmt: skip
def test_bad_requests_are_openai_errors(
    http: httpx.Client,
    key: dict[str, str],
    fields: dict[str, str],
    files: dict[str, Any] | None,
    param: str,
) -> None:
    if files is None:
        files = {"file": ("speech.wav", clip(0)[0])}
    response = http.post("/v1/audio/transcriptions", data=fields, files=files or None, headers=key)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param, error
    assert error["message"]


def test_not_a_form_is_refused(http: httpx.Client, key: dict[str, str]) -> None:
    response = http.post("/v1/audio/transcriptions", json={"model": MODEL}, headers=key)
    assert response.status_code == 400 and "multipart/form-data" in response.text


def test_audio_over_the_duration_limit_is_413(client: OpenAI) -> None:
    silence = wav_of(np.zeros(16_000 * 125, dtype=np.float32))  # 125 s, 4 MB at 16 kHz
    with pytest.raises(openai_errors.APIStatusError) as refused:
        client.audio.transcriptions.create(model=MODEL, file=("long.wav", silence))
    assert refused.value.status_code == 413
    assert "at most 120 s" in refused.value.body["message"]


def test_a_decompression_bomb_is_413(client: OpenAI) -> None:
    hour = encode(wav_of(np.zeros(16_000 * 3600, dtype=np.float32)), "FLAC")  # ~200 KB
    with pytest.raises(openai_errors.APIStatusError) as refused:
        client.audio.transcriptions.create(model=MODEL, file=("hour.flac", hour))
    assert refused.value.status_code == 413
    assert "longer than 600 s" in refused.value.body["message"]


def test_unknown_and_non_speech_models(client: OpenAI) -> None:
    audio = clip(0)[0]
    with pytest.raises(openai_errors.NotFoundError):
        client.audio.transcriptions.create(model="no-such-model", file=("a.wav", audio))
    with pytest.raises(openai_errors.BadRequestError, match="does not transcribe"):
        client.audio.transcriptions.create(model="iris-rf", file=("a.wav", audio))


def test_audio_seconds_are_metered_and_quota_applies(http: httpx.Client, local_stack: str) -> None:
    account = new_account(http)
    headers = {"x-api-key": account["key"]}
    limited = http.post(
        "/v1/keys", headers=headers,
        json={"name": "speech", "scopes": ["predict"], "daily_quota": 2},
    ).json()  # fmt: skip
    client = OpenAI(base_url=f"{local_stack}/v1", api_key=limited["key"], max_retries=0)
    audio = clip(0)[0]
    answers = [
        client.audio.transcriptions.create(model=MODEL, file=("a.wav", audio)),
        client.audio.transcriptions.create(
            model=MODEL, file=("a.wav", audio), response_format="verbose_json"
        ),
    ]
    with pytest.raises(openai_errors.RateLimitError):
        client.audio.transcriptions.create(model=MODEL, file=("a.wav", audio))
    usage = http.get("/v1/usage", headers=headers).json()
    assert usage["by_model"][MODEL] == 2
    seconds = [a.usage.seconds for a in answers]
    assert usage["units_by_model"][MODEL]["audio_seconds"] == sum(seconds)
    other = http.get("/v1/usage", headers={"x-api-key": new_account(http)["key"]}).json()
    assert MODEL not in other["by_model"]
    deadline, metered = time.monotonic() + 10, []
    while time.monotonic() < deadline and len(metered) < 2:  # EMF lines: the stack's stdout
        emf = [json.loads(line) for line in RUNNING[local_stack].lines
               if line.startswith('{"_aws"') and account["tenant"] in line]  # fmt: skip
        metered = sorted(line["AudioSeconds"] for line in emf if "AudioSeconds" in line)
        time.sleep(0.2)
    assert metered == sorted(seconds)


def test_a_batch_job_of_audio_lines_keeps_every_line(
    http: httpx.Client, account: dict[str, Any]
) -> None:
    headers = batch_headers(http, account["token"])
    audio, text = clip(0)
    lines = [
        {"id": 1, "input": {"audio": base64.b64encode(audio).decode()}},
        {"id": 2, "input": {"audio": base64.b64encode(b"not audio").decode()}},
        {"id": 3, "input": base64.b64encode(encode(audio, "FLAC")).decode()},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    job = wait_for_job(http, headers, submit(http, headers, MODEL, data)["id"])
    assert job["status"] == "PARTIALLY_FAILED", job
    rows = output(job)
    assert [row["id"] for row in rows] == [1, 2, 3]
    assert wer(text, rows[0]["output"]["text"]) <= WER_BOUND
    assert "error" in rows[1] and "audio" in json.dumps(rows[1]["error"])
    assert wer(text, rows[2]["output"]["text"]) <= WER_BOUND
