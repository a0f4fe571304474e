"""CloudFormation YAML: short tags (``!Ref``, ``!Sub``, ``!GetAtt`` ...) and intrinsic values.

The loader turns every short tag into the long JSON form CloudFormation itself uses
(``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``). The
resolver turns the few intrinsics a local stack needs into plain strings, from a map of known
values (parameter defaults, pseudo parameters, local names of resources, overrides).
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
    ``Fn::GetAtt`` looks up ``"Logical.Attribute"``; ``Fn::Sub``, ``Fn::Join`` and
    ``Fn::Select`` are evaluated. Anything else raises `TemplateError`.
    """

    def __init__(self, values: Mapping[str, str]) -> None:
        """Create a resolver.

        Args:
            values: Known values: ``Ref`` names and ``Logical.Attribute`` keys.
        """
        self.values = dict(values)

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value`` (dicts and lists are walked).

        Args:
            value: A template value.

        Returns:
            The value with intrinsics replaced by strings.

        Raises:
            TemplateError: An intrinsic is unknown or names something without a local value.
        """
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" or name.startswith("Fn::"):
                return self._intrinsic(name, argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def resolve_str(self, value: Any) -> str:
        """Resolve ``value`` and render it as a string (see `resolve`)."""
        return _scalar(self.resolve(value))

    def _intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self._lookup(_scalar(argument))
        if name == "Fn::GetAtt":
            logical, attribute = argument if isinstance(argument, list) else (argument, "")
            return self._lookup(f"{logical}.{self.resolve_str(attribute)}")
        if name == "Fn::Sub":
            return self._sub(argument)
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
