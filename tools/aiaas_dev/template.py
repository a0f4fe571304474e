"""The parts of a SAM template the local stack serves: functions, routes, authorizers, S3 and
SQS event sources.

Everything the server routes and runs comes from here; there is no second, hand-written list.
Resources whose ``Condition`` is false are left out first (`aiaas_dev.conditions`).
Functions' environments are resolved with the resources' local values (`aiaas_dev.resources`)
and resolved again (`Template.with_resource_values`) once moto has created the resources.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiaas_dev.apis import http_apis
from aiaas_dev.auth_config import AuthorizerSpec
from aiaas_dev.cfn import NO_VALUE, PSEUDO_PARAMETERS, Resolver, TemplateError, load_yaml
from aiaas_dev.conditions import evaluate_conditions, without_false_resources
from aiaas_dev.resources import FUNCTION_TYPE, local_values
from aiaas_dev.routes import Route
from aiaas_dev.s3_events import S3EventSource, s3_event_sources
from aiaas_dev.schedules import ScheduleSource, schedule_sources
from aiaas_dev.sqs_events import SQSEventSource, sqs_event_sources

logger = logging.getLogger(__name__)

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
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    env_overrides: dict[str, str] = field(default_factory=dict)
    s3_events: tuple[S3EventSource, ...] = ()
    sqs_events: tuple[SQSEventSource, ...] = ()
    schedules: tuple[ScheduleSource, ...] = ()

    def with_resource_values(self, values: Mapping[str, str]) -> Template:
        """The template with the functions' environments resolved again over ``values``.

        Args:
            values: ``Ref``/``Fn::GetAtt`` values of created resources (a secret's ARN as
                moto made it), over the local ones.

        Returns:
            A new template; its resolver knows ``values`` too.
        """
        resolver = self.resolver.with_values(values)
        properties = _function_properties(self.document)
        functions = {
            logical_id: replace(
                spec,
                environment=_environment(
                    logical_id, properties[logical_id], resolver, self.env_overrides
                ),
            )
            for logical_id, spec in self.functions.items()
        }
        return replace(self, functions=functions, resolver=resolver)


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
        The functions (Python, zip-packaged), their HttpApi routes and the stage, and
        their S3 and SQS event sources and schedules; the document without the resources whose
        ``Condition`` is false.

    Raises:
        TemplateError: The template cannot be read or served locally.
    """
    document = load_yaml(path)
    document, resolver = _resolved_document(document, _parameter_values(document, parameters or {}))
    overrides = dict(env_overrides or {})
    properties = _function_properties(document)
    functions: dict[str, FunctionSpec] = {}
    for logical_id, props in properties.items():
        spec = _function_spec(logical_id, props, path.parent, resolver, overrides)
        if spec is not None:
            functions[logical_id] = spec
    local_properties = {key: properties[key] for key in functions}
    apis = http_apis(document, local_properties, resolver)
    return Template(
        path,
        document,
        functions,
        apis.routes,
        stage or apis.stage,
        resolver,
        apis.authorizers,
        overrides,
        s3_event_sources(document, local_properties, resolver),
        sqs_event_sources(
            document,
            local_properties,
            resolver,
            {logical_id: spec.timeout_s for logical_id, spec in functions.items()},
        ),
        schedule_sources(local_properties, resolver),
    )


def _function_properties(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every function's properties, ``Globals.Function`` merged in."""
    globals_ = (document.get("Globals") or {}).get("Function") or {}
    return {
        logical_id: _merge_globals(globals_, resource.get("Properties") or {})
        for logical_id, resource in (document.get("Resources") or {}).items()
        if resource.get("Type") == FUNCTION_TYPE
    }


def _parameter_values(document: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, str]:
    """Pseudo parameters and parameters (defaults, then given)."""
    values = dict(PSEUDO_PARAMETERS)
    for name, declaration in (document.get("Parameters") or {}).items():
        if "Default" in declaration:
            values[name] = str(declaration["Default"])
    values.update(parameters)
    return values


def _resolved_document(
    document: dict[str, Any], parameters: Mapping[str, str]
) -> tuple[dict[str, Any], Resolver]:
    """The conditions evaluated, false resources left out, a resolver for the rest.

    Returns:
        The document without false resources, and a resolver that knows the parameters,
        the resources' local values and the conditions.
    """
    conditions = evaluate_conditions(document, Resolver(parameters))
    document = without_false_resources(document, conditions)
    resources = local_values(document.get("Resources") or {}, Resolver(parameters, conditions))
    return document, Resolver({**resources, **parameters}, conditions)


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
            resolved = resolver.resolve(value)
            if resolved is not NO_VALUE:
                environment[key] = resolver.resolve_str(resolved)
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
