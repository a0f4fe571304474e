"""The parts of a SAM template the local stack serves: functions, their HttpApi routes, the stage.

Everything the server routes and runs comes from here; there is no second, hand-written list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiaas_dev.cfn import PSEUDO_PARAMETERS, Resolver, TemplateError, load_yaml
from aiaas_dev.routes import DEFAULT_ROUTE, DEFAULT_STAGE, Route

logger = logging.getLogger(__name__)

FUNCTION_TYPE = "AWS::Serverless::Function"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
# Lambda's own defaults when neither the function nor Globals set them.
DEFAULT_TIMEOUT_S = 3
DEFAULT_MEMORY_MB = 128


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the template declares it (values resolved)."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: float = DEFAULT_TIMEOUT_S
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def handler_file(self) -> Path:
        """The handler's source file (``app.handler`` -> ``<code_dir>/app.py``)."""
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir.joinpath(*module.split(".")).with_suffix(".py")

    @property
    def handler_attr(self) -> str:
        """The handler's name inside its module (``app.handler`` -> ``handler``)."""
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class Template:
    """A parsed SAM template, reduced to what the local stack serves."""

    path: Path
    document: dict[str, Any]
    functions: dict[str, FunctionSpec]
    routes: tuple[Route, ...]
    stage: str
    resolver: Resolver


def load_template(
    path: Path,
    *,
    parameters: Mapping[str, str] | None = None,
    env_overrides: Mapping[str, str] | None = None,
    stage: str | None = None,
) -> Template:
    """Read a SAM template and resolve what the local stack needs from it.

    Args:
        path: The template file; ``CodeUri`` is relative to its folder.
        parameters: Values for template parameters, over their ``Default``.
        env_overrides: Environment values that win over the template's; variables named
            here are not resolved, so they may hold intrinsics the local stack cannot resolve.
        stage: The stage to serve under, over the HttpApi's ``StageName``.

    Returns:
        The functions (Python, zip-packaged), their HttpApi routes and the stage.

    Raises:
        TemplateError: The template cannot be read or served locally.
    """
    document = load_yaml(path)
    resources: dict[str, Any] = document.get("Resources") or {}
    resolver = Resolver(_known_values(document, parameters or {}))
    overrides = dict(env_overrides or {})
    globals_ = (document.get("Globals") or {}).get("Function") or {}
    functions: dict[str, FunctionSpec] = {}
    routes: list[Route] = []
    apis: set[str | None] = set()
    for logical_id, resource in resources.items():
        if resource.get("Type") != FUNCTION_TYPE:
            continue
        props = _merge_globals(globals_, resource.get("Properties") or {})
        spec = _function_spec(logical_id, props, path.parent, resolver, overrides)
        if spec is None:
            continue
        functions[logical_id] = spec
        for api, route in _http_api_routes(logical_id, props, resolver):
            apis.add(api)
            routes.append(route)
    served_stage = stage or _stage_of(apis, resources, resolver)
    return Template(path, document, functions, tuple(routes), served_stage, resolver)


def _known_values(document: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, str]:
    """``Ref`` values: resources by logical ID, pseudo parameters, parameter defaults."""
    values = {logical_id: logical_id for logical_id in document.get("Resources") or {}}
    values.update(PSEUDO_PARAMETERS)
    for name, declaration in (document.get("Parameters") or {}).items():
        if "Default" in declaration:
            values[name] = str(declaration["Default"])
    values.update(parameters)
    return values


def _function_spec(
    logical_id: str,
    props: dict[str, Any],
    base_dir: Path,
    resolver: Resolver,
    overrides: Mapping[str, str],
) -> FunctionSpec | None:
    """Build a `FunctionSpec`, or ``None`` (with a warning) for what cannot run locally."""
    runtime = str(resolver.resolve(props.get("Runtime", "")))
    code_uri = props.get("CodeUri")
    if props.get("PackageType") == "Image" or not runtime.startswith("python"):
        logger.warning("skipping %s: only zip-packaged Python functions run locally", logical_id)
        return None
    if not isinstance(code_uri, str) or "Handler" not in props:
        logger.warning("skipping %s: it needs a local CodeUri and a Handler", logical_id)
        return None
    name = props.get("FunctionName")
    return FunctionSpec(
        logical_id=logical_id,
        name=resolver.resolve_str(name) if name is not None else logical_id,
        code_dir=(base_dir / code_uri).resolve(),
        handler=resolver.resolve_str(props["Handler"]),
        memory_mb=int(resolver.resolve_str(props.get("MemorySize", DEFAULT_MEMORY_MB))),
        timeout_s=float(resolver.resolve_str(props.get("Timeout", DEFAULT_TIMEOUT_S))),
        environment=_environment(logical_id, props, resolver, overrides),
    )


def _environment(
    logical_id: str, props: dict[str, Any], resolver: Resolver, overrides: Mapping[str, str]
) -> dict[str, str]:
    """The function's variables (Globals merged with its own; SAM merges them key by key)."""
    environment: dict[str, str] = {}
    for key, value in props["Environment"]["Variables"].items():
        if key in overrides:
            environment[key] = overrides[key]
            continue
        try:
            environment[key] = resolver.resolve_str(value)
        except TemplateError as exc:
            raise TemplateError(
                f"{logical_id}: environment variable {key}: {exc}; pass --env {key}=VALUE"
            ) from exc
    return environment


def _merge_globals(globals_: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """Apply ``Globals.Function``: the function's properties win, variables merge key by key."""
    variables = {
        **((globals_.get("Environment") or {}).get("Variables") or {}),
        **((own.get("Environment") or {}).get("Variables") or {}),
    }
    return {**globals_, **own, "Environment": {"Variables": variables}}


def _http_api_routes(
    logical_id: str, props: dict[str, Any], resolver: Resolver
) -> list[tuple[str | None, Route]]:
    """The function's ``HttpApi`` events as (API logical ID or ``None`` if implicit, route)."""
    found: list[tuple[str | None, Route]] = []
    for event in (props.get("Events") or {}).values():
        if event.get("Type") != "HttpApi":
            continue
        event_props = event.get("Properties") or {}
        path = resolver.resolve_str(event_props.get("Path", DEFAULT_ROUTE))
        method = resolver.resolve_str(event_props.get("Method", "ANY")).upper()
        if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
            method = "ANY"
        api = event_props.get("ApiId")
        api_id = api["Ref"] if isinstance(api, dict) and "Ref" in api else None
        found.append((api_id, Route(method=method, path=path, function=logical_id)))
    return found


def _stage_of(apis: set[str | None], resources: dict[str, Any], resolver: Resolver) -> str:
    """The one stage all routes share; SAM's implicit HttpApi serves ``$default``."""
    stages: set[str] = set()
    for api in apis:
        resource = resources.get(api or "") or {}
        if api is not None and resource.get("Type") != HTTP_API_TYPE:
            raise TemplateError(f"HttpApi event refers to {api!r}, not an {HTTP_API_TYPE}")
        stage_name = (resource.get("Properties") or {}).get("StageName", DEFAULT_STAGE)
        stages.add(resolver.resolve_str(stage_name))
    if len(stages) > 1:
        raise TemplateError(f"routes are on several stages {sorted(stages)}; pass --stage")
    return stages.pop() if stages else DEFAULT_STAGE
