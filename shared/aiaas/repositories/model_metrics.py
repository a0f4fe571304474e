"""Per-model metrics records in the usage table, beside the tenant's usage meters.

| item | pk | sk |
|---|---|---|
| a version's hour | ``TENANT#<tenant>`` | ``MODELMETRICS#<model>#<yyyy-mm-ddThh>#V#<v>`` |

One UpdateItem per request ADDs to it (``requests``, ``rows``, ``status:<code>``,
``latency:<bucket>``, ``class:<label>``, ``length:<bucket>``, sums), so concurrent requests
never lose a count; the tenant's partition is already what account deletion erases. Records
expire after 400 days, as the usage meters do.
"""

from __future__ import annotations

import time
from typing import Any

from aiaas.domain.model_metrics import Observation, latency_bucket, length_bucket
from aiaas.repositories.dynamo import aws_errors, query_all

TTL_S = 400 * 86_400


def _key(tenant: str, model: str, hour: str, version: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"TENANT#{tenant}"},
        "sk": {"S": f"MODELMETRICS#{model}#{hour}#V#{version}"},
    }


class DynamoModelMetrics:
    """`MetricsStore` on the usage table."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def add(self, observation: Observation) -> None:
        """Add one request to its hour's record."""
        o = observation
        adds: dict[str, float] = {
            "requests": 1,
            "rows": o.rows,
            f"status:{o.status}": 1,
            f"latency:{latency_bucket(o.latency_ms)}": 1,
        }
        for label, count in o.classes.items():
            adds[f"class:{label}"] = count
        for bucket, count in o.lengths.items():
            adds[f"length:{bucket}"] = count
        if o.top_score_sum:
            adds["top_score_sum"] = o.top_score_sum
        if o.value_sum or o.value_squares:
            adds["value_sum"], adds["value_squares"] = o.value_sum, o.value_squares
        names = {f"#a{i}": name for i, name in enumerate(adds)}
        values: dict[str, Any] = {f":a{i}": {"N": f"{v:.9f}" if isinstance(v, float) else str(v)}
                                  for i, v in enumerate(adds.values())}  # fmt: skip
        names |= {"#m": "model", "#v": "version", "#h": "hour"}
        values |= {
            ":m": {"S": o.model},
            ":v": {"S": o.version},
            ":h": {"S": o.hour},
            ":ttl": {"N": str(int(time.time()) + TTL_S)},
        }
        update = "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(adds)))
        update += " SET #m = :m, #v = :v, #h = :h, expires_at = :ttl"
        with aws_errors("recording model metrics"):
            self.client.update_item(
                TableName=self.table,
                Key=_key(o.tenant, o.model, o.hour, o.version),
                UpdateExpression=update,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def hours(self, tenant: str, model: str, start: str, end: str) -> list[dict[str, Any]]:
        """The model's records of hours ``start``..``end`` (``yyyy-mm-ddThh``) inclusive."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"TENANT#{tenant}"},
                ":lo": {"S": f"MODELMETRICS#{model}#{start}"},
                ":hi": {"S": f"MODELMETRICS#{model}#{end}#~"},
            },
        }
        records = []
        for item in query_all(self.client, "reading model metrics", params):
            record: dict[str, Any] = {}
            for name, typed in item.items():
                ((kind, raw),) = typed.items()
                record[name] = (
                    float(raw) if kind == "N" and "." in raw else (int(raw) if kind == "N" else raw)
                )
            records.append(record)
        return records


__all__ = ["DynamoModelMetrics", "length_bucket"]
