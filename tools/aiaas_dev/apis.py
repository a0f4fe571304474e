"""The HttpApi side of a template: routes from the functions' events, the stage, authorizers.

SAM's ``Globals.HttpApi`` applies to every HttpApi, the implicit one (routes without
``ApiId``) included; an implicit HttpApi serves the ``$default`` stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from aiaas_dev.auth_config import ApiAuth, AuthorizerSpec, parse_api_auth
from aiaas_dev.cfn import Resolver, TemplateError
from aiaas_dev.routes import DEFAULT_ROUTE, DEFAULT_STAGE, Route

HTTP_API_TYPE = "AWS::Serverless::HttpApi"
IMPLICIT_API = "ServerlessHttpApi"  # the logical ID SAM gives the implicit HttpApi


@dataclass(frozen=True)
class HttpApis:
    """Every route the template's functions declare, their stage and their authorizers."""

    routes: tuple[Route, ...]
    stage: str
    authorizers: dict[str, AuthorizerSpec]


def http_apis(
    document: Mapping[str, Any],
    function_properties: Mapping[str, Mapping[str, Any]],
    resolver: Resolver,
) -> HttpApis:
    """Collect the HttpApi routes of the functions, with the authorizer guarding each.

    Args:
        document: The template.
        function_properties: The properties (Globals merged) of the functions that run locally.
        resolver: Resolves intrinsics.

    Returns:
        The routes, the one stage they share and the authorizers they use.

    Raises:
        TemplateError: Routes on several stages, an ``ApiId`` that is not an HttpApi, an
            authorizer that cannot run locally or whose function does not.
    """
    resources: Mapping[str, Any] = document.get("Resources") or {}
    globals_api = (document.get("Globals") or {}).get("HttpApi") or {}
    auths: dict[str | None, ApiAuth] = {}
    routes: list[Route] = []
    for logical_id, props in function_properties.items():
        for api, route, auth in _http_api_routes(logical_id, props, resolver):
            if api not in auths:
                api_props = {**globals_api, **_api_properties(api, resources)}
                auths[api] = parse_api_auth(api or IMPLICIT_API, api_props.get("Auth"), resolver)
            name = auths[api].route_authorizer(auth, f"{logical_id} {route.route_key}")
            routes.append(replace(route, authorizer=name))
    authorizers = _used_authorizers(routes, auths, function_properties)
    stage = _stage_of(set(auths), resources, globals_api, resolver)
    return HttpApis(tuple(routes), stage, authorizers)


def _api_properties(api: str | None, resources: Mapping[str, Any]) -> dict[str, Any]:
    if api is None:
        return {}
    resource = resources.get(api) or {}
    if resource.get("Type") != HTTP_API_TYPE:
        raise TemplateError(f"HttpApi event refers to {api!r}, not an {HTTP_API_TYPE}")
    return dict(resource.get("Properties") or {})


def _used_authorizers(
    routes: list[Route],
    auths: Mapping[str | None, ApiAuth],
    function_properties: Mapping[str, Any],
) -> dict[str, AuthorizerSpec]:
    """The authorizers some route uses, by name; their functions must run locally."""
    used: dict[str, AuthorizerSpec] = {}
    for auth in auths.values():
        for name, spec in auth.authorizers.items():
            if name in used and used[name] != spec:
                raise TemplateError(f"two HttpApis define authorizer {name!r} differently")
            if any(route.authorizer == name for route in routes):
                used[name] = spec
    for spec in used.values():
        if spec.function not in function_properties:
            raise TemplateError(
                f"authorizer {spec.name!r}: its function {spec.function!r} is not a "
                "zip-packaged Python function of this template"
            )
    return used


def _http_api_routes(
    logical_id: str, props: Mapping[str, Any], resolver: Resolver
) -> list[tuple[str | None, Route, Any]]:
    """The function's ``HttpApi`` events as (API logical ID or ``None``, route, its ``Auth``)."""
    found: list[tuple[str | None, Route, Any]] = []
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
        route = Route(method=method, path=path, function=logical_id)
        found.append((api_id, route, event_props.get("Auth")))
    return found


def _stage_of(
    apis: set[str | None],
    resources: Mapping[str, Any],
    globals_api: Mapping[str, Any],
    resolver: Resolver,
) -> str:
    """The one stage all routes share; SAM's implicit HttpApi serves ``$default``."""
    stages: set[str] = set()
    for api in apis:
        if api is None:
            stages.add(DEFAULT_STAGE)
            continue
        props = {**globals_api, **_api_properties(api, resources)}
        stages.add(resolver.resolve_str(props.get("StageName", DEFAULT_STAGE)))
    if len(stages) > 1:
        raise TemplateError(f"routes are on several stages {sorted(stages)}; pass --stage")
    return stages.pop() if stages else DEFAULT_STAGE
