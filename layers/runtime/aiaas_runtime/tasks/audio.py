"""Audio in: an encoded file -> float32 mono samples at 16 kHz -> Whisper's log-mel frames.

Decoding and resampling are miniaudio's (one small C library: WAV, FLAC, MP3 and Ogg
Vorbis, no ffmpeg), imported only when audio arrives. The log-mel spectrogram is Whisper's
(and transformers' ``WhisperFeatureExtractor``'s): a 400-sample periodic Hann window every
160 samples, centred with reflection, power spectrum through the model's mel filter bank
(``[n_mels, 201]``, Slaney scale, shipped beside the model), ``log10`` floored at ``1e-10``,
clamped to 8 below its maximum, then ``(x + 4) / 4``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import AudioTooLongError, InvalidInputError

Floats = npt.NDArray[np.float32]
SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
FRAMES_PER_BLOCK = 4_000  # STFT frames computed at once (about 13 MB of float64)
NOT_AUDIO = "the file is not audio this model can read: WAV, FLAC, MP3 or Ogg Vorbis"


def audio_bytes(value: Any) -> bytes:
    """The encoded file: bytes as sent, or a base64 string of them.

    Raises:
        InvalidInputError: Neither bytes nor base64 text (``param="file"``).
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError("audio must be bytes or base64 text", param="file") from exc
    raise InvalidInputError("audio must be bytes or base64 text", param="file")


def decode_audio(data: bytes, max_seconds: float) -> Floats:
    """Decode a WAV, FLAC, MP3 or Ogg Vorbis file to float32 mono samples at 16 kHz.

    The file is decoded in 10 s blocks and given up on past ``max_seconds``: a compressed
    file of a few kilobytes can hold hours of silence (a decompression bomb), so memory stays
    bounded by the limit, whatever the file claims.

    Raises:
        InvalidInputError: The file is empty, not decodable, or holds no samples
            (``param="file"``).
        AudioTooLongError: It holds more than ``max_seconds`` of audio.
    """
    if not data:
        raise InvalidInputError("the audio file is empty", param="file")
    import miniaudio  # type: ignore[import-untyped]  # noqa: PLC0415 - speech models only

    limit = int(max_seconds * SAMPLE_RATE)
    blocks, total = [], 0
    try:
        for block in miniaudio.stream_memory(
            data, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=1,
            sample_rate=SAMPLE_RATE, frames_to_read=10 * SAMPLE_RATE,
        ):  # fmt: skip
            blocks.append(np.frombuffer(block, dtype=np.float32))
            total += len(blocks[-1])
            if total > limit:
                raise AudioTooLongError(
                    f"the audio is longer than {max_seconds:g} s, the most one request transcribes",
                    param="file",
                )
    except miniaudio.MiniaudioError as exc:
        raise InvalidInputError(NOT_AUDIO, param="file") from exc
    samples = np.concatenate(blocks) if blocks else np.empty(0, dtype=np.float32)
    if samples.size == 0:
        raise InvalidInputError("the audio file holds no samples", param="file")
    if not np.isfinite(samples).all():
        raise InvalidInputError(NOT_AUDIO, param="file")
    return samples


def log_mel(samples: Floats, filters: Floats, padding: int) -> Floats:
    """Whisper's log-mel spectrogram ``[n_mels, (len(samples) + padding) // HOP]`` of the
    samples followed by ``padding`` zeros (the clamp uses the maximum over all of it)."""
    audio = np.concatenate([samples.astype(np.float64), np.zeros(padding)])
    padded = np.pad(audio, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:-1]
    window = np.hanning(N_FFT + 1)[:-1]  # periodic
    weights = filters.astype(np.float64)
    mel = np.empty((len(frames), len(weights)), dtype=np.float64)
    for start in range(0, len(frames), FRAMES_PER_BLOCK):
        block = frames[start : start + FRAMES_PER_BLOCK] * window
        power = np.abs(np.fft.rfft(block, axis=-1)) ** 2
        mel[start : start + len(block)] = power @ weights.T
    logs = np.log10(np.maximum(mel, 1e-10))
    logs = np.maximum(logs, logs.max() - 8.0)
    return np.ascontiguousarray(((logs + 4.0) / 4.0).T, dtype=np.float32)
