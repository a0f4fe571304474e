"""The model catalog in DynamoDB (ModelsTable).

Key design:

| item | pk | sk | gsi1pk | gsi1sk |
|---|---|---|---|---|
| model | ``MODEL#<tenant>#<name>`` | ``META`` | ``OWNER#<tenant>``/``PUBLIC`` | ``MODEL#<name>`` |
| version | ``MODEL#<tenant>#<name>`` | ``V#<000001>`` | | |

Names live in their tenant's namespace (one tenant's names reveal nothing to another); public
models are listed through gsi1's ``PUBLIC`` partition. A version's status is its own attribute
so that ``PENDING_UPLOAD -> VALIDATING`` is one conditional update: a replayed S3 event finds
the version no longer pending and changes nothing. The rest of a record is a JSON document.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aiaas.aws.lite import error_code
from aiaas.domain.catalog_records import CatalogModel, ModelVersion
from aiaas.errors import Conflict
from aiaas.repositories.dynamo import (
    CONDITION_FAILED,
    aws_errors,
    conditional,
    delete_items,
    partition,
    query_all,
)


def _pk(tenant: str, name: str) -> dict[str, Any]:
    return {"S": f"MODEL#{tenant}#{name}"}


class DynamoCatalog:
    """CatalogStore on DynamoDB."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def _model_item(self, model: CatalogModel) -> dict[str, Any]:
        owner = "PUBLIC" if model.visibility == "public" else f"OWNER#{model.tenant}"
        return {
            "pk": _pk(model.tenant, model.name),
            "sk": {"S": "META"},
            "gsi1pk": {"S": owner},
            "gsi1sk": {"S": f"MODEL#{model.name}"},
            "doc": {"S": json.dumps(asdict(model))},
        }

    def create_model(self, model: CatalogModel) -> None:
        """Conditional put: Conflict if the tenant has the name already."""
        try:
            with aws_errors("storing the model", CONDITION_FAILED):
                self.client.put_item(
                    TableName=self.table,
                    Item=self._model_item(model),
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except Exception as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            raise Conflict(f"model {model.name!r} already exists", param="name") from exc

    def save_model(self, model: CatalogModel) -> None:
        """Rewrite the model's own attributes; its version counter (``next_version``) stays."""
        item = self._model_item(model)
        with aws_errors("updating the model"):
            self.client.update_item(
                TableName=self.table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET gsi1pk = :o, gsi1sk = :n, doc = :d",
                ExpressionAttributeValues={
                    ":o": item["gsi1pk"],
                    ":n": item["gsi1sk"],
                    ":d": item["doc"],
                },
            )

    def get_model(self, tenant: str, name: str) -> CatalogModel | None:
        """One model of a tenant's namespace."""
        with aws_errors("reading the model"):
            answer = self.client.get_item(
                TableName=self.table,
                ConsistentRead=True,
                Key={"pk": _pk(tenant, name), "sk": {"S": "META"}},
            )
        item = answer.get("Item")
        return CatalogModel(**json.loads(item["doc"]["S"])) if item else None

    def public_models(self) -> list[CatalogModel]:
        """Every public model."""
        return self._by_owner("PUBLIC")

    def tenant_models(self, tenant: str) -> list[CatalogModel]:
        """The tenant's private models (its public ones are in ``public_models``)."""
        return self._by_owner(f"OWNER#{tenant}")

    def erase_tenant(self, tenant: str) -> tuple[int, int]:
        """Delete the tenant's private models with all their versions, deleted ones included
        (its public models stay: other tenants use them). Returns (models, versions)."""
        models = versions = 0
        for model in self.tenant_models(tenant):
            pk = _pk(tenant, model.name)["S"]
            keys = partition(self.client, self.table, pk, "listing a model")
            delete_items(self.client, self.table, keys, "deleting a model")
            models += 1
            versions += sum(1 for key in keys if key["sk"]["S"].startswith("V#"))
        return models, versions

    def _by_owner(self, owner: str) -> list[CatalogModel]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :o",
            "ExpressionAttributeValues": {":o": {"S": owner}},
        }
        return [CatalogModel(**json.loads(i["doc"]["S"])) for i in self._query(params)]

    def _query(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return query_all(self.client, "querying the catalog", params)

    def next_version(self, tenant: str, name: str) -> int:
        """Atomic counter on the model item."""
        with aws_errors("allocating a version"):
            answer = self.client.update_item(
                TableName=self.table,
                Key={"pk": _pk(tenant, name), "sk": {"S": "META"}},
                UpdateExpression="ADD next_version :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            )
        return int(answer["Attributes"]["next_version"]["N"])

    def put_version(self, version: ModelVersion) -> None:
        """Store or overwrite a version's record (an update: the upload bookkeeping that
        `start_validation` and `count_ignored_upload` keep beside it stays)."""
        doc = asdict(version)
        status, reason = doc.pop("status"), doc.pop("reason")
        for kept in ("upload_etag", "ignored_uploads"):
            doc.pop(kept)
        values = {":s": {"S": status}, ":r": {"S": reason}, ":d": {"S": json.dumps(doc)}}
        update = "SET #s = :s, reason = :r, doc = :d"
        if version.capture and not version.deleted:  # sparse: what the drift job scans for
            values[":c"] = {"S": "1"}
            update += ", capturing = :c"
        else:
            update += " REMOVE capturing"
        with aws_errors("storing the version"):
            self.client.update_item(
                TableName=self.table,
                Key={
                    "pk": _pk(version.tenant, version.name),
                    "sk": {"S": f"V#{version.version:06d}"},
                },
                UpdateExpression=update,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )

    def count_ignored_upload(self, tenant: str, name: str, version: int) -> None:
        """One more upload arrived for a version that had taken its one."""
        with aws_errors("counting an ignored upload"):
            self.client.update_item(
                TableName=self.table,
                Key={"pk": _pk(tenant, name), "sk": {"S": f"V#{version:06d}"}},
                UpdateExpression="ADD ignored_uploads :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    def get_version(self, tenant: str, name: str, version: int) -> ModelVersion | None:
        """One version."""
        key = {"pk": _pk(tenant, name), "sk": {"S": f"V#{version:06d}"}}
        with aws_errors("reading the version"):
            item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get(
                "Item"
            )
        return _version(item) if item else None

    def versions(self, tenant: str, name: str) -> list[ModelVersion]:
        """All versions, oldest first."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :v)",
            "ExpressionAttributeValues": {":pk": _pk(tenant, name), ":v": {"S": "V#"}},
        }
        return [_version(item) for item in self._query(params)]

    def captured_versions(self) -> list[ModelVersion]:
        """Every version, of any tenant, whose data capture is on (a filtered scan of the
        table: the drift job's hourly list)."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "attribute_exists(capturing)",
        }
        while True:
            with aws_errors("listing captured versions"):
                page = self.client.scan(**params)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [_version(item) for item in items]

    def start_validation(self, tenant: str, name: str, version: int, etag: str = "") -> bool:
        """The idempotency gate of registration; records which upload (ETag) won it."""
        return conditional(
            "starting validation",
            lambda: self.client.update_item(
                TableName=self.table,
                Key={"pk": _pk(tenant, name), "sk": {"S": f"V#{version:06d}"}},
                UpdateExpression="SET #s = :validating, upload_etag = :etag",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":validating": {"S": "VALIDATING"},
                    ":pending": {"S": "PENDING_UPLOAD"},
                    ":etag": {"S": etag},
                },
            ),
        )


def _version(item: dict[str, Any]) -> ModelVersion:
    doc = json.loads(item["doc"]["S"])
    doc.pop("upload_etag", None)
    doc.pop("ignored_uploads", None)
    return ModelVersion(
        **doc,
        status=item["status"]["S"],
        reason=item["reason"]["S"],
        upload_etag=item.get("upload_etag", {}).get("S", ""),
        ignored_uploads=int(item.get("ignored_uploads", {}).get("N", "0")),
    )
