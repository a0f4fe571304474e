"""Whisper's decoding of one 30 s window, in numpy around the decoder graph: which tokens
may come next (suppressed tokens, timestamp rules), how one is chosen, the token-by-token
loop with the self-attention cache (`WindowDecoder`), and how a window's tokens become timed
segments and where the next window starts (OpenAI's ``transcribe``).

Token ids (``TokenIds``) come from the manifest: ``eot``, ``sot``, ``prev``
(``<|startofprev|>``), ``no_speech``, ``no_timestamps`` and ``timestamp_begin``
(``<|0.00|>``; timestamp ``t`` is ``timestamp_begin + t / 0.02 s``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import RunError

Floats = npt.NDArray[np.float32]
NEG = -np.inf


@dataclass(frozen=True, slots=True)
class TokenIds:
    """The special tokens decoding needs."""

    eot: int
    sot: int
    prev: int
    no_speech: int
    no_timestamps: int
    timestamp_begin: int


@dataclass(frozen=True, slots=True)
class Window:
    """One decoded window: its tokens (no end of text), their statistics, the temperature."""

    tokens: list[int]
    sum_logprob: float
    no_speech_prob: float
    temperature: float

    @property
    def avg_logprob(self) -> float:
        """Per token, the end of text counted (as Whisper does)."""
        return self.sum_logprob / (len(self.tokens) + 1)


@dataclass(frozen=True, slots=True)
class Piece:
    """One timed stretch of a window: seconds from the start of the audio, its tokens."""

    start: float
    end: float
    tokens: list[int]


def log_softmax(logits: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """``log(softmax(logits))`` in float64 (``-inf`` stays ``-inf``)."""
    values = logits.astype(np.float64)
    top = values.max()
    result: npt.NDArray[np.float64] = values - top - np.log(np.exp(values - top).sum())
    return result


class TokenRules:
    """The logit filters of Whisper's decoder, in OpenAI's order: the blank and end of text
    at the first step, the suppressed tokens, then the timestamp rules (timestamps come in
    pairs and never go back, the first one at most ``max_initial`` steps in, and a timestamp
    is forced when timestamps together are likelier than any text token)."""

    def __init__(
        self, ids: TokenIds, suppress: Sequence[int], begin_suppress: Sequence[int],
        max_initial: int,
    ) -> None:  # fmt: skip
        self.ids = ids
        self.suppress = np.asarray(sorted(suppress), dtype=np.int64)
        self.begin_suppress = np.asarray(sorted(begin_suppress), dtype=np.int64)
        self.max_initial = max_initial

    def apply(self, logits: Floats, tokens: Sequence[int], timestamps: bool) -> Floats:
        """The logits with every token not allowed after ``tokens`` at ``-inf``."""
        scores = logits.astype(np.float32, copy=True)
        if not tokens:
            scores[self.begin_suppress] = NEG
        scores[self.suppress] = NEG
        begin = self.ids.timestamp_begin
        scores[self.ids.no_timestamps] = NEG
        if not timestamps:
            scores[begin:] = NEG
            return scores
        self._pairs(scores, tokens)
        if not tokens:
            scores[:begin] = NEG
            scores[begin + self.max_initial + 1 :] = NEG
        logprobs = log_softmax(scores)
        stamps = logprobs[begin:]
        top = stamps.max()
        if np.isfinite(top) and top + np.log(np.exp(stamps - top).sum()) > logprobs[:begin].max():
            scores[:begin] = NEG
        return scores

    def _pairs(self, scores: Floats, tokens: Sequence[int]) -> None:
        begin = self.ids.timestamp_begin
        last = len(tokens) >= 1 and tokens[-1] >= begin
        penultimate = len(tokens) < 2 or tokens[-2] >= begin
        if last:
            if penultimate:  # a pair just closed: text (or the end) comes next
                scores[begin:] = NEG
            else:  # a segment's text ended: its closing timestamp, or the end
                scores[: self.ids.eot] = NEG
        stamps = [t for t in tokens if t >= begin]
        if stamps:
            lowest = stamps[-1] if last and not penultimate else stamps[-1] + 1
            scores[begin:lowest] = NEG


def choose(scores: Floats, temperature: float, rng: np.random.Generator) -> int:
    """The highest score at temperature 0; otherwise a draw from ``softmax(scores / T)``."""
    if temperature == 0:
        return int(np.argmax(scores))
    probabilities = np.exp(log_softmax(scores / temperature))
    return int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))


class WindowDecoder:
    """The decoder graph, run token by token on one window's cross-attention keys/values."""

    def __init__(
        self, session: Any, rules: TokenRules, max_new: int, max_positions: int
    ) -> None:  # fmt: skip
        self.session, self.rules, self.ids = session, rules, rules.ids
        self.max_new, self.max_positions = max_new, max_positions
        past = [i for i in session.get_inputs() if i.name.startswith("past_key.")]
        self.layers, self.heads, self.head_dim = len(past), past[0].shape[1], past[0].shape[3]

    def decode(
        self, cross: dict[str, Floats], prompt: Sequence[int], temperature: float,
        timestamps: bool, rng: np.random.Generator,
    ) -> Window:  # fmt: skip
        """Tokens after ``[<|startofprev|>, *prompt,] <|startoftranscript|>`` (and
        ``<|notimestamps|>`` without timestamps) until the end of text or the length limit;
        ``<|nospeech|>``'s probability is read at the start-of-transcript position."""
        initial = ([self.ids.prev, *prompt] if prompt else []) + [self.ids.sot]
        logits, past = self.step(initial, 0, cross, self.empty())
        no_speech = float(np.exp(log_softmax(logits)[self.ids.no_speech]))
        position = len(initial)
        if not timestamps:
            logits, past = self.step([self.ids.no_timestamps], position, cross, past)
            position += 1
        tokens: list[int] = []
        total, limit = 0.0, min(self.max_new, self.max_positions - position)
        while len(tokens) < limit:
            scores = self.rules.apply(logits, tokens, timestamps)
            token = choose(scores, temperature, rng)
            total += float(log_softmax(scores)[token])
            if token == self.ids.eot:
                break
            tokens.append(token)
            if len(tokens) < limit:
                logits, past = self.step([token], position, cross, past)
                position += 1
        return Window(tokens, total, no_speech, temperature)

    def step(
        self, ids: list[int], position: int, cross: dict[str, Floats], past: list[Floats]
    ) -> tuple[Floats, list[Floats]]:
        """The last position's logits and the grown cache after ``ids`` at ``position``."""
        feeds: dict[str, npt.NDArray[Any]] = {
            "input_ids": np.asarray([ids], dtype=np.int64),
            "position_ids": np.arange(position, position + len(ids), dtype=np.int64)[None, :],
            **cross,
        }
        for layer in range(self.layers):
            feeds[f"past_key.{layer}"] = past[2 * layer]
            feeds[f"past_value.{layer}"] = past[2 * layer + 1]
        try:
            logits, *present = self.session.run(None, feeds)
        except Exception as exc:  # onnxruntime's errors are untyped
            raise RunError(f"the speech decoder could not run: {str(exc)[:300]}") from exc
        return np.asarray(logits[0], dtype=np.float32), present

    def empty(self) -> list[Floats]:
        """The cache before the first step (``past`` 0)."""
        empty = np.zeros((1, self.heads, 0, self.head_dim), dtype=np.float32)
        return [empty] * (2 * self.layers)


