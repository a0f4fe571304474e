"""Speech recognition (Whisper): an audio file -> text, with timed segments.

Two graphs (``modelzoo.whisper``): the encoder (the model's main graph, run by `Model`'s
runner) reads one 30 s window of log-mel frames and answers every decoder layer's
cross-attention keys and values; the decoder (the ``decoder`` artifact, with its
``decoder_blocks`` weights, opened here) takes new tokens with its self-attention cache.

Long audio is read as Whisper's ``transcribe`` does: a window at ``seek``, decoded with
timestamps, gives the complete segments in it, and the next window starts at the last
closing timestamp (or at the window's end). A window that is likely silence
(``<|nospeech|>`` over ``no_speech_threshold`` and an average log-probability under
``logprob_threshold``) is skipped. The optional prompt (Whisper's previous text) conditions
the first window only. Temperature 0 is greedy; above 0 tokens are sampled with a
generator seeded by ``seed`` (0 by default), so a request is repeatable. A window whose text
is too repetitive (``compression_ratio_threshold``) or too unlikely (``logprob_threshold``)
is decoded again, ``temperature_increment_on_fallback`` hotter, up to 1 (Whisper's
fallback, one sample a temperature); its segments carry the temperature that was kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from aiaas_runtime.errors import InvalidInputError, RunError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.session import open_session
from aiaas_runtime.tasks import audio, transcript
from aiaas_runtime.tasks.base import (
    Feeds,
    Outputs,
    PredictParams,
    item_param,
    refuse_task_options,
)
from aiaas_runtime.tasks.transcript import Piece, TokenIds, TokenRules, Window, WindowDecoder

if TYPE_CHECKING:
    from aiaas_runtime.model import Runner  # model imports the tasks

Floats = npt.NDArray[np.float32]
KEYS = frozenset({"audio", "temperature", "language", "prompt", "timestamps", "seed"})
LANGUAGES = ("en", "english")


@dataclass(frozen=True, slots=True, eq=False)
class Audio:
    """One validated request: the samples (float32 mono 16 kHz) and how to decode them."""

    samples: Floats
    seconds: float
    temperature: float
    prompt: tuple[int, ...]
    timestamps: bool
    seed: int


class SpeechRecognitionProcessor:
    """Decodes audio, runs the encoder per window and the decoder token by token."""

    DECODER = ("decoder", "decoder_blocks")  # the decoder's graph and its weights

    def __init__(self, manifest: ModelManifest) -> None:
        pre = manifest.preprocessing
        self.name = manifest.name
        self.sample_rate = int(pre["sample_rate"])
        self.n_frames = int(pre["n_frames"])
        self.n_samples = int(pre["chunk_seconds"]) * self.sample_rate
        self.max_seconds = float(pre["max_seconds"])
        self.ids = TokenIds(**{key: int(value) for key, value in pre["tokens"].items()})
        self.rules = TokenRules(self.ids, pre["suppress_tokens"], pre["begin_suppress_tokens"],
                                int(pre["max_initial_timestamp_index"]))  # fmt: skip
        self.precision, self.stride = float(pre["time_precision"]), int(pre["input_stride"])
        self.max_positions = int(pre["max_target_positions"])
        self.no_speech_threshold = float(pre["no_speech_threshold"])
        self.logprob_threshold = float(pre["logprob_threshold"])
        self.compression_threshold = float(pre.get("compression_ratio_threshold", 2.4))
        self.fallback_step = float(pre.get("temperature_increment_on_fallback", 0.2))
        self.language = str(pre.get("language", "english"))
        self.filters = np.load(manifest.artifact_path("mel_filters"), allow_pickle=False)
        path = manifest.artifact_path("tokenizer")
        self.tokenizer = Tokenizer.from_file(str(path))
        self.content = Tokenizer.from_file(str(path))  # callers' prompts: never special tokens
        self.content.encode_special_tokens = True
        for tokenizer in (self.tokenizer, self.content):
            tokenizer.no_truncation()
            tokenizer.no_padding()
        self.manifest = manifest
        self.max_new_tokens = int(pre["max_new_tokens"])
        self._decoder: WindowDecoder | None = None

    @property
    def decoder(self) -> WindowDecoder:
        """The decoder, opened on first use (on the GPU where the main graph runs on one):
        a processor that only validates, where the graphs run elsewhere, never opens it."""
        if self._decoder is None:
            path, blocks = (self.manifest.artifact_path(role) for role in self.DECODER)
            session = open_session(path, blocks=blocks)
            self._decoder = WindowDecoder(
                session, self.rules, self.max_new_tokens, self.max_positions
            )
        return self._decoder

    # -- validation -------------------------------------------------------------------------

    def check_params(self, params: PredictParams) -> None:
        """Speech models take no task options (theirs travel with each request)."""
        refuse_task_options(params, f"model {self.name!r} transcribes audio")

    def check_request(self, items: Sequence[Any]) -> None:
        """Nothing beyond each item's own checks."""

    def prepare(self, item: Any, index: int) -> Audio:
        """An audio file (bytes or base64) or ``{"audio", "temperature", "language",
        "prompt", "timestamps", "seed"}``, checked and decoded."""
        if isinstance(item, bytes | bytearray | str):
            item = {"audio": item}
        if not isinstance(item, dict):
            where = item_param(index)
            raise InvalidInputError(f"{where} must be an audio file or an object with audio",
                                    param="file")  # fmt: skip
        unknown = sorted(set(item) - KEYS)
        if unknown:
            raise InvalidInputError(
                f"unknown option {unknown[0]!r}: {self.name} takes audio, temperature, "
                "language, prompt, timestamps and seed",
                param=unknown[0],
            )
        if item.get("audio") is None:
            raise InvalidInputError("an audio file is required", param="file")
        options = self._options(item)
        samples = audio.decode_audio(audio.audio_bytes(item["audio"]), self.max_seconds)
        return Audio(samples, len(samples) / self.sample_rate, *options)

    def _options(self, item: dict[str, Any]) -> tuple[float, tuple[int, ...], bool, int]:
        language = item.get("language")
        if language not in (None, "") and str(language).lower() not in LANGUAGES:
            raise InvalidInputError(
                f"language {language!r} is not supported: {self.name} transcribes English "
                "only (language must be 'en')",
                param="language",
            )
        temperature = item.get("temperature", 0)
        if temperature is None:
            temperature = 0
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, int | float)
            or not (0 <= temperature <= 1)
        ):
            raise InvalidInputError("temperature must be a number from 0 to 1",
                                    param="temperature")  # fmt: skip
        timestamps = item.get("timestamps", True)
        if not isinstance(timestamps, bool):
            raise InvalidInputError("timestamps must be true or false", param="timestamps")
        seed = item.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidInputError("seed must be a non-negative integer", param="seed")
        return float(temperature), self._prompt(item.get("prompt")), timestamps, seed

    def _prompt(self, prompt: Any) -> tuple[int, ...]:
        if prompt is None or prompt == "":
            return ()
        if not isinstance(prompt, str):
            raise InvalidInputError("prompt must be a string", param="prompt")
        ids = self.content.encode(" " + prompt.strip(), add_special_tokens=False).ids
        return tuple(ids[-(self.max_positions // 2 - 1) :])  # Whisper keeps the last 223

    # -- running ----------------------------------------------------------------------------

    def length(self, prepared: Audio) -> int:
        """Audio seconds, rounded up (what a request is metered by)."""
        return max(1, math.ceil(prepared.seconds))

    def collate(self, prepared: Sequence[Audio]) -> Feeds:
        """The first window of one request (transcription runs its own loop)."""
        mel = self.features(prepared[0].samples)
        return {"input_features": mel[None, :, : self.n_frames]}

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Not used: `run_items` transcribes."""
        raise RunError("a speech model decodes window by window; it has no one-run output")

    def run_items(
        self, runner: Runner, prepared: Sequence[Audio], params: PredictParams
    ) -> list[dict[str, Any]]:
        """Transcribe each request: ``{text, language, duration, segments}``."""
        return [self.transcribe(runner, item) for item in prepared]

    def features(self, samples: Floats) -> Floats:
        """Log-mel frames of the samples and 30 s of silence after them."""
        return audio.log_mel(samples, self.filters, self.n_samples)

    def transcribe(self, runner: Runner, request: Audio) -> dict[str, Any]:
        """The whole audio, window by window (see the module's docstring)."""
        mel = self.features(request.samples)
        content = len(request.samples) // audio.HOP
        rng = np.random.default_rng(request.seed)
        segments: list[dict[str, Any]] = []
        seek, prompt = 0, request.prompt
        while seek < content:
            size = min(self.n_frames, content - seek)
            window = self.decode_window(
                runner, mel[:, seek : seek + self.n_frames], prompt=prompt,
                temperature=request.temperature, timestamps=request.timestamps, rng=rng,
            )  # fmt: skip
            prompt = ()
            if self._silent(window):
                seek += size
                continue
            offset = seek * audio.HOP / self.sample_rate
            pieces, advance = transcript.split_window(
                window.tokens, self.ids, offset=offset, size=size, precision=self.precision,
                stride=self.stride, hop_seconds=audio.HOP / self.sample_rate,
            )  # fmt: skip
            segments += self._segments(pieces, window, seek, len(segments))
            seek += advance
        text = "".join(segment["text"] for segment in segments).strip()
        return {"text": text, "language": self.language, "duration": request.seconds,
                "segments": segments}  # fmt: skip

    def _silent(self, window: Window) -> bool:
        return (
            window.no_speech_prob > self.no_speech_threshold
            and window.avg_logprob <= self.logprob_threshold
        )

    def _segments(
        self, pieces: list[Piece], window: Window, seek: int, first: int
    ) -> list[dict[str, Any]]:
        ratio = transcript.compression_ratio(self.decode(window.tokens))
        segments: list[dict[str, Any]] = []
        for piece in pieces:
            text = self.decode(piece.tokens)
            if not text.strip() or piece.end <= piece.start:
                continue
            segments.append({
                "id": first + len(segments), "seek": seek, "start": round(piece.start, 3),
                "end": round(piece.end, 3), "text": text, "tokens": piece.tokens,
                "temperature": window.temperature, "avg_logprob": window.avg_logprob,
                "compression_ratio": ratio, "no_speech_prob": window.no_speech_prob,
            })  # fmt: skip
        return segments

    def decode(self, tokens: Sequence[int]) -> str:
        """The text of ``tokens`` (timestamps and other special tokens left out)."""
        return str(self.tokenizer.decode([t for t in tokens if t < self.ids.eot]))

    def decode_window(
        self, runner: Runner, features: Floats, *, prompt: Sequence[int], temperature: float,
        timestamps: bool, rng: np.random.Generator,
    ) -> Window:  # fmt: skip
        """Encode one window (``[n_mels, n_frames]``) and decode its tokens, again at higher
        temperatures while the text is too repetitive or too unlikely (Whisper's fallback;
        never for a window that is likely silence)."""
        cross = self.encode(runner, features)
        while True:
            window = self.decoder.decode(cross, prompt, temperature, timestamps, rng)
            if temperature >= 1 or not self._needs_fallback(window):
                return window
            temperature = round(min(1.0, temperature + self.fallback_step), 6)

    def encode(self, runner: Runner, features: Floats) -> dict[str, Floats]:
        """Every decoder layer's cross-attention keys and values for one window."""
        outputs = runner.run({"input_features": np.ascontiguousarray(features[None])})
        return {name: value for name, value in outputs.items() if name.startswith("cross_")}

    def _needs_fallback(self, window: Window) -> bool:
        if window.no_speech_prob > self.no_speech_threshold:
            return False
        ratio = transcript.compression_ratio(self.decode(window.tokens))
        return ratio > self.compression_threshold or window.avg_logprob < self.logprob_threshold
