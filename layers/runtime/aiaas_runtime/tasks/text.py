"""Text tasks: strings -> token tensors padded to the longest -> unit vectors or classes."""

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
from aiaas_runtime.tasks.classify import ClassScores


@dataclass(frozen=True, slots=True)
class Encoded:
    """One tokenized text."""

    ids: list[int]
    type_ids: list[int]


class TextEncoder:
    """Tokenizes with the model's tokenizer.json (truncating at its max length) and pads each
    batch to its longest text; a model without a tokenizer (a registered graph uploaded
    without ``tokenizer.json``) takes token ids only. Shared by every text task."""

    def __init__(self, manifest: ModelManifest, *, allow_empty: bool = True) -> None:
        pre = manifest.preprocessing
        ids = next((t for t in manifest.inputs if t.name == "input_ids"), None)
        fixed = ids.shape[1] if ids is not None and len(ids.shape) == 2 else -1
        self.max_length = int(pre.get("max_length", fixed if fixed > 0 else 256))
        self.max_chars = int(pre.get("max_chars", 20_000))
        self.pad_id = int(pre.get("pad_token_id", 0))
        self.allow_empty = allow_empty
        self.input_types = {t.name: _int_dtype(t.datatype) for t in manifest.inputs}
        self.tokenizer = (
            _load_tokenizer(manifest, self.max_length)
            if "tokenizer" in manifest.artifacts
            else None
        )
        self.name = manifest.name

    def prepare(self, item: Any, index: int) -> Encoded:
        """Tokenize one text (truncated at the model's max length), or take token ids as given."""
        if isinstance(item, list) and item and all(type(t) is int for t in item):
            return self._token_ids(item, index)
        if self.tokenizer is None:
            raise InvalidInputError(
                f"model {self.name!r} has no tokenizer: {item_param(index)} must be a "
                "non-empty array of token ids of its vocabulary",
                param=item_param(index),
            )
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
        if not self.allow_empty and not item.strip():
            raise InvalidInputError(
                f"{item_param(index)} is empty: there is no text to classify",
                param=item_param(index),
            )
        encoding = self.tokenizer.encode(item)
        return Encoded(ids=encoding.ids, type_ids=encoding.type_ids)

    def _token_ids(self, ids: list[int], index: int) -> Encoded:
        """Pre-tokenized input (OpenAI's token arrays): ids of this model's vocabulary."""
        vocabulary = self.tokenizer.get_vocab_size() if self.tokenizer else 2**31
        if any(not 0 <= t < vocabulary for t in ids):
            raise InvalidInputError(
                f"{item_param(index)}: token ids must be between 0 and {vocabulary - 1}",
                param=item_param(index),
            )
        ids = ids[: self.max_length]
        return Encoded(ids=ids, type_ids=[0] * len(ids))

    def check_request(self, items: Sequence[Any]) -> None:
        """Nothing to check across items."""

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
        return {
            name: value.astype(self.input_types[name], copy=False)
            for name, value in feeds.items()
            if name in self.input_types
        }


class EmbeddingProcessor(TextEncoder):
    """Text -> unit-length vector. The exported graph already mean-pools (as
    sentence-transformers does); post-processing L2-normalizes and applies an optional
    ``dimensions`` truncation."""

    def __init__(self, manifest: ModelManifest) -> None:
        super().__init__(manifest)
        post = manifest.postprocessing
        self.output = str(post.get("output") or _embedding_output(manifest))
        spec = next(o for o in manifest.outputs if o.name == self.output)
        self.dimensions = int(post.get("dimensions", spec.shape[-1]))

    def check_params(self, params: PredictParams) -> None:
        """Reject a ``dimensions`` the model cannot give."""
        limit = self.dimensions if self.dimensions > 0 else 1 << 16
        if params.dimensions is not None and not 1 <= params.dimensions <= limit:
            raise InvalidInputError(
                f"dimensions must be between 1 and {self.dimensions}", param="dimensions"
            )

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """One unit vector per text (a float32 array), truncated to ``params.dimensions``."""
        vectors: npt.NDArray[np.float32] = np.asarray(outputs[self.output], dtype=np.float32)
        if params.dimensions is not None:
            vectors = vectors[:, : params.dimensions]
        vectors = l2_normalize(vectors)
        return [{"embedding": row} for row in vectors]


class TextClassificationProcessor(TextEncoder):
    """Text -> label, score, probabilities and top-k (sentiment). Empty text is refused."""

    def __init__(self, manifest: ModelManifest) -> None:
        super().__init__(manifest, allow_empty=False)
        self.scores = ClassScores(manifest)

    def check_params(self, params: PredictParams) -> None:
        """Delegate ``top_k`` checks to the class scores."""
        self.scores.check_params(params)

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """One ``{label, score, probabilities, top_k}`` per text."""
        return self.scores.results(outputs, params)


def _embedding_output(manifest: ModelManifest) -> str:
    """``sentence_embedding`` where the graph has it, else its first 2-D float output."""
    floats = [
        o.name
        for o in manifest.outputs
        if o.datatype in ("FP32", "FP16", "FP64") and len(o.shape) == 2
    ]
    if "sentence_embedding" in floats:
        return "sentence_embedding"
    if not floats:
        raise ModelLoadError(
            f"model {manifest.name!r} has no [batch, dim] float output to use as embeddings"
        )
    return floats[0]


def _int_dtype(datatype: str) -> type[np.signedinteger[Any]]:
    return np.int32 if datatype == "INT32" else np.int64


def _load_tokenizer(manifest: ModelManifest, max_length: int) -> Tokenizer:
    path = manifest.artifact_path("tokenizer")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception subclasses
        raise ModelLoadError(f"cannot load tokenizer {path.name}: {exc}") from exc
    tokenizer.no_padding()  # padding happens per batch, to the longest text
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer
