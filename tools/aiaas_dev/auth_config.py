"""HttpApi Lambda authorizers as a SAM template declares them (``Auth`` of the HttpApi).

What runs locally is what this project deploys: Lambda ``REQUEST`` authorizers with payload
format 2.0 and simple responses (``{"isAuthorized": ..., "context": {...}}``), named by
``FunctionArn: !GetAtt <Function>.Arn``. Identity sources come from ``Identity.Headers``,
``QueryStrings`` and ``Context``; ``ReauthorizeEvery`` (default 0: no cache) sets the result
cache's TTL. A route's ``Auth.Authorizer`` names one, or ``NONE``; without it the API's
``DefaultAuthorizer`` guards the route. Anything else is a `TemplateError` that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiaas_dev.cfn import Resolver, TemplateError

PUBLIC = "NONE"  # Auth.Authorizer of a route without authorizer
MAX_TTL_S = 3600
SUPPORTED_PAYLOAD_VERSION = "2.0"

# $context variables usable as identity sources -> their path inside requestContext.
CONTEXT_VARIABLES: dict[str, tuple[str, ...]] = {
    "accountId": ("accountId",),
    "apiId": ("apiId",),
    "domainName": ("domainName",),
    "domainPrefix": ("domainPrefix",),
    "requestId": ("requestId",),
    "routeKey": ("routeKey",),
    "stage": ("stage",),
    "httpMethod": ("http", "method"),
    "path": ("http", "path"),
    "protocol": ("http", "protocol"),
    "identity.sourceIp": ("http", "sourceIp"),
    "identity.userAgent": ("http", "userAgent"),
}
_IDENTITY_PREFIXES = {
    "Headers": "$request.header.",
    "QueryStrings": "$request.querystring.",
    "Context": "$context.",
}


@dataclass(frozen=True)
class AuthorizerSpec:
    """One Lambda authorizer of the HttpApi.

    Attributes:
        name: Its name in ``Auth.Authorizers``.
        function: The logical ID of its function.
        identity_sources: Selection expressions (``$request.header.Authorization``), in order.
        ttl_s: ``ReauthorizeEvery``: seconds a decision is cached; 0 disables the cache.
    """

    name: str
    function: str
    identity_sources: tuple[str, ...] = ()
    ttl_s: int = 0


@dataclass(frozen=True)
class ApiAuth:
    """The ``Auth`` of one HttpApi: its authorizers and the default one."""

    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    default: str | None = None

    def route_authorizer(self, route_auth: Any, where: str) -> str | None:
        """The authorizer guarding a route.

        Args:
            route_auth: The route event's ``Auth`` property (``None`` if absent).
            where: The route, for error messages.

        Returns:
            The authorizer's name, or ``None`` for a public route.

        Raises:
            TemplateError: The route names an authorizer the API does not have, or one the
                local stack cannot run (``AWS_IAM``).
        """
        name = (route_auth or {}).get("Authorizer", self.default)
        if name is None or name == PUBLIC:
            return None
        if name not in self.authorizers:
            known = ", ".join(sorted(self.authorizers)) or "none"
            raise TemplateError(
                f"{where}: authorizer {name!r} is not in the HttpApi's Auth.Authorizers "
                f"({known}); only Lambda authorizers run locally"
            )
        return str(name)


def parse_api_auth(api: str, auth: Any, resolver: Resolver) -> ApiAuth:
    """Read the ``Auth`` property of an HttpApi.

    Args:
        api: The HttpApi's logical ID, for error messages.
        auth: Its ``Auth`` property, or ``None``.
        resolver: Resolves intrinsics in the settings.

    Returns:
        The authorizers and the default authorizer.

    Raises:
        TemplateError: An authorizer the local stack cannot run, or a bad setting.
    """
    if not auth:
        return ApiAuth()
    authorizers = {
        name: _authorizer(f"{api}.Auth.Authorizers.{name}", name, config, resolver)
        for name, config in (auth.get("Authorizers") or {}).items()
    }
    default = auth.get("DefaultAuthorizer")
    if default is not None and default not in authorizers:
        raise TemplateError(
            f"{api}.Auth.DefaultAuthorizer {default!r} is not one of Auth.Authorizers "
            f"({', '.join(sorted(authorizers)) or 'none'}); only Lambda authorizers run locally"
        )
    return ApiAuth(authorizers, default)


def _authorizer(where: str, name: str, config: Any, resolver: Resolver) -> AuthorizerSpec:
    if not isinstance(config, dict) or "JwtConfiguration" in config:
        raise TemplateError(f"{where}: only Lambda authorizers (FunctionArn) run locally")
    version = resolver.resolve_str(config.get("AuthorizerPayloadFormatVersion", ""))
    if version != SUPPORTED_PAYLOAD_VERSION:
        raise TemplateError(
            f"{where}: AuthorizerPayloadFormatVersion {version!r} is not supported locally; "
            f"use {SUPPORTED_PAYLOAD_VERSION!r}"
        )
    if resolver.resolve_str(config.get("EnableSimpleResponses", False)) != "true":
        raise TemplateError(
            f"{where}: only simple responses (EnableSimpleResponses: true) are supported locally"
        )
    identity = config.get("Identity") or {}
    sources = _identity_sources(where, identity, resolver)
    ttl_s = int(resolver.resolve_str(identity.get("ReauthorizeEvery", 0)))
    if not 0 <= ttl_s <= MAX_TTL_S:
        raise TemplateError(f"{where}: ReauthorizeEvery must be 0 to {MAX_TTL_S}, not {ttl_s}")
    if ttl_s and not sources:
        raise TemplateError(f"{where}: caching (ReauthorizeEvery > 0) needs identity sources")
    return AuthorizerSpec(name, _function_of(where, config.get("FunctionArn")), sources, ttl_s)


def _function_of(where: str, arn: Any) -> str:
    """The function a ``FunctionArn: !GetAtt <Function>.Arn`` names."""
    getatt = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
    if isinstance(getatt, list) and len(getatt) == 2 and getatt[1] == "Arn":
        return str(getatt[0])
    raise TemplateError(f"{where}: FunctionArn must be !GetAtt <Function>.Arn to run locally")


def _identity_sources(
    where: str, identity: Mapping[str, Any], resolver: Resolver
) -> tuple[str, ...]:
    if identity.get("StageVariables"):
        raise TemplateError(f"{where}: stage variables as identity sources are not supported")
    sources: list[str] = []
    for key, prefix in _IDENTITY_PREFIXES.items():
        for name in identity.get(key) or []:
            value = resolver.resolve_str(name)
            if key == "Context" and value not in CONTEXT_VARIABLES:
                raise TemplateError(
                    f"{where}: $context.{value} is not supported locally as an identity source "
                    f"(use one of {', '.join(CONTEXT_VARIABLES)})"
                )
            sources.append(prefix + value)
    return tuple(sources)
