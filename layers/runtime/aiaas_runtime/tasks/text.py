"""Text embedding: strings -> token tensors padded to the longest -> unit-length vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from aiaas_runtime.errors import InvalidInputError, ModelLoadError, TextTooLongError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import Feeds, Outputs, PredictParams, item_param, l2_normalize


@dataclass(frozen=True, slots=True)
class Encoded:
    """One tokenized text."""

    ids: list[int]
    type_ids: list[int]


class EmbeddingProcessor:
    """Tokenizes with the model's tokenizer.json and pools nothing: the graph pools.

    The exported graph already mean-pools and L2-normalizes (as sentence-transformers does),
    so post-processing only applies an optional ``dimensions`` truncation.
    """

    def __init__(self, manifest: ModelManifest) -> None:
        pre, post = manifest.preprocessing, manifest.postprocessing
        self.max_length = int(pre.get("max_length", 256))
        self.max_chars = int(pre.get("max_chars", 20_000))
        self.pad_id = int(pre.get("pad_token_id", 0))
        self.output = str(post.get("output", manifest.outputs[0].name))
        self.dimensions = int(post.get("dimensions", manifest.outputs[0].shape[-1]))
        self.input_names = {t.name for t in manifest.inputs}
        self.tokenizer = _load_tokenizer(manifest, self.max_length)

    def prepare(self, item: Any, index: int) -> Encoded:
        """Tokenize one text (truncated at the model's max length), or take token ids as given."""
        if isinstance(item, list) and item and all(type(t) is int for t in item):
            return self._token_ids(item, index)
        if not isinstance(item, str):
            raise InvalidInputError(
                f"{item_param(index)} must be a string or a list of token ids, "
                f"got {type(item).__name__}",
                param=item_param(index),
            )
        if len(item) > self.max_chars:
            raise TextTooLongError(
                f"{item_param(index)} has {len(item)} characters; the limit is {self.max_chars}",
                param=item_param(index),
            )
        encoding = self.tokenizer.encode(item)
        return Encoded(ids=encoding.ids, type_ids=encoding.type_ids)

    def _token_ids(self, ids: list[int], index: int) -> Encoded:
        """Pre-tokenized input (OpenAI's token arrays): ids of this model's vocabulary."""
        vocabulary = self.tokenizer.get_vocab_size()
        if any(not 0 <= t < vocabulary for t in ids):
            raise InvalidInputError(
                f"{item_param(index)}: token ids must be between 0 and {vocabulary - 1}",
                param=item_param(index),
            )
        ids = ids[: self.max_length]
        return Encoded(ids=ids, type_ids=[0] * len(ids))

    def length(self, prepared: Encoded) -> int:
        """Token count: batches group texts of similar length to pad less."""
        return len(prepared.ids)

    def collate(self, prepared: Sequence[Encoded]) -> Feeds:
        """Pad to the longest text of the batch (not to a fixed length: 8x cheaper)."""
        width = max(len(p.ids) for p in prepared)
        ids = np.full((len(prepared), width), self.pad_id, dtype=np.int64)
        types = np.zeros((len(prepared), width), dtype=np.int64)
        mask = np.zeros((len(prepared), width), dtype=np.int64)
        for row, p in enumerate(prepared):
            ids[row, : len(p.ids)] = p.ids
            types[row, : len(p.type_ids)] = p.type_ids
            mask[row, : len(p.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: value for name, value in feeds.items() if name in self.input_names}

    def check_params(self, params: PredictParams) -> None:
        """Reject a ``dimensions`` the model cannot give."""
        if params.dimensions is not None and not 1 <= params.dimensions <= self.dimensions:
            raise InvalidInputError(
                f"dimensions must be between 1 and {self.dimensions}", param="dimensions"
            )

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """One unit vector per text (a float32 array), truncated to ``params.dimensions``."""
        vectors: npt.NDArray[np.float32] = outputs[self.output].astype(np.float32, copy=False)
        if params.dimensions is not None:
            vectors = vectors[:, : params.dimensions]
        vectors = l2_normalize(vectors)
        return [{"embedding": row} for row in vectors]


def _load_tokenizer(manifest: ModelManifest, max_length: int) -> Tokenizer:
    path = manifest.artifact_path("tokenizer")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception subclasses
        raise ModelLoadError(f"cannot load tokenizer {path.name}: {exc}") from exc
    tokenizer.no_padding()  # padding happens per batch, to the longest text
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer
