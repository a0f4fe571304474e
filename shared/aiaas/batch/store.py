"""Batch jobs in DynamoDB (JobsTable).

| item | pk | sk | gsi1pk | gsi1sk |
|---|---|---|---|---|
| job | ``JOB#<id>`` | ``META`` | ``TENANT#<tenant>`` | ``<created, 10 digits>#<id>`` |
| chunk recorded | ``JOB#<id>`` | ``CHUNK#<000001>`` | | |

A chunk's record and the job's counters change in one transaction whose condition is that
the chunk was not recorded yet: a duplicate SQS delivery of a chunk changes nothing, and the
counters stay exact under concurrent chunks. Status changes are conditional updates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiaas.aws.lite import error_code
from aiaas.batch.records import BatchJob
from aiaas.repositories.dynamo import (
    aws_errors,
    conditional,
    delete_items,
    from_item,
    index_all,
    index_keys,
    index_page,
    partition,
    put_new,
    to_item,
)

CANCELLED_TX = "TransactionCanceledException"


def _key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "META"}}


def _job(item: dict[str, Any]) -> BatchJob:
    values = from_item(item)
    values.setdefault("version", None)
    fields = set(BatchJob.__dataclass_fields__)
    return BatchJob(**{k: v for k, v in values.items() if k in fields})


class DynamoJobs:
    """Jobs and chunk records of one table."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def create(self, job: BatchJob) -> bool:
        """Store a new job; False if a job with its id exists (a replayed inbox event)."""
        item = {
            **_key(job.id),
            **to_item(job.to_dict()),
            **index_keys(f"TENANT#{job.tenant}", job.created_at, job.id),
        }
        return put_new(self.client, self.table, item, "storing the job")

    def get(self, job_id: str) -> BatchJob | None:
        """One job, read consistently."""
        with aws_errors("reading the job"):
            item = self.client.get_item(
                TableName=self.table, Key=_key(job_id), ConsistentRead=True
            ).get("Item")
        return _job(item) if item else None

    def page(self, tenant: str, limit: int, after: str | None) -> tuple[list[BatchJob], str | None]:
        """A tenant's jobs, newest first, and the cursor of the next page."""
        items, cursor = index_page(
            self.client, self.table, f"TENANT#{tenant}", limit=limit, after=after,
            what="listing jobs",
        )  # fmt: skip
        return [_job(item) for item in items], cursor

    def all_for_tenant(self, tenant: str) -> list[BatchJob]:
        """Every job of the tenant, every page."""
        items = index_all(self.client, self.table, f"TENANT#{tenant}", "listing jobs")
        return [_job(item) for item in items]

    def delete(self, job_id: str) -> int:
        """Delete a job and its chunk records; how many items that was."""
        keys = partition(self.client, self.table, f"JOB#{job_id}", "listing a job's records")
        return delete_items(self.client, self.table, keys, "deleting a job")

    def transition(self, job_id: str, allowed: Iterable[str], changes: dict[str, Any]) -> bool:
        """Set ``changes`` if the job's status is one of ``allowed``; False otherwise."""
        names = {"#s": "status"}
        values: dict[str, Any] = {}
        sets = []
        for index, (name, value) in enumerate(to_item(changes).items()):
            names[f"#f{index}"] = name
            values[f":v{index}"] = value
            sets.append(f"#f{index} = :v{index}")
        statuses = []
        for index, status in enumerate(allowed):
            values[f":a{index}"] = {"S": status}
            statuses.append(f"#s = :a{index}")
        return conditional(
            "updating the job",
            lambda: self.client.update_item(
                TableName=self.table,
                Key=_key(job_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=f"attribute_exists(pk) AND ({' OR '.join(statuses)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            ),
        )

    def record_chunk(self, job_id: str, chunk: int, succeeded: int, failed: int) -> bool:
        """Count a chunk's rows once; False if it was recorded before (a duplicate) or the job
        is no longer running (cancelled: its counts stay as they were at the cancel)."""
        marker = {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": f"CHUNK#{chunk:06d}"}}
        marker |= to_item({"succeeded": succeeded, "failed": failed})
        try:
            with aws_errors("recording the chunk", CANCELLED_TX):
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": marker,
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": self.table,
                                "Key": _key(job_id),
                                "UpdateExpression": "ADD succeeded :s, failed :f, chunks_done :one",
                                # a cancelled job's counts freeze at the cancel
                                "ConditionExpression": "attribute_exists(pk) AND "
                                "(#s = :queued OR #s = :running)",
                                "ExpressionAttributeNames": {"#s": "status"},
                                "ExpressionAttributeValues": to_item(
                                    {
                                        ":s": succeeded,
                                        ":f": failed,
                                        ":one": 1,
                                        ":queued": "QUEUED",
                                        ":running": "RUNNING",
                                    }
                                ),
                            }
                        },
                    ]
                )
        except Exception as exc:
            if error_code(exc) != CANCELLED_TX:
                raise
            return False
        return True

    def chunk_recorded(self, job_id: str, chunk: int) -> bool:
        """Whether a chunk's rows were counted."""
        key = {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": f"CHUNK#{chunk:06d}"}}
        with aws_errors("reading the chunk"):
            answer = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        return "Item" in answer
