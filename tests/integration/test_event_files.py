"""Every file in events/ drives its function as `sam local invoke -e` would: no 5xx, JSON out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiaas.auth.passwords import hash_password
from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.batch.records import BatchJob
from aiaas.domain.records import User
from aiaas.repositories.accounts import DynamoUsers
from aiaas.services import Services
from aiaas.settings import Settings
from aiaas.training.records import TrainingJob, build_spec
from aiaas_dev.cfn import load_yaml
from tests.conftest import ROOT
from tests.integration.conftest import load_function

pytestmark = pytest.mark.usefixtures("aws")


def route_functions() -> dict[str, str]:
    """``"METHOD /path"`` -> the function's CodeUri folder name, from template.yaml."""
    routes = {}
    for resource in load_yaml(ROOT / "template.yaml")["Resources"].values():
        props = resource.get("Properties", {})
        for event in (props.get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                key = f"{event['Properties']['Method']} {event['Properties']['Path']}"
                routes[key] = Path(props["CodeUri"]).name
    return routes


HTTP_EVENTS = sorted(
    p.name
    for p in (ROOT / "events").glob("*.json")
    if "routeKey" in json.loads(p.read_text()) and "type" not in json.loads(p.read_text())
)


TENANT = "tnt_0123456789abcdef"  # the authorizer context every guarded event carries
# The status each event gets once the resource it names exists (see `given`).
STATUSES = {
    "account-delete.json": 200, "auth-login.json": 200, "auth-signup.json": 201,
    "batch-cancel-job.json": 200,
    "batch-create-job.json": 201, "batch-get-job.json": 200, "batch-list-jobs.json": 200,
    "catalog-create-model.json": 201, "catalog-create-version.json": 201,
    "catalog-delete-model.json": 204, "catalog-delete-version.json": 204,
    "catalog-get-model.json": 200, "catalog-get-version.json": 200,
    "catalog-list-models.json": 200, "catalog-list-versions.json": 200,
    "catalog-update-model.json": 200, "health.json": 200, "keys-create.json": 201,
    "keys-list.json": 200, "keys-revoke.json": 204, "list-models.json": 200,
    "oip-infer-json.json": 200, "oip-model-metadata.json": 200, "oip-model-ready.json": 200,
    "oip-server-live.json": 200, "oip-server-metadata.json": 200, "oip-server-ready.json": 200,
    "oip-version-metadata.json": 200, "oip-version-ready.json": 200,
    "openai-chat.json": 200, "openai-embeddings.json": 200, "openai-transcription.json": 200,
    "predict-bad-input.json": 400,
    "predict-embedding.json": 200, "predict-image.json": 200, "predict-tabular.json": 200,
    "usage.json": 200, "training-create-job.json": 202, "training-get-job.json": 200,
    "training-list-jobs.json": 200, "training-cancel-job.json": 200,
}  # fmt: skip


def given(name: str, event: dict[str, Any]) -> None:
    """Make the resources the event names: the built-ins in the catalog, the tenant's
    ``wine-lr`` model, its key, its batch job, the user who logs in."""
    services = Services(Settings())
    services.catalog.seed_builtins(services.layer.manifests().values())  # CatalogFunction's
    owner = Principal(TENANT, "usr_0123456789abcdef", "key", "", ALL_SCOPES)
    if name.startswith("catalog-") and name != "catalog-create-model.json":
        services.catalog.create(owner, name="wine-lr", task="tabular-classification",
                                description="", visibility="private", runtime="cpu")  # fmt: skip
        services.catalog.new_version(owner, "wine-lr")
    if name == "keys-revoke.json":  # the caller's own key (tests.aws.EVENT_KEY) exists
        assert services.keys.keys.get(event["pathParameters"]["key_id"]) is not None
    if name.startswith("batch-") and "job_id" in (event.get("pathParameters") or {}):
        job_id = event["pathParameters"]["job_id"]
        services.job_store.create(BatchJob(
            id=job_id, tenant=TENANT, model="iris-rf", version=None, input_format="jsonl",
            status="UPLOADING", created_at=0, input_key=f"uploads/{job_id}.jsonl",
            output_key=f"outputs/{job_id}.jsonl"))  # fmt: skip
    if name.startswith("training-") and "job_id" in (event.get("pathParameters") or {}):
        spec = build_spec({"model": "churn", "task": "classification", "target": "churn"},
                          max_grid=500, max_runtime_s=3600)  # fmt: skip
        job_id = event["pathParameters"]["job_id"]
        services.training_store.create(TrainingJob(
            id=job_id, tenant=TENANT, spec=spec, status="PENDING_UPLOAD", created_at=0,
            input_key=f"training/uploads/{job_id}.csv"))  # fmt: skip
    if name == "auth-login.json":
        body = json.loads(event["body"])
        services.accounts.signup(body["email"], body["password"])
    if name == "account-delete.json":  # the user the event's login-token context names
        body = json.loads(event["body"])
        user = User(owner.principal_id, TENANT, body["email"], hash_password(body["password"]),
                    ALL_SCOPES, "user", created_at=0)  # fmt: skip
        DynamoUsers(services.client("dynamodb"), str(services.settings.accounts_table)).create(user)


def test_every_http_event_has_its_status() -> None:
    assert set(STATUSES) == set(HTTP_EVENTS)  # a new event file gets its status here


@pytest.mark.parametrize("name", HTTP_EVENTS)
def test_http_event_gets_its_real_status(name: str) -> None:
    event = json.loads((ROOT / "events" / name).read_text())
    given(name, event)
    function = route_functions()[event["routeKey"]]
    response = load_function(function).handler(event, None)
    assert response["statusCode"] == STATUSES[name], response
    if response.get("body"):
        json.loads(response["body"])


def test_s3_event_reaches_registration() -> None:
    event = json.loads((ROOT / "events" / "s3-model-upload.json").read_text())
    outcome = load_function("register").handler(event, None)
    key = "uploads/tnt_0123456789abcdef/wine-lr/1/model.onnx"
    assert outcome == {"outcomes": {key: "SKIPPED"}}  # no such pending version in this moto


def test_authorizer_event_is_decided() -> None:
    event = json.loads((ROOT / "events" / "authorizer-request.json").read_text())
    assert load_function("authorizer").handler(event, None) == {"isAuthorized": False}


def test_s3_batch_events_reach_the_splitter() -> None:
    load_function("catalog")  # its cold start seeds the built-ins the splitter checks
    split = load_function("batch_split").handler
    upload = json.loads((ROOT / "events" / "s3-batch-upload.json").read_text())
    key = "uploads/batch_0123456789abcdef01234567.jsonl"
    assert split(upload, None) == {"outcomes": {key: "ignored: no job expects this upload"}}
    inbox = json.loads((ROOT / "events" / "s3-batch-inbox.json").read_text())
    outcome = split(inbox, None)["outcomes"]["inbox/iris-rf/2026-11-23/flowers.csv"]
    assert "the input file is gone" in outcome  # the event names a file this moto lacks


def test_sqs_batch_event_gets_a_partial_batch_response() -> None:
    event = json.loads((ROOT / "events" / "sqs-batch-chunk.json").read_text())
    response = load_function("batch").handler(event, None)
    assert response == {"batchItemFailures": []}  # no such job: nothing to retry


def test_training_events_reach_the_training_function() -> None:
    handler = load_function("training").handler
    upload = json.loads((ROOT / "events" / "s3-training-upload.json").read_text())
    assert handler(upload, None) == {"batchItemFailures": []}  # no job waits for it: skipped
    step = json.loads((ROOT / "events" / "sqs-training-step.json").read_text())
    assert handler(step, None) == {"batchItemFailures": []}  # no such job: nothing to retry


def test_the_schedule_event_runs_the_drift_job() -> None:
    event = json.loads((ROOT / "events" / "schedule-drift.json").read_text())
    outcome = load_function("drift").handler(event, None)
    assert outcome == {"checked": 0, "reported": 0, "drifted": [], "failed": 0}
