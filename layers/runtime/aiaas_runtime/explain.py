"""Model-agnostic explanations on onnxruntime: Shapley values, occlusion, token contributions.

Every method perturbs prepared inputs and runs them through the model's own task path
(`Model.predict_prepared`), all perturbations of a call together, in as few session runs as
``max_batch_size`` allows. The score explained is the target class's probability
(classifiers, text classifiers included), the value (regressors) or the cosine similarity
to ``compare_to`` (embeddings).

- **Tabular** (``shapley``): the value of a coalition S of features is the mean score over the
  background rows with the features in S taken from the input (interventional SHAP, as
  ``shap``'s explainers with a background compute it). Exact, by enumerating all 2^M
  coalitions, when ``2^M x background rows`` fits ``max_evaluations``; otherwise Kernel SHAP
  (Lundberg & Lee 2017): coalitions sampled by the Shapley kernel, in complementary pairs,
  a least-squares fit constrained so the attributions add up exactly, and the estimate's
  standard error from a bootstrap over the sampled coalitions. Additivity always holds:
  ``base_value + sum(attributions) == prediction``.
- **Images** (``occlusion``): a ``grid x grid`` cells of the prepared image are set to the
  normalisation mean one at a time; a cell's attribution is the score lost.
- **Texts** (``occlusion``): each token of the input is left out in turn; its attribution is
  the target class's log-odds lost (text classifiers: sentiment; probabilities saturate) or the
  cosine similarity to ``compare_to`` lost (embeddings), on the character span the token came
  from.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import InvalidInputError
from aiaas_runtime.model import Model
from aiaas_runtime.tasks import PredictParams

TABULAR = ("tabular-classification", "tabular-regression")
METHODS = {
    "tabular-classification": "shapley",
    "tabular-regression": "shapley",
    "image-classification": "occlusion",
    "embedding": "occlusion",
    "text-classification": "occlusion",
    "face-detection": "occlusion",
}
DEFAULT_EVALUATIONS = 10_000  # model rows per explained input
MAX_EVALUATIONS = 200_000
MAX_BACKGROUND = 100  # rows; a larger background is sampled down with the seed
BOOTSTRAP = 30


@dataclass(frozen=True, slots=True)
class ExplainParams:
    """What to explain and how much it may cost.

    Attributes:
        method: ``shapley`` (tabular) or ``occlusion`` (images, embeddings); None: the task's.
        target: The class to explain (a label); None: the predicted class.
        max_evaluations: Model rows one input's explanation may run.
        seed: Kernel SHAP's and the background sample's seed.
        background: Rows for tabular models (the model's stored background otherwise).
        compare_to: Embeddings: the text whose similarity is explained.
        grid: Images: cells per side of the occlusion grid.
        format: Images: ``png`` adds ``heatmap_png``, the grid over the image (base64 PNG).
    """

    method: str | None = None
    target: str | None = None
    max_evaluations: int = DEFAULT_EVALUATIONS
    seed: int = 0
    background: Sequence[Any] | None = None
    compare_to: str | None = None
    grid: int = 8
    format: str = "json"


class Explainer:
    """Explains one model's predictions."""

    def __init__(self, model: Model, background: Sequence[Any] | None = None) -> None:
        self.model = model
        self.task = model.manifest.task
        self.stored_background = background

    def check(self, params: ExplainParams) -> str:
        """The method to use; InvalidInputError for one that does not fit the task."""
        method = params.method or METHODS.get(self.task)
        if method is None or METHODS.get(self.task) != method:
            fits = METHODS.get(self.task)
            raise InvalidInputError(
                f"method {params.method!r} does not fit a {self.task} model"
                + (f"; use {fits!r}" if fits else "; this task has no explanation method"),
                param="method",
            )
        if not 1 <= params.max_evaluations <= MAX_EVALUATIONS:
            raise InvalidInputError(
                f"max_evaluations must be between 1 and {MAX_EVALUATIONS}",
                param="max_evaluations",
            )
        if self.task == "embedding" and not params.compare_to:
            raise InvalidInputError(
                "explaining an embedding needs parameters.compare_to: the text whose cosine "
                "similarity to each input is explained",
                param="compare_to",
            )
        return method

    def explain(
        self, items: Sequence[Any], params: ExplainParams
    ) -> tuple[list[dict[str, Any]], int]:
        """One explanation per input, in order, and the model rows evaluated."""
        self.check(params)
        self.model.check_count(len(items))
        prepared = [self.model.processor.prepare(item, i) for i, item in enumerate(items)]
        if self.task in TABULAR:
            background = self._background(params)
            results = [self._shapley(row, background, params) for row in prepared]
        elif self.task == "image-classification":
            results = [self._occlude_image(image, params) for image in prepared]
        elif self.task == "face-detection":
            results = [self._occlude_faces(image, params) for image in prepared]
        else:
            results = [
                self._tokens(item, row, params) for item, row in zip(items, prepared, strict=True)
            ]
        return [r for r, _ in results], sum(n for _, n in results)

    def global_importance(self, params: ExplainParams, rows: int = 20) -> dict[str, Any]:
        """Mean absolute Shapley values over the background: ``rows`` of it (seeded) are each
        explained against all of it; features sorted by importance."""
        self.check(params)
        if self.task not in TABULAR:
            raise InvalidInputError(
                f"global explanations are for tabular models; this is {self.task}",
                param="method",
            )
        background = self._background(params)
        picked = np.random.default_rng(params.seed).permutation(len(background))[:rows]
        totals: dict[str, float] = {}
        evaluations = 0
        for index in picked.tolist():
            explained, cost = self._shapley(background[index], background, params)
            evaluations += cost
            for a in explained["attributions"]:
                totals[a["feature"]] = totals.get(a["feature"], 0.0) + abs(a["attribution"])
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])
        return {
            "method": "mean_abs_shapley",
            "rows": len(picked),
            "features": [{"feature": f, "importance": v / len(picked)} for f, v in ranked],
            "evaluations": evaluations,
        }

    # --- scores ------------------------------------------------------------------------------

    def _target(self, row: Any, params: ExplainParams) -> tuple[str | None, dict[str, Any]]:
        """The class explained (None for regressors) and the input's own result."""
        result = self.model.predict_prepared([row], PredictParams())[0]
        if "value" in result:
            if params.target is not None:
                raise InvalidInputError(
                    "target is for classifiers; this is a regressor", param="target"
                )
            return None, result
        labels = list(result["probabilities"])
        target = params.target if params.target is not None else result["label"]
        if str(target) not in labels:
            raise InvalidInputError(
                f"target {target!r} is not a class of this model; its classes are {labels}",
                param="target",
            )
        return str(target), result

    def _scores(self, rows: Sequence[Any], target: str | None) -> npt.NDArray[np.float64]:
        """The explained score of each prepared row: straight from the graph's scores
        output, in ``max_batch_size`` runs (no per-row result objects)."""
        processor: Any = self.model.processor
        scores = getattr(processor, "scores", None)
        if scores is None:  # regressors, and any processor without class scores
            results = self.model.predict_prepared(rows, PredictParams())
            return np.asarray([r["value"] for r in results], dtype=np.float64)
        column = list(scores.labels).index(target) if target in scores.labels else None
        return self._probabilities(rows)[:, column if column is not None else int(target or 0)]

    def _probabilities(self, rows: Sequence[Any]) -> npt.NDArray[np.float64]:
        """Class probabilities [rows, classes] of prepared rows, ``max_batch_size`` a run."""
        processor: Any = self.model.processor
        scores = processor.scores
        size = self.model.manifest.max_batch_size
        parts = []
        for start in range(0, len(rows), size):
            outputs = self.model.run(processor.collate(rows[start : start + size]))
            probs = np.asarray(outputs[scores.output], dtype=np.float64)
            probs = probs.reshape(probs.shape[0], -1)
            if scores.from_logits:
                probs = np.exp(probs - probs.max(axis=1, keepdims=True))
                probs /= probs.sum(axis=1, keepdims=True)
            parts.append(probs)
        return np.concatenate(parts)

    # --- tabular -----------------------------------------------------------------------------

    def _background(self, params: ExplainParams) -> list[Any]:
        raw = params.background if params.background is not None else self.stored_background
        if not raw:
            names = self._feature_names()
            raise InvalidInputError(
                "this model has no stored background: send parameters.background, rows like "
                f"the inputs ({len(names)} features: {', '.join(names[:12])}); a trained "
                "model uses its training sample",
                param="background",
            )
        rows = [self._background_row(r, i) for i, r in enumerate(raw)]
        if len(rows) > MAX_BACKGROUND:
            picked = np.random.default_rng(params.seed).choice(
                len(rows), MAX_BACKGROUND, replace=False
            )
            rows = [rows[i] for i in sorted(picked.tolist())]
        return rows

    def _background_row(self, row: Any, index: int) -> Any:
        try:
            return self.model.processor.prepare(row, index)
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"background[{index}]: {exc.message.split(': ', 1)[-1]}", param="background"
            ) from exc

    def _feature_names(self) -> list[str]:
        processor: Any = self.model.processor
        if hasattr(processor, "columns"):
            return [c.name for c in processor.columns]
        return list(getattr(processor, "features", ()))

    def _shapley(
        self, row: list[Any], background: list[Any], params: ExplainParams
    ) -> tuple[dict[str, Any], int]:
        target, result = self._target(row, params)
        m = len(row)
        names = self._feature_names() or [f"x{i}" for i in range(m)]
        if len(background[0]) != m:
            raise InvalidInputError(
                f"background rows have {len(background[0])} features; the model takes {m}",
                param="background",
            )
        exact = (2**m) * len(background) <= params.max_evaluations
        if exact:
            masks = np.array(list(itertools.product((0, 1), repeat=m)), dtype=bool)
        else:
            pairs = params.max_evaluations // len(background) // 2
            if pairs * 2 < 2 * m + 2:
                raise InvalidInputError(
                    f"max_evaluations {params.max_evaluations} is too small for {m} features and "
                    f"{len(background)} background rows: at least "
                    f"{(2 * m + 2) * len(background)}",
                    param="max_evaluations",
                )
            masks = _kernel_masks(m, pairs, params.seed)
        values = self._coalition_values(row, background, masks, target)
        prediction = float(result["value"] if target is None else result["probabilities"][target])
        base = float(self._scores(background, target).mean())
        if exact:
            phi = _exact_shapley(masks, values, m)
            error = np.zeros(m)
        else:
            phi, error = _kernel_shap(masks, values, base, prediction, params.seed)
        attributions = [
            {"feature": names[i], "value": _cell(row[i]), "attribution": float(phi[i])}
            | ({} if exact else {"std_error": float(error[i])})
            for i in range(m)
        ]
        attributions.sort(key=lambda a: -abs(a["attribution"]))
        evaluations = len(masks) * len(background) + len(background) + 1
        return {
            "prediction": prediction,
            "base_value": base,
            "target": target,
            "method": "exact_shapley" if exact else "kernel_shap",
            "attributions": attributions,
            "evaluations": evaluations,
        }, evaluations

    def _coalition_values(
        self,
        row: list[Any],
        background: list[Any],
        masks: npt.NDArray[np.bool_],
        target: str | None,
    ) -> npt.NDArray[np.float64]:
        """v(S) for each mask: the mean score over background rows with S's features from
        ``row`` (one run of every mixed row, in model batches)."""
        mixed: Any
        if all(isinstance(v, float) for v in row):  # numbers only: mix as one array
            x, back = np.asarray(row, dtype=np.float32), np.asarray(background, dtype=np.float32)
            mixed = np.where(masks[:, None, :], x[None, None, :], back[None, :, :])
            mixed = mixed.reshape(-1, len(row))
        else:
            mixed = [
                [row[j] if mask[j] else back[j] for j in range(len(row))]
                for mask in masks
                for back in background
            ]
        scores = self._scores(mixed, target).reshape(len(masks), len(background))
        return scores.mean(axis=1)

    # --- images ------------------------------------------------------------------------------

    def _occlude_image(
        self, image: npt.NDArray[np.float32], params: ExplainParams
    ) -> tuple[dict[str, Any], int]:
        target, result = self._target(image, params)
        assert target is not None
        cells, variants = _occluded(image, params)
        score = float(result["probabilities"][target])
        occluded = self._scores(variants, target).reshape(cells, cells)
        return self._grid(
            image, params, score=score, occluded=occluded, target=target,
            evaluations=len(variants) + 1,
        )  # fmt: skip

    def _grid(
        self,
        image: npt.NDArray[np.float32],
        params: ExplainParams,
        *,
        score: float,
        occluded: npt.NDArray[np.float64],
        target: str,
        evaluations: int,
    ) -> tuple[dict[str, Any], int]:
        """An occlusion explanation: the score each cell carries (and its heatmap)."""
        _, height, width = image.shape
        cells = occluded.shape[0]
        extra = (
            {"heatmap_png": self._heatmap(image, score - occluded)}
            if params.format == "png"
            else {}
        )
        return extra | {
            "prediction": score,
            "target": target,
            "method": "occlusion",
            "grid": (score - occluded).tolist(),
            "cell_size": [int(height / cells), int(width / cells)],
            "evaluations": evaluations,
        }, evaluations

    def _occlude_faces(self, item: Any, params: ExplainParams) -> tuple[dict[str, Any], int]:
        """The face score (the best anchor's probability, the top face's score) lost when each
        cell of the model's letterboxed input is set to mid-grey."""
        processor: Any = self.model.processor
        image = item.tensor
        cells, occluded_images = _occluded(image, params)
        variants = [image, *occluded_images]
        size = self.model.manifest.max_batch_size
        best = []
        for start in range(0, len(variants), size):
            outputs = self.model.run({processor.input: np.stack(variants[start : start + size])})
            logits = np.asarray(outputs[processor.scores], dtype=np.float64)
            logits = np.clip(logits.reshape(logits.shape[0], -1), -80, 80).max(axis=1)
            best.extend((1 / (1 + np.exp(-logits))).tolist())
        occluded = np.asarray(best[1:]).reshape(cells, cells)
        return self._grid(
            image, params, score=best[0], occluded=occluded, target="face",
            evaluations=len(variants),
        )  # fmt: skip

    def _heatmap(self, image: npt.NDArray[np.float32], grid: npt.NDArray[np.float64]) -> str:
        """The image as the model saw it, the score each cell carries in red over it."""
        import base64  # noqa: PLC0415
        import io  # noqa: PLC0415

        from PIL import Image  # noqa: PLC0415 - the layer ships Pillow for image models

        processor: Any = self.model.processor
        pixels = (image * processor.std + processor.mean) * 255.0  # back to 0..255
        gray = np.clip(pixels.mean(axis=0), 0, 255)
        _, height, width = image.shape
        weight = np.clip(grid / max(float(np.abs(grid).max()), 1e-9), 0, 1)
        cells = np.kron(weight, np.ones((-(-height // grid.shape[0]), -(-width // grid.shape[1]))))
        heat = cells[:height, :width]
        rgb = np.stack([gray * (1 - heat) + 255 * heat, gray * (1 - heat), gray * (1 - heat)], -1)
        picture = Image.fromarray(rgb.astype(np.uint8), "RGB")
        if max(height, width) < 64:  # digits: 8x8, shown larger
            picture = picture.resize((width * 16, height * 16), Image.Resampling.NEAREST)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        return base64.b64encode(buffer.getvalue()).decode()

    # --- texts -------------------------------------------------------------------------------

    def _tokens(self, item: Any, encoded: Any, params: ExplainParams) -> tuple[dict[str, Any], int]:
        """Leave each token out in turn: the score lost is its attribution (a class's
        probability for a text classifier, the cosine similarity to ``compare_to`` for an
        embedding), on the character span the token came from."""
        processor: Any = self.model.processor
        if not isinstance(item, str) or processor.tokenizer is None:
            raise InvalidInputError(f"explaining a {self.task} model takes texts", param="inputs")
        spans = processor.tokenizer.encode(item).offsets
        special = set(
            processor.tokenizer.token_to_id(t)
            for t in ("[CLS]", "[SEP]")
            if processor.tokenizer.token_to_id(t) is not None
        )
        positions = [
            i
            for i, (start, end) in enumerate(spans)
            if end > start and encoded.ids[i] not in special
        ]
        fixed = 2 if self.task == "embedding" else 1  # the text itself (and compare_to)
        if len(positions) + fixed > params.max_evaluations:
            raise InvalidInputError(
                f"{len(positions)} tokens need {len(positions) + fixed} evaluations; "
                f"max_evaluations is {params.max_evaluations}",
                param="max_evaluations",
            )
        variants = [encoded]
        for i in positions:
            variants.append(type(encoded)(
                ids=encoded.ids[:i] + encoded.ids[i + 1 :],
                type_ids=encoded.type_ids[:i] + encoded.type_ids[i + 1 :],
            ))  # fmt: skip
        explained: dict[str, Any]
        if self.task == "embedding":
            rows = [*variants, processor.prepare(params.compare_to, 0)]
            vectors = np.asarray(
                [r["embedding"] for r in self.model.predict_prepared(rows, PredictParams())],
                dtype=np.float64,
            )
            scores = vectors[:-1] @ vectors[-1]  # unit vectors: cosine
            explained = {"compare_to": params.compare_to}
        else:
            labels = [str(label) for label in processor.scores.labels]
            every = self._probabilities(variants)  # one run: the text's own row is the first
            label = labels[int(every[0].argmax())]
            target = label if params.target is None else params.target
            if target not in labels:
                raise InvalidInputError(
                    f"target {target!r} is not a class of this model; its classes are {labels}",
                    param="target",
                )
            # log-odds, not the probability: on a long, clearly positive text the probability
            # is 0.9999 with or without any one word, and would rank tokens by noise
            probability = np.clip(every[:, labels.index(target)], 1e-7, 1 - 1e-7)
            scores = np.log(probability) - np.log1p(-probability)
            explained = {
                "target": target,
                "label": label,
                "probability": float(probability[0]),
                "score": "log_odds",
            }
        full = float(scores[0])
        tokens = [
            {
                "text": item[spans[i][0] : spans[i][1]],
                "start": int(spans[i][0]),
                "end": int(spans[i][1]),
                "attribution": full - float(scores[1 + k]),
            }
            for k, i in enumerate(positions)
        ]
        evaluations = len(variants) + (self.task == "embedding")  # + compare_to
        return {
            "prediction": full,
            "method": "occlusion",
            **explained,
            "tokens": tokens,
            "evaluations": evaluations,
        }, evaluations


def _occluded(
    image: npt.NDArray[np.float32], params: ExplainParams
) -> tuple[int, list[npt.NDArray[np.float32]]]:
    """The grid's cells per side, and the image with each cell in turn set to 0 (the
    normalisation's mean), row by row; InvalidInputError when the grid is over budget."""
    _, height, width = image.shape
    cells = max(1, min(params.grid, height, width))
    if cells * cells + 1 > params.max_evaluations:
        raise InvalidInputError(
            f"a {cells}x{cells} grid needs {cells * cells + 1} evaluations; "
            f"max_evaluations is {params.max_evaluations}",
            param="max_evaluations",
        )
    rows_at = np.linspace(0, height, cells + 1).round().astype(int)
    cols_at = np.linspace(0, width, cells + 1).round().astype(int)
    variants = []
    for r in range(cells):
        for c in range(cells):
            copy = image.copy()
            copy[:, rows_at[r] : rows_at[r + 1], cols_at[c] : cols_at[c + 1]] = 0.0
            variants.append(copy)
    return cells, variants


def _cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _exact_shapley(
    masks: npt.NDArray[np.bool_], values: npt.NDArray[np.float64], m: int
) -> npt.NDArray[np.float64]:
    """Shapley values from every coalition's value (masks in binary counting order)."""
    index = {tuple(mask.tolist()): k for k, mask in enumerate(masks)}
    weights = [math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)]
    phi = np.zeros(m)
    for k, mask in enumerate(masks):
        size = int(mask.sum())
        for i in range(m):
            if mask[i]:
                continue
            with_i = mask.copy()
            with_i[i] = True
            phi[i] += weights[size] * (values[index[tuple(with_i.tolist())]] - values[k])
    return phi


def _kernel_masks(m: int, pairs: int, seed: int) -> npt.NDArray[np.bool_]:
    """Coalitions drawn by the Shapley kernel's size distribution, each with its complement;
    the empty and full coalitions last-but-not-fitted (they anchor base and prediction)."""
    rng = np.random.default_rng(seed)
    sizes = np.arange(1, m)
    weights = (m - 1) / (sizes * (m - sizes))
    weights /= weights.sum()
    masks = []
    for _ in range(pairs):
        size = int(rng.choice(sizes, p=weights))
        mask = np.zeros(m, dtype=bool)
        mask[rng.choice(m, size=size, replace=False)] = True
        masks += [mask, ~mask]
    return np.asarray(masks, dtype=bool)


def _kernel_shap(
    masks: npt.NDArray[np.bool_],
    values: npt.NDArray[np.float64],
    base: float,
    prediction: float,
    seed: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Constrained least squares (attributions sum to ``prediction - base``), and each
    attribution's standard error from a bootstrap over the coalitions."""

    def fit(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        z = masks[rows].astype(np.float64)
        y = values[rows] - base
        total = prediction - base
        # eliminate the last feature: phi_last = total - sum(others)
        a = z[:, :-1] - z[:, -1:]
        b = y - z[:, -1] * total
        others, *_ = np.linalg.lstsq(a, b, rcond=None)
        return np.append(others, total - others.sum())

    everything = np.arange(len(masks))
    phi = fit(everything)
    rng = np.random.default_rng(seed + 1)
    draws = [fit(rng.choice(everything, size=len(everything))) for _ in range(BOOTSTRAP)]
    return phi, np.std(draws, axis=0)
