"""Bodies of the catalog (``/v1/models``) and Open Inference Protocol metadata (``/v2``) routes.

Responses keep the wire format the routes always had: every field is always present (``null``
where there is no value), except an upload's ``tokenizer`` form, present only when there is one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from aiaas.domain.catalog_records import Runtime, ScoresKind, Status, Visibility
from aiaas.web.schemas.text import SafeName, SafeProse

Task = Literal[
    "embedding",
    "text-classification",
    "tabular-classification",
    "tabular-regression",
    "image-classification",
    "object-detection",
    "custom",
]


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise PydanticCustomError("unique", "'{name}' appears more than once", {"name": name})
        seen.add(name)
    return names


def _one_or_three(values: list[float]) -> list[float]:
    if len(values) not in (1, 3):
        raise PydanticCustomError("one_or_three", "give 1 value (all channels) or 3 (R, G, B)")
    return values


def _error(loc: tuple[str, ...], message: str) -> ValidationError:
    """A validation error located at ``loc`` (``parse_as`` names it as the ``param``)."""
    error = PydanticCustomError("invalid", message)
    return ValidationError.from_exception_data(
        "body", [InitErrorDetails(type=error, loc=loc, input=None)]
    )


Names = Annotated[
    list[Annotated[SafeName, StringConstraints(min_length=1, max_length=200)]],
    Field(max_length=10_000, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique),
]
Means = Annotated[list[float], Field(min_length=1, max_length=3), AfterValidator(_one_or_three)]
Stds = Annotated[
    list[Annotated[float, Field(gt=0)]],
    Field(min_length=1, max_length=3),
    AfterValidator(_one_or_three),
]


class Preprocessing(BaseModel):
    """Task input settings: images ``height``, ``width``, ``channels``, ``mean``, ``std``,
    ``pixel_max`` (``x = (pixels / pixel_max - mean) / std``); texts ``max_length``, ``max_chars``.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    height: int | None = Field(default=None, ge=1, le=4096)
    width: int | None = Field(default=None, ge=1, le=4096)
    channels: Literal[1, 3] | None = None
    mean: Means | None = None
    std: Stds | None = None
    pixel_max: float | None = Field(default=None, gt=0)
    resize: Literal["stretch", "letterbox"] | None = Field(
        default=None, description="images: stretch to height x width, or keep the aspect ratio"
    )
    pad_value: int | None = Field(
        default=None, ge=0, le=255, description="letterbox: the bars' gray (ultralytics: 114)"
    )
    max_length: int | None = Field(default=None, ge=1, le=8192, description="Tokens per text")
    max_chars: int | None = Field(default=None, ge=1, le=100_000, description="Per text")

    @model_validator(mode="after")
    def _channels_match(self) -> Self:
        for field in ("mean", "std"):
            values = getattr(self, field)
            if values is not None and len(values) == 3 and self.channels != 3:
                raise _error((field,), "3 values need 3 channels; declare channels: 3")
        return self


OutputName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Detection(BaseModel):
    """How an object detector's outputs read (task ``object-detection``).

    ``yolo``: one output ``[1, 4 + classes, anchors]`` (ultralytics' export): ``cx, cy, w, h``
    in input pixels, then each class's score. ``ssd``: ``boxes`` ``[1, n, 4]``, ``scores``
    ``[1, n]`` and ``classes`` ``[1, n]`` outputs, boxes ``yxyx`` in 0..1 by default (the
    TensorFlow Object Detection API's). Either way the platform applies ``min_score`` and
    per-class non-maximum suppression at ``iou_threshold``.
    """

    model_config = ConfigDict(extra="forbid")

    format: Literal["yolo", "ssd"]
    output: OutputName | None = Field(default=None, description="yolo: the output to read")
    boxes: OutputName | None = Field(default=None, description="ssd: default 'boxes'")
    scores: OutputName | None = Field(default=None, description="ssd: default 'scores'")
    classes: OutputName | None = Field(default=None, description="ssd: default 'classes'")
    box_format: Literal["xyxy", "yxyx", "cxcywh"] | None = None
    normalized: bool | None = Field(default=None, description="boxes in 0..1 of the input")
    iou_threshold: float = Field(default=0.45, gt=0, le=1)
    min_score: float = Field(default=0.25, gt=0, le=1)


