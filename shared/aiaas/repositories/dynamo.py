"""DynamoDB attribute-value marshalling for the few types we store, and error translation."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aiaas.aws.lite import error_code
from aiaas.errors import Unavailable

Item = dict[str, dict[str, Any]]
CONDITION_FAILED = "ConditionalCheckFailedException"


def to_item(values: Mapping[str, Any]) -> Item:
    """Python values (str, int, bool, list of str) to DynamoDB's typed form; None is skipped."""
    item: Item = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            item[name] = {"BOOL": value}
        elif isinstance(value, int):
            item[name] = {"N": str(value)}
        elif isinstance(value, str):
            item[name] = {"S": value}
        elif isinstance(value, list | tuple | set | frozenset):
            item[name] = {"L": [{"S": str(v)} for v in sorted(value)]}
        else:
            raise TypeError(f"cannot store {name}={value!r}")
    return item


def from_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """DynamoDB's typed form back to Python values."""
    values: dict[str, Any] = {}
    for name, typed in item.items():
        ((kind, raw),) = typed.items()
        if kind == "N":
            values[name] = int(raw)
        elif kind == "L":
            values[name] = [next(iter(v.values())) for v in raw]
        elif kind == "NULL":
            values[name] = None
        else:
            values[name] = raw
    return values


@contextmanager
def aws_errors(what: str, *passthrough: str) -> Iterator[None]:
    """Turn unexpected AWS errors into Unavailable; codes in ``passthrough`` re-raise as is."""
    try:
        yield
    except Exception as exc:
        code = error_code(exc)
        if code is None or code in passthrough:
            raise
        raise Unavailable(f"{what} failed ({code})") from exc


def conditional(what: str, write: Callable[[], Any]) -> bool:
    """Run a conditional write; False (not an error) when its condition does not hold."""
    try:
        with aws_errors(what, CONDITION_FAILED):
            write()
    except Exception as exc:
        if error_code(exc) != CONDITION_FAILED:
            raise
        return False
    return True


def query_all(client: Any, what: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a Query, following ``LastEvaluatedKey`` pages."""
    items: list[dict[str, Any]] = []
    params = dict(params)
    while True:
        with aws_errors(what):
            page = client.query(**params)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


BATCH_WRITE_MAX = 25  # BatchWriteItem's limit per call


def delete_items(client: Any, table: str, keys: list[Item], what: str, attempts: int = 8) -> int:
    """Delete items by key in BatchWriteItem calls, retrying what DynamoDB leaves unprocessed
    (throttling) with backoff; Unavailable if some are still left after ``attempts``."""
    for start in range(0, len(keys), BATCH_WRITE_MAX):
        pending: list[dict[str, Any]] = [
            {"DeleteRequest": {"Key": key}} for key in keys[start : start + BATCH_WRITE_MAX]
        ]
        for attempt in range(attempts):
            with aws_errors(what):
                answer = client.batch_write_item(RequestItems={table: pending})
            pending = answer.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            time.sleep(min(2.0, 0.05 * 2**attempt))
        else:
            raise Unavailable(f"{what} failed: {len(pending)} items left unprocessed")
    return len(keys)


def primary_key(item: Item) -> Item:
    """An item's ``pk`` and ``sk`` (every table here has that key schema)."""
    return {"pk": item["pk"], "sk": item["sk"]}


def partition(client: Any, table: str, pk: str, what: str) -> list[Item]:
    """The keys of every item in one partition."""
    params: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ProjectionExpression": "pk, sk",
    }
    return [primary_key(item) for item in query_all(client, what, params)]


def index_page(
    client: Any, table: str, gsi_pk: str, *, limit: int, after: str | None, what: str
) -> tuple[list[Item], str | None]:
    """One page of an index partition (``gsi1pk = gsi_pk``), newest first, and the opaque
    cursor of the next; ValueError for a cursor that is not one of this partition's."""
    params: dict[str, Any] = {
        "TableName": table,
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :t",
        "ExpressionAttributeValues": {":t": {"S": gsi_pk}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if after:
        start = json.loads(base64.urlsafe_b64decode(after))
        if not isinstance(start, dict) or start.get("gsi1pk") != {"S": gsi_pk}:
            raise ValueError("not a cursor of this listing")
        params["ExclusiveStartKey"] = start
    with aws_errors(what):
        answer = client.query(**params)
    last = answer.get("LastEvaluatedKey")
    cursor = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
    return list(answer.get("Items", [])), cursor


def index_all(client: Any, table: str, gsi_pk: str, what: str) -> list[Item]:
    """Every item of an index partition, every page."""
    params: dict[str, Any] = {
        "TableName": table,
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :t",
        "ExpressionAttributeValues": {":t": {"S": gsi_pk}},
    }
    return query_all(client, what, params)


def index_keys(gsi_pk: str, created_at: int, item_id: str) -> Item:
    """The ``gsi1`` attributes that list an item in its partition, newest first."""
    return {"gsi1pk": {"S": gsi_pk}, "gsi1sk": {"S": f"{created_at:010d}#{item_id}"}}


def put_new(client: Any, table: str, item: Item, what: str) -> bool:
    """Store an item whose ``pk`` is not taken yet; False (no error) if it is."""
    return conditional(
        what,
        lambda: client.put_item(
            TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)"
        ),
    )
