"""Names, key names and descriptions refuse NUL, control and bidi-override characters."""

from __future__ import annotations

import pytest

from aiaas.errors import InvalidInput
from aiaas.web.body import parse_as
from aiaas.web.routes.keys import NewKeyRequest
from aiaas.web.schemas.catalog import NewModel

MODEL = {"name": "wine-lr", "task": "tabular-classification"}


@pytest.mark.parametrize("text", ["invoice\u202egnp.exe", "a\x00b", "bell\x07", "esc\x1b[31m"])
def test_unsafe_characters_are_refused_with_the_field_named(text: str) -> None:
    with pytest.raises(InvalidInput, match="control or bidi-override") as caught:
        parse_as(NewModel, {**MODEL, "description": text})
    assert caught.value.param == "description"
    with pytest.raises(InvalidInput, match="control or bidi-override"):
        parse_as(NewKeyRequest, {"name": text, "scopes": ["predict"]})
    with pytest.raises(InvalidInput, match="control or bidi-override"):
        parse_as(NewModel, {**MODEL, "labels": ["ok", text]})


def test_ordinary_text_line_breaks_in_descriptions_and_other_scripts_pass() -> None:
    model = parse_as(NewModel, {**MODEL, "description": "Wine\tclassifier\nvins, 葡萄酒 🍷"})
    assert model.description.endswith("🍷")
    assert parse_as(NewKeyRequest, {"name": "ключ 1", "scopes": ["predict"]}).name == "ключ 1"
    with pytest.raises(InvalidInput):
        parse_as(NewKeyRequest, {"name": "line\nbreak", "scopes": ["predict"]})
