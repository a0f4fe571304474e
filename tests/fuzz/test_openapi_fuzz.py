"""A bounded, seeded schemathesis run over every app's OpenAPI document (issue #19): no 5xx,
every response a JSON body in its document's shape, every status one the document lists.

Each app runs on moto as its function does, behind a shim that puts an authorizer context
(a caller with every scope) in the request, as API Gateway would after the authorizer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks

from aiaas.services import (
    Services,
    auth_services,
    catalog_services,
    chat_services,
    jobs_services,
    predict_services,
)
from aiaas.settings import Settings
from aiaas.web.apps import (
    create_auth_app,
    create_catalog_app,
    create_chat_app,
    create_jobs_app,
    create_predict_app,
)
from tests.aws import create_resources
from tests.integration.conftest import CALLER

# No 5xx, and every response as documented: status, content type, body. (Schema-valid
# requests may still be refused: a model's own limits, token ids of its vocabulary, its
# dimensions, are not in a generic document.)
CHECKS = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
EXAMPLES = 12  # per operation: ~400 cases over the five apps, a couple of minutes
Factory = Callable[[Services], Any]
APPS: dict[str, tuple[Callable[[Settings], Services], Factory]] = {
    "predict": (predict_services, create_predict_app),
    "chat": (chat_services, create_chat_app),
    "auth": (auth_services, create_auth_app),
    "catalog": (catalog_services, create_catalog_app),
    "jobs": (jobs_services, create_jobs_app),
}


class Authorized:
    """ASGI shim: the event API Gateway would pass, with the authorizer's context."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "aws.event": {"requestContext": {"authorizer": {"lambda": CALLER}},
                                           "pathParameters": {}}}  # fmt: skip
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def environment(moto_endpoint: str, models_dir: Path) -> Iterator[None]:
    urlopen(Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=5).read()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                           "AIAAS_MODELS_DIR": str(models_dir),
                           "AIAAS_LOG_LEVEL": "WARNING"}.items():  # fmt: skip
            patch.setenv(key, value)
        res = create_resources(moto_endpoint)
        for key, value in {"AIAAS_ACCOUNTS_TABLE": res.accounts_table,
                           "AIAAS_USAGE_TABLE": res.usage_table,
                           "AIAAS_JWT_SECRET_ARN": res.jwt_secret_arn,
                           "AIAAS_MODELS_TABLE": res.models_table,
                           "AIAAS_WEIGHTS_BUCKET": res.weights_bucket,
                           "AIAAS_JOBS_TABLE": res.jobs_table,
                           "AIAAS_BATCH_BUCKET": res.batch_bucket}.items():  # fmt: skip
            patch.setenv(key, value)
        yield


def app_schema(name: str) -> Any:
    build, create = APPS[name]
    app = create(build(Settings()))
    return schemathesis.openapi.from_asgi("/openapi.json", Authorized(app))


def fuzz(schema: Any) -> list[str]:
    """Every operation's generated cases, called and validated; the failures, by operation."""
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    return failures


@pytest.mark.parametrize("name", sorted(APPS))
def test_every_app_survives_its_own_document(environment: None, name: str) -> None:
    failures = fuzz(app_schema(name))
    assert not failures, "\n\n".join(failures)
