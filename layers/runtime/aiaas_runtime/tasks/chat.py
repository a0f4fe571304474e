"""Chat and completion: messages -> the model's chat template -> tokens, generated one at a
time by a decoder with a key/value cache (prefill once, then one step per token).

The decoder graph (``modelzoo.smollm2``) takes ``input_ids``, ``attention_mask`` and
``position_ids`` with ``past_key_values.{i}.key/value`` (``[1, kv_heads, past, head_dim]``,
``past`` 0 for the prefill) and answers ``logits`` and ``present.{i}.key/value``. A request
is an OpenAI chat body (``messages``) or a legacy completion (``prompt``) with its sampling
options; the answer is text deltas, then a finish reason (``stop``: an end-of-turn token or
a stop string; ``length``: ``max_tokens``, or the time budget that keeps a call inside API
Gateway's 30 s).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from aiaas_runtime.errors import ContextLengthError, InvalidInputError, RunError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import (
    Feeds,
    Outputs,
    PredictParams,
    item_param,
    refuse_task_options,
)

if TYPE_CHECKING:
    from aiaas_runtime.model import Runner  # model imports the tasks

ROLES = ("system", "user", "assistant")
UNSUPPORTED_ROLES = {"tool": "tool results", "function": "function results"}
MAX_STOPS = 4
# OpenAI request fields this model cannot honour: refused by name rather than ignored
UNSUPPORTED = {
    "tools": "tool calls", "tool_choice": "tool calls", "functions": "function calls",
    "function_call": "function calls", "logprobs": "log probabilities",
    "top_logprobs": "log probabilities", "logit_bias": "logit biases", "audio": "audio output",
    "presence_penalty": "presence penalties", "frequency_penalty": "frequency penalties",
}  # fmt: skip
MAX_PROMPT_CHARS = 40_000


@dataclass(frozen=True, slots=True)
class Generation:
    """One validated request: the prompt's tokens and how to sample the answer."""

    ids: list[int]
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stop: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Delta:
    """Text produced since the last delta; the last one has a finish reason."""

    text: str
    completion_tokens: int
    finish_reason: str | None = None


