"""Quota counters and usage meters in one DynamoDB table, updated in one transaction.

Key design (UsageTable):

| item | pk | sk | attributes |
|---|---|---|---|
| quota counter | ``METER#<key id or user:<id>>`` | ``DAY#<yyyy-mm-dd>`` | requests, expires_at |
| usage meter | ``TENANT#<tenant>`` | ``DAY#<day>#KEY#<meter>#MODEL#<model>`` | requests, day, ... |

A request adds 1 to both (and sets the API key's ``last_used_at`` in the accounts table) in
one TransactWriteItems: the counter's condition
(``requests < limit``) makes the quota exact under concurrency, and a refused request is
metered nowhere. Usage for a date range is one Query on the tenant's partition. Counters
expire after 2 days and meters after 400 (DynamoDB TTL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiaas.aws.lite import error_code
from aiaas.domain.records import UsageRow
from aiaas.errors import QuotaExceeded, Unauthorized
from aiaas.repositories.dynamo import aws_errors, delete_items, from_item, partition, query_all

DAY = 86_400
COUNTER_TTL = 2 * DAY
METER_TTL = 400 * DAY


class DynamoUsage:
    """UsageStore on DynamoDB."""

    def __init__(self, client: Any, table: str, keys_table: str = "") -> None:
        self.client = client
        self.table = table
        self.keys_table = keys_table  # where API keys' ``last_used_at`` is kept

    def consume(
        self, *, tenant: str, meter_id: str, model: str, day: str, limit: int, now: int,
        retry_after: int,
    ) -> None:  # fmt: skip
        """Count one request for the meter's day quota and the tenant's usage, atomically.

        Raises:
            QuotaExceeded: The meter already made ``limit`` requests today.
        """
        counter = {
            "TableName": self.table,
            "Key": {"pk": {"S": f"METER#{meter_id}"}, "sk": {"S": f"DAY#{day}"}},
            "UpdateExpression": "ADD requests :one SET expires_at = :counter_ttl",
            "ConditionExpression": "attribute_not_exists(requests) OR requests < :limit",
        }
        meter = {
            "TableName": self.table,
            "Key": {
                "pk": {"S": f"TENANT#{tenant}"},
                "sk": {"S": f"DAY#{day}#KEY#{meter_id}#MODEL#{model}"},
            },
            "UpdateExpression": "ADD requests :one "
            "SET #day = :day, key_id = :meter, model = :model, expires_at = :meter_ttl",
            "ExpressionAttributeNames": {"#day": "day"},
        }
        values = {
            ":one": {"N": "1"},
            ":limit": {"N": str(limit)},
            ":counter_ttl": {"N": str(now + COUNTER_TTL)},
            ":meter_ttl": {"N": str(now + METER_TTL)},
            ":day": {"S": day},
            ":meter": {"S": meter_id},
            ":model": {"S": model},
        }
        counter["ExpressionAttributeValues"] = _used(values, counter)
        meter["ExpressionAttributeValues"] = _used(values, meter)
        items = [{"Update": counter}, {"Update": meter}]
        if self.keys_table and not meter_id.startswith("user:"):
            items.append({"Update": _last_used(self.keys_table, meter_id, now)})
        try:
            with aws_errors("metering the request", "TransactionCanceledException"):
                self.client.transact_write_items(TransactItems=items)
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            if _refused_by(exc, 2):
                raise Unauthorized("this API key no longer exists") from exc
            if not _refused_by(exc, 0):
                raise
            raise QuotaExceeded(
                f"daily quota of {limit} requests reached for this credential",
                retry_after=retry_after,
            ) from exc

    def record(
        self, *, tenant: str, meter_id: str, model: str, day: str, count: int, now: int
    ) -> None:
        """Add ``count`` to the tenant's usage meter (no quota counter: batch rows)."""
        self._add(tenant, meter_id, model, day, counts={"requests": count}, now=now)

    def add_units(
        self, *, tenant: str, meter_id: str, model: str, day: str, units: Mapping[str, int],
        now: int,
    ) -> None:  # fmt: skip
        """Add each unit (``prompt_tokens``...) to the tenant's usage meter."""
        counts = {f"unit_{name}": count for name, count in units.items() if count}
        if counts:
            self._add(tenant, meter_id, model, day, counts=counts, now=now)

    def _add(
        self, tenant: str, meter_id: str, model: str, day: str, *, counts: dict[str, int],
        now: int,
    ) -> None:  # fmt: skip
        names = sorted(counts)
        adds = ", ".join(f"#c{i} :c{i}" for i in range(len(names)))
        with aws_errors("recording usage"):
            self.client.update_item(
                TableName=self.table,
                Key={
                    "pk": {"S": f"TENANT#{tenant}"},
                    "sk": {"S": f"DAY#{day}#KEY#{meter_id}#MODEL#{model}"},
                },
                UpdateExpression=f"ADD {adds} "
                "SET #day = :day, key_id = :meter, model = :model, expires_at = :ttl",
                ExpressionAttributeNames={
                    "#day": "day",
                    **{f"#c{i}": name for i, name in enumerate(names)},
                },
                ExpressionAttributeValues={
                    **{f":c{i}": {"N": str(int(counts[n]))} for i, n in enumerate(names)},
                    ":day": {"S": day},
                    ":meter": {"S": meter_id},
                    ":model": {"S": model},
                    ":ttl": {"N": str(now + METER_TTL)},
                },
            )

    def erase(self, tenant: str, meters: list[str]) -> int:
        """Delete the tenant's usage meters and the quota counters of ``meters`` (its keys and
        users). Needs a client with BatchWriteItem (boto3). Returns rows deleted."""
        keys = partition(self.client, self.table, f"TENANT#{tenant}", "listing usage")
        for meter in meters:
            keys += partition(self.client, self.table, f"METER#{meter}", "listing quota counters")
        return delete_items(self.client, self.table, keys, "deleting usage")

    def query(self, tenant: str, start: str, end: str) -> list[UsageRow]:
        """The tenant's meters for days ``start``..``end`` inclusive."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"TENANT#{tenant}"},
                ":lo": {"S": f"DAY#{start}"},
                ":hi": {"S": f"DAY#{end}#~"},
            },
        }
        rows = [from_item(item) for item in query_all(self.client, "reading usage", params)]
        return [
            UsageRow(
                v["day"],
                v["key_id"],
                v["model"],
                int(v.get("requests", 0)),
                {k[5:]: int(n) for k, n in v.items() if k.startswith("unit_")},
            )
            for v in rows
        ]


def _last_used(table: str, key_id: str, now: int) -> dict[str, Any]:
    return {
        "TableName": table,
        "Key": {"pk": {"S": f"KEY#{key_id}"}, "sk": {"S": "KEY"}},
        "UpdateExpression": "SET last_used_at = :now",
        # a key deleted with its account (within the authorizer's cache TTL) is not recreated
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": {":now": {"N": str(now)}},
    }


def _used(values: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The expression values an update refers to (DynamoDB rejects unused ones)."""
    text = update["UpdateExpression"] + update.get("ConditionExpression", "")
    return {name: value for name, value in values.items() if name in text}


def _refused_by(exc: BaseException, index: int) -> bool:
    """Whether the transaction's item ``index`` failed its condition (0: the quota counter,
    2: the key's last use)."""
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    return len(reasons) > index and reasons[index].get("Code") == "ConditionalCheckFailed"
