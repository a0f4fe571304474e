"""The template's ``Conditions``: evaluated once from the parameters, as CloudFormation does.

A resource whose ``Condition`` is false does not exist: it is dropped from the document
before anything else reads it (no local value, not created, no warning). ``Fn::If`` in the
resources that remain is resolved by `aiaas_dev.cfn.Resolver` with these values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiaas_dev.cfn import Resolver, TemplateError

logger = logging.getLogger(__name__)


def evaluate_conditions(document: Mapping[str, Any], resolver: Resolver) -> dict[str, bool]:
    """Evaluate every condition the template declares.

    Args:
        document: The template.
        resolver: Knows the parameters and pseudo parameters (what conditions may use).

    Returns:
        ``{condition name: value}``.

    Raises:
        TemplateError: A condition uses something other than ``Fn::Equals``, ``Fn::Not``,
            ``Fn::And``, ``Fn::Or`` and ``Condition``, names an unknown condition or
            depends on itself.
    """
    declared: Mapping[str, Any] = document.get("Conditions") or {}
    results: dict[str, bool] = {}

    def named(name: str, chain: tuple[str, ...] = ()) -> bool:
        if name in results:
            return results[name]
        if name not in declared:
            raise TemplateError(f"no condition {name!r} in the template")
        if name in chain:
            raise TemplateError(f"condition {name} depends on itself")
        try:
            value = _evaluate(declared[name], lambda other: named(other, (*chain, name)), resolver)
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"condition {name}: {exc}") from exc
        results[name] = value
        return value

    for name in declared:
        named(name)
    return results


def _evaluate(expression: Any, named: Callable[[str], bool], resolver: Resolver) -> bool:
    """Evaluate ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or`` or ``Condition``."""
    if not isinstance(expression, dict) or len(expression) != 1:
        raise TemplateError(f"not a condition function: {expression!r}")
    ((function, argument),) = expression.items()
    if function == "Condition":
        return named(str(argument))
    if function == "Fn::Equals":
        first, second = argument
        return resolver.resolve_str(first) == resolver.resolve_str(second)
    if function == "Fn::Not":
        (inner,) = argument
        return not _evaluate(inner, named, resolver)
    if function in {"Fn::And", "Fn::Or"}:
        values = [_evaluate(inner, named, resolver) for inner in argument]
        return all(values) if function == "Fn::And" else any(values)
    raise TemplateError(f"{function} is not supported in a condition")


def without_false_resources(
    document: Mapping[str, Any], conditions: Mapping[str, bool]
) -> dict[str, Any]:
    """The template without the resources whose ``Condition`` is false.

    Args:
        document: The template.
        conditions: The evaluated conditions (`evaluate_conditions`).

    Returns:
        A shallow copy of the template with a new ``Resources`` mapping.

    Raises:
        TemplateError: A resource names a condition the template does not declare.
    """
    resources: dict[str, Any] = {}
    for logical_id, resource in (document.get("Resources") or {}).items():
        name = resource.get("Condition") if isinstance(resource, dict) else None
        if name is None:
            resources[logical_id] = resource
        elif name not in conditions:
            raise TemplateError(f"{logical_id}: no condition {name!r} in the template")
        elif conditions[name]:
            resources[logical_id] = resource
        else:
            logger.info("left out: %s (condition %s is false)", logical_id, name)
    return {**document, "Resources": resources}