class NewModel(BaseModel):
    """A model to create in the caller's namespace, and how to serve it (all optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3, max_length=64)
    task: Task
    description: SafeProse = Field(default="", max_length=500)
    visibility: Visibility = "private"
    runtime: Runtime = "cpu"
    labels: Names = Field(default_factory=list, description="Class names in score order")
    features: Names = Field(default_factory=list, description="Feature names in column order")
    output: str = Field(default="", max_length=128, description="Graph output to serve")
    scores_kind: ScoresKind = "probabilities"
    preprocessing: Preprocessing | None = None
    detection: Detection | None = None

    @model_validator(mode="after")
    def _image_size(self) -> Self:
        if self.task == "object-detection" and self.detection is None:
            raise _error(("detection",), "an object-detection model must declare detection")
        if self.task != "object-detection" and self.detection is not None:
            raise _error(("detection",), "detection is for object-detection models")
        if self.task in ("image-classification", "object-detection"):
            for field in ("height", "width"):
                if getattr(self.preprocessing, field, None) is None:
                    raise _error(
                        ("preprocessing", field),
                        f"an {self.task} model must declare its input {field}",
                    )
        return self

    def create_args(self) -> dict[str, Any]:
        """Keyword arguments of ``CatalogService.create`` (preprocessing: only keys given)."""
        args = self.model_dump(exclude={"preprocessing", "detection"})
        args["preprocessing"] = (self.preprocessing or Preprocessing()).model_dump(
            exclude_none=True
        )
        if self.detection is not None:
            args["detection"] = self.detection.model_dump(exclude_none=True)
        return args


class ModelChanges(BaseModel):
    """Fields a PATCH may change."""

    model_config = ConfigDict(extra="forbid")

    description: SafeProse | None = Field(default=None, max_length=500)
    visibility: Visibility | None = None
    default_version: int | None = Field(default=None, ge=1)


class Public(BaseModel):
    """A response body: every field is always sent (``null`` where unset), so all required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class TensorSpec(Public):
    """One input or output tensor; ``-1`` is a dynamic dimension (the batch, first)."""

    name: str
    datatype: str = Field(examples=["FP32"])
    shape: list[int] = Field(examples=[[-1, 4]])


class VersionPublic(Public):
    """One version of a model: its registration status and what registration measured."""

    version: int
    status: Status
    reason: str | None = Field(description="Why registration FAILED")
    created: int = Field(description="Unix time")
    sha256: str | None
    size: int | None = Field(description="Bytes of the uploaded file")
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    quality: dict[str, Any] = Field(description="Quantization checks, by variant")
    latency: dict[str, Any] = Field(description="Measured latency (ms by batch size) and cost")
    variants: list[str] = Field(examples=[["fp32", "int8"]])
    ignored_uploads: int = Field(
        default=0, description="Uploads after the registered one (a version takes one)"
    )
    training: dict[str, Any] | None = Field(
        default=None,
        description="A version the platform trained: its job, input columns, labels and "
        "test-set metrics",
    )
    background: dict[str, Any] | None = Field(
        default=None, description="The explanations' background its owner uploaded: rows"
    )
    capture: dict[str, Any] | None = Field(
        default=None, description="Data capture: the share of requests kept (sample_percent)"
    )
    baseline: dict[str, Any] | None = Field(
        default=None,
        description="The drift baseline: its reference rows and where it came from "
        "(training, upload or captures)",
    )


class VersionsPublic(Public):
    """A model's versions, oldest first."""

    object: Literal["list"] = "list"
    data: list[VersionPublic]


class ModelBase[V](Public):
    """A model in OpenAI's list shape (``id``, ``object``, ``created``, ``owned_by``) + ours;
    tensors, quality and latency are the default version's."""

    id: str
    object: Literal["model"] = "model"
    created: int = Field(description="Unix time")
    owned_by: str = Field(description="The tenant; `aiaas` for built-in models")
    task: str = Field(examples=["tabular-classification"])
    description: str
    visibility: Visibility
    runtime: Runtime
    default_version: int | None
    versions: list[V]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    quality: dict[str, Any]
    latency: dict[str, Any]
    labels: list[str]
    features: list[str]
    output: str
    scores_kind: ScoresKind
    preprocessing: dict[str, Any] = Field(description="Declared settings (see NewModel)")
    detection: dict[str, Any] | None = Field(
        default=None, description="Object detectors: how their outputs read (see NewModel)"
    )


class ModelPublic(ModelBase[int]):
    """A model in a list, with its version numbers."""


class ModelDetail(ModelBase[VersionPublic]):
    """A model with all its versions."""


class ModelsPublic(Public):
    """Public models and the caller's own, by name."""

    object: Literal["list"] = "list"
    data: list[ModelPublic]
    has_more: bool = Field(description="More models follow: pass the last `id` as `after`")


class PresignedPost(Public):
    """An S3 presigned POST: send ``fields`` and then the file, as multipart form data."""

    url: str
    fields: dict[str, str]


class Upload(PresignedPost):
    """Where to upload the version's ONNX file (and its tokenizer, for embedding models)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    expires_in: int = Field(description="Seconds the form is valid")
    max_bytes: int
    tokenizer: PresignedPost | SkipJsonSchema[None] = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Embedding models only: where to upload `tokenizer.json`",
    )


class NewVersionPublic(VersionPublic):
    """A version waiting for its upload (``PENDING_UPLOAD``)."""

    upload: Upload


class ServerMetadata(Public):
    """Open Inference Protocol server metadata."""

    name: str
    version: str
    extensions: list[str]


class ModelMetadata(Public):
    """Open Inference Protocol model metadata: the ready versions, or the one asked for."""

    name: str
    versions: list[str]
    platform: str = Field(examples=["onnxruntime_onnx"])
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


class ModelReady(Public):
    """The model (or version) is READY."""

    name: str
    ready: bool


class Live(Public):
    """Liveness."""

    live: bool


class Ready(Public):
    """Readiness."""

    ready: bool