class ChatProcessor:
    """Renders, tokenizes, validates and generates for a decoder-only language model."""

    def __init__(self, manifest: ModelManifest) -> None:
        pre = manifest.preprocessing
        template = pre["chat_template"]
        self.start, self.end = str(template["start"]), str(template["end"])
        self.default_system = str(template.get("default_system", ""))
        self.context = int(pre["context_length"])
        self.cap = int(pre["max_tokens_cap"])
        self.time_budget_s = float(pre.get("time_budget_s", 25.0))
        self.eos = frozenset(int(t) for t in pre["eos_token_ids"])
        self.temperature = float(pre.get("temperature", 1.0))
        self.top_p = float(pre.get("top_p", 1.0))
        path = manifest.artifact_path("tokenizer")
        self.tokenizer = Tokenizer.from_file(str(path))  # template text: special tokens match
        self.content = Tokenizer.from_file(str(path))  # callers' text: never a special token
        self.content.encode_special_tokens = True
        for tokenizer in (self.tokenizer, self.content):
            tokenizer.no_truncation()
            tokenizer.no_padding()
        past = [t for t in manifest.inputs if t.name.startswith("past_key_values.")]
        self.layers = len(past) // 2
        self.kv_heads, self.head_dim = int(past[0].shape[1]), int(past[0].shape[3])
        self.name = manifest.name

    # -- validation -------------------------------------------------------------------------

    def check_params(self, params: PredictParams) -> None:
        """Chat models take no task options (their options travel with each request)."""
        refuse_task_options(params, f"model {self.name!r} generates text",
                            " (send max_tokens, temperature... per request)")  # fmt: skip

    def check_request(self, items: Sequence[Any]) -> None:
        """Nothing beyond each item's own checks."""

    def prepare(self, item: Any, index: int) -> Generation:
        """A chat body (``messages``) or a completion body (``prompt``), validated."""
        where = item_param(index)
        if isinstance(item, str):
            item = {"prompt": item}
        if not isinstance(item, dict):
            raise InvalidInputError(
                f"{where} must be an object with messages (or a prompt)", param=where
            )
        if "messages" in item:
            ids = self.render(item["messages"])
        elif "prompt" in item:
            ids = self._prompt(item["prompt"])
        else:
            raise InvalidInputError(f"{where} needs messages (or a prompt)", param="messages")
        return self._options(item, ids)

    def render(self, messages: Any) -> list[int]:
        """The chat template's tokens for ``messages``, ready for the assistant's turn (the
        model's default system prompt first when the caller sends none)."""
        if not isinstance(messages, list) or not messages:
            raise InvalidInputError("messages must be a non-empty array", param="messages")
        texts = [self._message(message, i) for i, message in enumerate(messages)]
        if texts[0][0] != "system" and self.default_system:
            texts.insert(0, ("system", self.default_system))
        if sum(len(text) for _, text in texts) > MAX_PROMPT_CHARS:
            raise ContextLengthError(
                f"messages are over {MAX_PROMPT_CHARS} characters; this model's context is "
                f"{self.context} tokens",
                param="messages",
            )
        ids: list[int] = []
        for role, text in texts:
            ids += self._template(f"{self.start}{role}\n")
            ids += self._text(text)
            ids += self._template(f"{self.end}\n")
        return ids + self._template(f"{self.start}assistant\n")

    def _message(self, message: Any, index: int) -> tuple[str, str]:
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidInputError(f"{where} must be an object with role and content", param=where)
        role = message.get("role")
        role = "system" if role == "developer" else role
        if role in UNSUPPORTED_ROLES:
            raise InvalidInputError(
                f"{where}: role {role!r} is not supported: this model does not call tools, "
                f"so it takes no {UNSUPPORTED_ROLES[role]}",
                param=f"{where}.role",
            )
        if role not in ROLES:
            raise InvalidInputError(
                f"{where}.role must be one of system, user, assistant (or developer); got {role!r}",
                param=f"{where}.role",
            )
        if message.get("tool_calls") or message.get("function_call"):
            raise InvalidInputError(
                f"{where}: tool calls are not supported: this model does not call tools",
                param=f"{where}.tool_calls",
            )
        return str(role), _content(message.get("content"), where)

    def _prompt(self, prompt: Any) -> list[int]:
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str) or not prompt:
            raise InvalidInputError(
                "prompt must be one non-empty string (n=1: one prompt a request)",
                param="prompt",
            )
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ContextLengthError(
                f"prompt is over {MAX_PROMPT_CHARS} characters; this model's context is "
                f"{self.context} tokens",
                param="prompt",
            )
        return self._text(prompt)

    def _unsupported(self, item: dict[str, Any]) -> None:
        for field, what in UNSUPPORTED.items():
            if item.get(field) not in (None, False, 0, [], {}):
                raise InvalidInputError(
                    f"{field} is not supported: {self.name!r} does not do {what}", param=field
                )
        if item.get("response_format") not in (None, {"type": "text"}):
            raise InvalidInputError(
                "response_format: only text is supported (no JSON mode)", param="response_format"
            )

    def _options(self, item: dict[str, Any], ids: list[int]) -> Generation:
        self._unsupported(item)
        n = item.get("n", 1)
        if n not in (None, 1) or isinstance(n, bool):
            raise InvalidInputError("n must be 1: one choice a request", param="n")
        limit = item.get("max_completion_tokens", item.get("max_tokens"))
        if limit is None:  # as much as fits, up to the cap
            limit = max(1, min(self.cap, self.context - len(ids)))
        elif not _integer(limit) or limit <= 0:
            raise InvalidInputError("max_tokens must be a positive integer", param="max_tokens")
        elif limit > self.cap:
            raise InvalidInputError(
                f"max_tokens is at most {self.cap} for {self.name!r}: a call must finish "
                "inside API Gateway's 30 s at this model's measured speed",
                param="max_tokens",
            )
        if len(ids) + limit > self.context:
            raise ContextLengthError(
                f"this model's maximum context length is {self.context} tokens; you asked for "
                f"{len(ids) + limit} ({len(ids)} in the prompt, {limit} to generate): shorten "
                "the messages or lower max_tokens",
                param="messages",
            )
        temperature = _number(item, "temperature", self.temperature, 0.0, 2.0)
        top_p = _number(item, "top_p", self.top_p, 0.0, 1.0)
        if top_p <= 0:
            raise InvalidInputError("top_p must be over 0 and at most 1", param="top_p")
        seed = item.get("seed")
        if seed is not None and not _integer(seed):
            raise InvalidInputError("seed must be an integer", param="seed")
        return Generation(ids, int(limit), temperature, top_p, seed, _stops(item.get("stop")))

    def _template(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _text(self, text: str) -> list[int]:
        return list(self.content.encode(text, add_special_tokens=False).ids)

    # -- running ----------------------------------------------------------------------------

    def length(self, prepared: Generation) -> int:
        """The prompt's tokens."""
        return len(prepared.ids)

    def collate(self, prepared: Sequence[Generation]) -> Feeds:
        """The prefill of one request (generation runs one request at a time)."""
        return self._feeds(prepared[0].ids, self._empty(), 0)

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Not used: `run_items` generates."""
        raise RunError("a chat model generates token by token; it has no one-run output")

    def run_items(
        self, runner: Runner, prepared: Sequence[Generation], params: PredictParams
    ) -> list[dict[str, Any]]:
        """Generate each request to its end: ``{text, finish_reason, prompt_tokens,
        completion_tokens}``."""
        results = []
        for generation in prepared:
            text, last = "", Delta("", 0)
            for last in self.stream(runner, generation):
                text += last.text
            results.append(
                {
                    "text": text,
                    "finish_reason": last.finish_reason,
                    "prompt_tokens": len(generation.ids),
                    "completion_tokens": last.completion_tokens,
                }
            )
        return results

    def stream(self, runner: Runner, request: Generation) -> Iterator[Delta]:
        """Text deltas as tokens are generated; the last delta carries the finish reason.

        Text is held back while it could still be the start of a stop string, or ends in an
        incomplete UTF-8 character.
        """
        deadline = time.monotonic() + self.time_budget_s
        rng = np.random.default_rng(request.seed)
        logits, past = self._step(runner, request.ids, self._empty(), 0)
        position = len(request.ids)
        tokens: list[int] = []
        sent, finish = "", "length"
        while len(tokens) < request.max_tokens:
            token = _sample(logits, request.temperature, request.top_p, rng)
            if token in self.eos:
                finish = "stop"
                break
            tokens.append(token)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            cut = _first_stop(text, request.stop, len(sent))
            if cut is not None:
                yield Delta(text[len(sent) : cut], len(tokens), "stop")
                return
            ready = _safe_prefix(text, request.stop)
            if len(ready) > len(sent):
                yield Delta(ready[len(sent) :], len(tokens))
                sent = ready
            if len(tokens) == request.max_tokens or time.monotonic() > deadline:
                break
            logits, past = self._step(runner, [token], past, position)
            position += 1
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        yield Delta(text[len(sent) :], len(tokens), finish)

    def _step(
        self, runner: Runner, ids: list[int], past: list[npt.NDArray[np.float32]], position: int
    ) -> tuple[npt.NDArray[np.float32], list[npt.NDArray[np.float32]]]:
        outputs = runner.run(self._feeds(ids, past, position))
        logits = np.asarray(outputs["logits"][0, -1], dtype=np.float32)
        if not np.isfinite(logits).all():
            raise RunError(f"{self.name} produced non-finite logits", param="messages")
        present = []
        for layer in range(self.layers):
            present += [outputs[f"present.{layer}.key"], outputs[f"present.{layer}.value"]]
        return logits, present

    def _feeds(self, ids: list[int], past: list[npt.NDArray[np.float32]], position: int) -> Feeds:
        count = len(ids)
        feeds: Feeds = {
            "input_ids": np.asarray([ids], dtype=np.int64),
            "attention_mask": np.ones((1, position + count), dtype=np.int64),
            "position_ids": np.arange(position, position + count, dtype=np.int64)[None, :],
        }
        for layer in range(self.layers):
            feeds[f"past_key_values.{layer}.key"] = past[2 * layer]
            feeds[f"past_key_values.{layer}.value"] = past[2 * layer + 1]
        return feeds

    def _empty(self) -> list[npt.NDArray[np.float32]]:
        empty = np.zeros((1, self.kv_heads, 0, self.head_dim), dtype=np.float32)
        return [empty] * (2 * self.layers)


def _content(content: Any, where: str) -> str:
    """A message's text: a string, or text parts (any other part is refused by name)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = []
        for index, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
                continue
            raise InvalidInputError(
                f"{where}.content[{index}]: only text parts are supported; this model reads "
                f"text, not {kind or 'that part'!s}",
                param=f"{where}.content",
            )
        return "".join(texts)
    raise InvalidInputError(
        f"{where}.content must be a string (or an array of text parts)",
        param=f"{where}.content",
    )


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(item: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = item.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInputError(f"{key} must be a number from {low:g} to {high:g}", param=key)
    return float(value)


def _stops(stop: Any) -> tuple[str, ...]:
    stops = [stop] if isinstance(stop, str) else stop
    if stops is None:
        return ()
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOPS
        or not all(isinstance(s, str) and s for s in stops)
    ):
        raise InvalidInputError(
            f"stop must be a non-empty string or up to {MAX_STOPS} of them", param="stop"
        )
    return tuple(stops)


def _sample(
    logits: npt.NDArray[np.float32], temperature: float, top_p: float, rng: np.random.Generator
) -> int:
    """Greedy at temperature 0; otherwise softmax(logits / temperature), cut to the smallest
    set of tokens whose probability reaches ``top_p`` (nucleus sampling)."""
    if temperature == 0:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / temperature
    probabilities = np.exp(scaled - scaled.max())
    probabilities /= probabilities.sum()
    order = np.argsort(-probabilities, kind="stable")
    if top_p < 1:
        kept = int(np.searchsorted(np.cumsum(probabilities[order]), top_p)) + 1
        order = order[:kept]
    chosen = probabilities[order] / probabilities[order].sum()
    return int(order[rng.choice(len(order), p=chosen)])


def _first_stop(text: str, stops: tuple[str, ...], sent: int) -> int | None:
    """Where the first stop string starts in ``text`` (searching from what may be new)."""
    found = [at for stop in stops if (at := text.find(stop, max(0, sent - len(stop) + 1))) >= 0]
    return min(found) if found else None


def _safe_prefix(text: str, stops: tuple[str, ...]) -> str:
    """``text`` without an incomplete character at its end nor a tail that could still
    become a stop string."""
    text = text.rstrip("\ufffd")
    hold = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                hold = max(hold, size)
                break
    return text[: len(text) - hold]
