"""aiaas.web.compat: FastAPI's pydantic.v1 probe no longer imports pydantic.v1 (cold start),
and still refuses a v1 model once pydantic.v1 is imported; emails get a syntax check."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from aiaas.web.routes.auth import Credentials

DECLARE_ROUTES = """
import sys
import aiaas.web.routes.infer, aiaas.web.routes.predict, aiaas.web.routes.openai
print("pydantic.v1" in sys.modules, "email_validator" in sys.modules)
"""

V1_REFUSED = """
import aiaas.web  # the probe is patched
import warnings
warnings.simplefilter("ignore")
from pydantic import v1
from fastapi import FastAPI
from fastapi.exceptions import PydanticV1NotSupportedError

class Old(v1.BaseModel):
    x: int

app = FastAPI()
try:
    @app.get("/old", response_model=Old)
    def old() -> Old: ...
except PydanticV1NotSupportedError:
    print("refused")
"""


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_declaring_the_prediction_routes_imports_neither_pydantic_v1_nor_email_validator() -> None:
    assert run(DECLARE_ROUTES) == "False False"


def test_a_pydantic_v1_model_is_still_refused_once_v1_is_imported() -> None:
    assert run(V1_REFUSED) == "refused"


@pytest.mark.parametrize(
    "email", ["ada@example.com", "Ada.Lovelace+tag@Example.co.uk", "ü@bücher.de", " a@b.io "]
)
def test_plausible_emails_pass(email: str) -> None:
    assert Credentials(email=email, password="p" * 12).email == email.strip()


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "a@b", "@example.com", "a b@example.com", "a@-b.com", "a@b..com",
     "a@b.com\u202e", "a\x00@b.com", "x" * 65 + "@b.com", "a@@b.com"],
)  # fmt: skip
def test_malformed_emails_are_refused(email: str) -> None:
    with pytest.raises(ValidationError, match="valid email"):
        Credentials(email=email, password="p" * 12)
