"""OpenAI-compatible generation: ``/v1/chat/completions`` and the legacy ``/v1/completions``.

The official client pointed at ``<base>/v1`` works unchanged, with and without
``stream=True``. A stream is server-sent events of ``chat.completion.chunk`` (or
``text_completion``) objects ending in ``data: [DONE]``; it is sent as tokens are generated
where the path streams (the local stack, a streaming invoke), and arrives whole, still a valid
event stream, through API Gateway's HTTP API, which buffers responses.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from aiaas.auth.principal import Principal
from aiaas.errors import DomainError, InvalidInput
from aiaas.serving.predictions import ChatCall, ChatResult, PredictionService
from aiaas.web.body import openapi_body, read_json
from aiaas.web.docs import documented
from aiaas.web.errors import shaped_router, status_of
from aiaas.web.responses import FastJSONResponse
from aiaas.web.schemas.errors import error_responses
from aiaas.web.serving import PredictCallDep

router = shaped_router("openai", prefix="/v1", tags=["openai"])

Kind = Literal["chat", "text"]
ERRORS = error_responses(400, 401, 403, 404, 409, 413, 429, 503, shape="openai")


class Message(BaseModel):
    """A chat message: ``content`` a string or text parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]]


class StreamOptions(BaseModel):
    """``include_usage``: a last chunk with the usage and no choices."""

    include_usage: bool = False


class Sampling(BaseModel):
    """What both requests carry besides their input."""

    model_config = ConfigDict(extra="allow")

    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: Literal[1] = 1
    stream: bool = False


class ChatCompletionRequest(Sampling):
    """OpenAI's chat completion request, as far as this platform's models honour it."""

    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stream_options: StreamOptions | None = None


class CompletionRequest(Sampling):
    """OpenAI's legacy completion request (one prompt)."""

    prompt: str


class Usage(BaseModel):
    """Tokens read and generated."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """OpenAI's chat completion (``choices[0].message.content`` is the answer)."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: Usage
    system_fingerprint: str


@router.post("/chat/completions", openapi_extra=openapi_body(ChatCompletionRequest))
@documented(ChatCompletion, ERRORS)
async def chat_completions(request: Request, call: PredictCallDep) -> Any:
    """Answer a conversation (``stream: true``: server-sent ``chat.completion.chunk``s)."""
    body = await _body(request, call.max_body_bytes, required="messages", refused="prompt")
    return _respond(call.service, call.caller, body, "chat")


@router.post("/completions", openapi_extra=openapi_body(CompletionRequest))
@documented(None, ERRORS)
async def completions(request: Request, call: PredictCallDep) -> Any:
    """Continue a prompt (legacy completions; ``stream: true`` as for chat)."""
    body = await _body(request, call.max_body_bytes, required="prompt", refused="messages")
    return _respond(call.service, call.caller, body, "text")


async def _body(request: Request, max_bytes: int, *, required: str, refused: str) -> dict[str, Any]:
    body = await read_json(request, max_bytes)
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object", param="body")
    model = body.get("model")
    if not isinstance(model, str) or not 0 < len(model) <= 64:
        raise InvalidInput("model must be a model name (1 to 64 characters)", param="model")
    if required not in body:
        raise InvalidInput(f"{required} is required", param=required)
    if refused in body:
        raise InvalidInput(f"{refused} belongs to the other route; send {required}", param=refused)
    if not isinstance(body.get("stream", False), bool):
        raise InvalidInput("stream must be true or false", param="stream")
    return body


def _respond(
    service: PredictionService, caller: Principal, body: dict[str, Any], kind: Kind
) -> StreamingResponse | FastJSONResponse:
    call = service.start_chat(caller, body["model"], body)
    answer = Answer(call, kind)
    headers = {
        "x-model-name": call.served.name,
        "x-model-version": call.served.version,
        "x-model-variant": call.served.variant,
        "x-model-rows": "1",
    }
    if body.get("stream"):
        options = body.get("stream_options") or {}
        usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
        events = answer.events(service.stream(caller, call), include_usage=usage)
        headers |= {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    result = service.complete(caller, call)
    headers["x-inference-ms"] = f"{result.inference_ms:.2f}"
    return FastJSONResponse(answer.whole(result), headers=headers)


class Answer:
    """OpenAI's response objects for one call."""

    def __init__(self, call: ChatCall, kind: Kind) -> None:
        self.call = call
        self.kind = kind
        self.id = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{secrets.token_hex(12)}"
        self.created = int(time.time())
        served = call.served
        self.model = served.name
        self.fingerprint = f"aiaas-{served.name}-v{served.version}-{served.variant}"

    def _head(self, chunk: bool) -> dict[str, Any]:
        if self.kind == "chat":
            kind = "chat.completion.chunk" if chunk else "chat.completion"
        else:
            kind = "text_completion"
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model,
                "system_fingerprint": self.fingerprint}  # fmt: skip

    def _usage(self, completion: int) -> dict[str, int]:
        prompt = self.call.prompt_tokens
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}  # fmt: skip

    def _choice(self, text: str | None, finish: str | None, *, chunk: bool) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish}
        if self.kind == "text":
            return choice | {"text": text or ""}
        if not chunk:
            return choice | {"message": {"role": "assistant", "content": text, "refusal": None}}
        return choice | {"delta": {} if text is None else {"content": text}}

    def whole(self, result: ChatResult) -> dict[str, Any]:
        """The response of a call without ``stream``."""
        return self._head(chunk=False) | {
            "choices": [self._choice(result.text, result.finish_reason, chunk=False)],
            "usage": self._usage(result.completion_tokens),
        }

    def events(self, deltas: Iterator[Any], *, include_usage: bool) -> Iterator[str]:
        """Server-sent events: a first chunk (the role), one per text delta, one with the
        finish reason, the usage (when asked) and ``[DONE]``. An error once the stream has
        started is one ``error`` event in OpenAI's shape (the status line was already sent).
        """
        head = self._head(chunk=True)
        if self.kind == "chat":
            first = self._choice("", None, chunk=True)
            first["delta"]["role"] = "assistant"
            yield _event(head | {"choices": [first]})
        completion = 0
        try:
            for delta in deltas:
                completion = delta.completion_tokens
                if delta.text:
                    yield _event(head | {"choices": [self._choice(delta.text, None, chunk=True)]})
                if delta.finish_reason:
                    last = self._choice(None, delta.finish_reason, chunk=True)
                    yield _event(head | {"choices": [last]})
        except DomainError as exc:
            status = status_of(exc)
            error = {"message": exc.message, "type": "invalid_request_error" if status < 500
                     else "api_error", "param": exc.param, "code": exc.code}  # fmt: skip
            yield _event({"error": error})
        if include_usage:
            yield _event(head | {"choices": [], "usage": self._usage(completion)})
        yield "data: [DONE]\n\n"


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"
