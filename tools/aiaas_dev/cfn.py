"""CloudFormation YAML: short tags (``!Ref``, ``!Sub``, ``!GetAtt`` ...) and intrinsic values.

The loader turns every short tag into the long JSON form CloudFormation itself uses
(``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``). The
resolver turns the few intrinsics a local stack needs into plain strings, from a map of known
values (parameter defaults, pseudo parameters, local names of resources, overrides) and the
template's evaluated conditions (``Fn::If``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# Pseudo parameters as the local stack answers them (moto's default account, us-east-1).
PSEUDO_PARAMETERS: dict[str, str] = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::StackName": "aiaas-local",
    "AWS::StackId": (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/aiaas-local/"
        "00000000-0000-0000-0000-000000000000"
    ),
    "AWS::URLSuffix": "amazonaws.com",
}

_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")
NO_VALUE_NAME = "AWS::NoValue"


class _NoValue:
    """What ``!Ref AWS::NoValue`` resolves to: the property or list item is left out."""

    def __repr__(self) -> str:
        return NO_VALUE_NAME


NO_VALUE = _NoValue()


class TemplateError(Exception):
    """The template cannot be read or served locally (the message says which part and why)."""


class CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # yaml ships no type information
    """A SafeLoader that understands CloudFormation's short-form intrinsic tags."""


def _construct_intrinsic(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    """Build ``{"Fn::X": value}`` (or ``{"Ref": ...}``) from a ``!X`` tagged node."""
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = tag_suffix if tag_suffix in {"Ref", "Condition"} else f"Fn::{tag_suffix}"
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a CloudFormation/SAM YAML template.

    Args:
        path: The template file.

    Returns:
        The template as plain dicts and lists, short tags in their long form.

    Raises:
        TemplateError: The file is missing, is not YAML, or is not a mapping.
    """
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"template {path} is not a YAML mapping")
    return document


def _scalar(value: Any) -> str:
    """Render a scalar the way CloudFormation stringifies it (``true``, ``2048``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"expected a string, got {value!r}")


class Resolver:
    """Resolves intrinsic functions to strings from a map of known names.

    ``Ref`` looks a name up in ``values`` (parameters, pseudo parameters, resources);
    ``Fn::GetAtt`` looks up ``"Logical.Attribute"``; ``Fn::Sub``, ``Fn::Join``,
    ``Fn::Select`` and ``Fn::If`` (only the branch taken) are evaluated; ``!Ref
    AWS::NoValue`` leaves its property or list item out. Anything else raises `TemplateError`.
    """

    def __init__(
        self, values: Mapping[str, str], conditions: Mapping[str, bool] | None = None
    ) -> None:
        """Create a resolver.

        Args:
            values: Known values: ``Ref`` names and ``Logical.Attribute`` keys.
            conditions: The template's conditions, evaluated (`aiaas_dev.conditions`).
        """
        self.values = dict(values)
        self.conditions = dict(conditions or {})

    def with_values(self, values: Mapping[str, str]) -> Resolver:
        """A resolver that also knows ``values`` (over its own), with the same conditions."""
        return Resolver({**self.values, **values}, self.conditions)

    def condition(self, name: Any) -> bool:
        """The value of one of the template's conditions.

        Raises:
            TemplateError: The template declares no such condition.
        """
        key = _scalar(name)
        if key not in self.conditions:
            raise TemplateError(f"no condition {key!r} in the template")
        return self.conditions[key]

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value`` (dicts and lists are walked).

        Args:
            value: A template value.

        Returns:
            The value with intrinsics replaced by strings; `NO_VALUE` for ``!Ref
            AWS::NoValue`` (inside a dict or list the item is left out).

        Raises:
            TemplateError: An intrinsic is unknown or names something without a local value.
        """
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" or name.startswith("Fn::"):
                return self._intrinsic(name, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def resolve_str(self, value: Any) -> str:
        """Resolve ``value`` and render it as a string (see `resolve`)."""
        return _scalar(self.resolve(value))

    def _intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            key = _scalar(argument)
            return NO_VALUE if key == NO_VALUE_NAME else self._lookup(key)
        if name == "Fn::GetAtt":
            logical, attribute = argument if isinstance(argument, list) else (argument, "")
            return self._lookup(f"{logical}.{self.resolve_str(attribute)}")
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::If":
            condition, if_true, if_false = argument
            return self.resolve(if_true if self.condition(condition) else if_false)
        return self._list_intrinsic(name, argument)

    def _list_intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Fn::Join":
            delimiter, items = argument
            return _scalar(delimiter).join(_scalar(item) for item in self.resolve(items))
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve_str(index))]
        raise TemplateError(f"{name} is not supported by the local stack")

    def _lookup(self, key: str) -> str:
        try:
            return self.values[key]
        except KeyError:
            raise TemplateError(f"no local value for {key!r}") from None

    def _sub(self, argument: Any) -> str:
        text, variables = argument if isinstance(argument, list) else (argument, {})
        local = {key: self.resolve_str(item) for key, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in local:
                return local[key]
            return self._lookup(key)

        return _SUB_VARIABLE.sub(replace, _scalar(text))


def references(value: Any) -> set[str]:
    """The names a template value refers to: ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub`` targets.

    Args:
        value: A template value (dicts and lists are walked).

    Returns:
        Logical IDs and parameter names (``${X.Attr}`` gives ``X``; ``${!X}`` and the
        ``Fn::Sub`` variables given with it nothing).
    """
    if isinstance(value, list):
        return {name for item in value for name in references(item)}
    if not isinstance(value, dict):
        return set()
    names = {name for item in value.values() for name in references(item)}
    if isinstance(value.get("Ref"), str):
        names.add(value["Ref"])
    target = value.get("Fn::GetAtt")
    if isinstance(target, list) and target and isinstance(target[0], str):
        names.add(target[0])
    sub = value.get("Fn::Sub")
    text, local = (sub[0], sub[1]) if isinstance(sub, list) and len(sub) == 2 else (sub, {})
    if isinstance(text, str):
        found = (match.group(1) for match in _SUB_VARIABLE.finditer(text))
        keys = (key for key in found if not key.startswith("!") and key not in local)
        names.update(key.split(".", 1)[0] for key in keys)
    return names