def split_window(
    tokens: Sequence[int], ids: TokenIds, *, offset: float, size: int, precision: float,
    stride: int, hop_seconds: float,
) -> tuple[list[Piece], int]:  # fmt: skip
    """A window's tokens as timed pieces, and how many mel frames to move on.

    Complete ``<|t0|> text <|t1|>`` pieces are kept; text after the last closing timestamp is
    left for the next window, which starts there, unless the window ends with a lone
    timestamp (nothing more was said). Without a closed pair the window is one piece.
    """
    begin = ids.timestamp_begin
    is_stamp = [t >= begin for t in tokens]
    single_ending = is_stamp[-2:] == [False, True]
    cuts = [i + 1 for i in range(len(tokens) - 1) if is_stamp[i] and is_stamp[i + 1]]
    if cuts:
        cuts += [len(tokens)] if single_ending else []
        pieces, last = [], 0
        for cut in cuts:
            part = list(tokens[last:cut])
            pieces.append(Piece(offset + (part[0] - begin) * precision,
                                offset + (part[-1] - begin) * precision, part))  # fmt: skip
            last = cut
        advance = size if single_ending else (tokens[last - 1] - begin) * stride
        return pieces, max(1, advance)
    duration = size * hop_seconds
    stamps = [t for t in tokens if t >= begin]
    if stamps and stamps[-1] != begin:
        duration = (stamps[-1] - begin) * precision
    return [Piece(offset, offset + duration, list(tokens))], size


def compression_ratio(text: str) -> float:
    """How well the text compresses (zlib), as Whisper measures repetition."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0
