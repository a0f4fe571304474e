"""The seam between the CPU functions and the GPU container: what a forwarded request names.

``PredictFunction`` and ``BatchFunction`` resolve a ``gpu`` model (tenant check, READY version)
themselves and forward its tensors with a `GpuTarget`; the container trusts the target (only
the functions' role may invoke its endpoint) and fetches the weights from S3 by key,
verifying the sha256 as the CPU path does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy.typing as npt

from aiaas.settings import Settings


@dataclass(frozen=True, slots=True)
class GpuTarget:
    """One catalog version, as the container needs it.

    Attributes:
        model: The model's name.
        version: The version number.
        artifact: ``s3://<weights bucket>/<key>`` of the fp32 weights.
        sha256: Their sha256 (hex); the container refuses other bytes.
        outputs: The graph's output names, in order.
    """

    model: str
    version: int
    artifact: str
    sha256: str
    outputs: tuple[str, ...]


# run whole in the container (`aiaas.serving.gpu_tasks`), and what each one's processor reads
# in the function to validate a request there (the graphs stay in the container)
GENERATIVE_TASKS = ("chat", "speech-recognition")
LOCAL_ROLES = {"chat": ("tokenizer",), "speech-recognition": ("tokenizer", "mel_filters")}


@dataclass(frozen=True, slots=True)
class GpuTaskTarget:
    """A generative catalog version (chat, speech), run whole in the container: its build
    manifest and every file it opens, each verified by its sha256 there.

    Attributes:
        model: The model's name.
        version: The version number.
        manifest: The build manifest (the container replaces its artifacts with its copies).
        artifacts: ``(role, s3 URI, sha256)`` of every file.
    """

    model: str
    version: int
    manifest: dict[str, Any]
    artifacts: tuple[tuple[str, str, str], ...]


class GpuBackend(Protocol):
    """Where models whose runtime is ``gpu`` run: a SageMaker endpoint, or a local process."""

    def infer(
        self, target: GpuTarget, inputs: dict[str, npt.NDArray[Any]]
    ) -> dict[str, npt.NDArray[Any]]:
        """Run one request remotely; every output of the graph comes back."""
        ...

    def run_task(self, target: GpuTaskTarget, item: dict[str, Any]) -> dict[str, Any]:
        """Run one whole request of a generative model remotely; its result comes back."""
        ...


class GpuRunner:
    """A `Runner` for models whose runtime is ``gpu``: tensors go to the GPU container.

    Pre- and post-processing (tokenizing, labels) stay in the function; only the graph runs
    remotely.
    """

    def __init__(self, backend: GpuBackend, target: GpuTarget) -> None:
        self.backend = backend
        self.target = target
        self.output_names = target.outputs

    def run(self, feeds: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """One forwarded run; every output of the graph comes back."""
        return self.backend.infer(self.target, feeds)


def backend_from(settings: Settings) -> GpuBackend | None:
    """The backend the settings name: the SageMaker endpoint (``gpu_endpoint``), a container
    app over HTTP (``gpu_url``, the local stack), or none.

    The client module (urllib, ~30 ms of imports) loads only when a backend is configured.
    """
    if settings.gpu_endpoint:
        import boto3  # noqa: PLC0415 - only with an endpoint
        from botocore.config import Config  # noqa: PLC0415

        from aiaas.serving.gpu_client import SageMakerGpuBackend  # noqa: PLC0415

        # The HTTP API gives up after 30 s: one retry at most, reads bounded by the setting.
        config = Config(
            connect_timeout=3,
            read_timeout=settings.gpu_timeout_s,
            retries={"mode": "standard", "max_attempts": 2},
        )
        client = boto3.client("sagemaker-runtime", config=config)
        return SageMakerGpuBackend(client, settings.gpu_endpoint)
    if settings.gpu_url:
        from aiaas.serving.gpu_client import HttpGpuBackend  # noqa: PLC0415

        return HttpGpuBackend(settings.gpu_url, settings.gpu_timeout_s)
    return None
