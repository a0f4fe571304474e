"""One settings class, read from ``AIAAS_*`` environment variables, checked at cold start."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import DirectoryPath, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseSettings):
    """Configuration of every function.

    Attributes:
        models_dir: Directory of installed models (``/opt/models`` from ModelsLayer in AWS).
        log_level: Root log level.
        preload_models: Models to open during the init phase (Lambda bills init at full CPU
            and it precedes the first request), comma-separated.
        inference_threads: onnxruntime intra-op threads; default: the CPUs available.
        max_body_bytes: Largest accepted request body (Lambda's sync payload limit is 6 MB).
        stage: HTTP API stage; a named stage prefixes every path with ``/<stage>``.
    """

    model_config = SettingsConfigDict(env_prefix="AIAAS_", frozen=True, extra="ignore")

    models_dir: DirectoryPath
    log_level: LogLevel = "INFO"
    preload_models: str = ""
    inference_threads: int | None = Field(default=None, ge=1, le=64)
    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)
    stage: str = Field(default="$default", pattern=r"^(\$default|[A-Za-z0-9_-]+)$")

    @property
    def base_path(self) -> str:
        """The path prefix API Gateway adds for the stage (``/`` for ``$default``)."""
        return "/" if self.stage == "$default" else f"/{self.stage}"

    @property
    def preload(self) -> list[str]:
        """``preload_models`` as a list of names."""
        return [name.strip() for name in self.preload_models.split(",") if name.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache or override the dependency)."""
    return Settings()  # type: ignore[call-arg]  # values come from the environment
