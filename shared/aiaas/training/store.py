"""Training jobs in DynamoDB (the jobs table, beside batch jobs).

| item | pk | sk | gsi1pk | gsi1sk |
|---|---|---|---|---|
| job | ``JOB#<train_id>`` | ``META`` | ``TRAINING#<tenant>`` | ``<created, 10 digits>#<id>`` |
| candidate scored | ``JOB#<train_id>`` | ``CAND#<000001>`` | | |

The job is a JSON ``doc`` plus two attributes that change atomically: ``status`` (conditional
transitions) and ``candidates_done`` (added in the same transaction that stores a
candidate's result, on the condition that it was not stored yet: a duplicate SQS delivery
changes nothing).
"""

from __future__ import annotations

import json
from typing import Any

from aiaas.aws.lite import error_code
from aiaas.repositories.dynamo import (
    aws_errors,
    conditional,
    delete_items,
    index_all,
    index_keys,
    index_page,
    partition,
    put_new,
    query_all,
)
from aiaas.training.records import TrainingJob, dumps

CANCELLED_TX = "TransactionCanceledException"


def _key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "META"}}


def _job(item: dict[str, Any]) -> TrainingJob:
    return TrainingJob.from_doc(
        json.loads(item["doc"]["S"]), item["status"]["S"], int(item["candidates_done"]["N"])
    )


class DynamoTrainingJobs:
    """Training jobs and their candidates' results."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def create(self, job: TrainingJob) -> bool:
        """Store a new job; False if its id exists."""
        item = {
            **_key(job.id),
            "doc": {"S": dumps(job.doc())},
            "status": {"S": job.status},
            "candidates_done": {"N": str(job.candidates_done)},
            **index_keys(f"TRAINING#{job.tenant}", job.created_at, job.id),
        }
        return put_new(self.client, self.table, item, "storing the training job")

    def get(self, job_id: str) -> TrainingJob | None:
        """One job, read consistently."""
        with aws_errors("reading the training job"):
            item = self.client.get_item(
                TableName=self.table, Key=_key(job_id), ConsistentRead=True
            ).get("Item")
        return _job(item) if item and "doc" in item else None

    def transition(self, job: TrainingJob, allowed: tuple[str, ...], **changes: Any) -> bool:
        """Store ``job`` with ``changes`` if its stored status is one of ``allowed``."""
        updated = job.with_changes(**changes)
        values: dict[str, Any] = {":doc": {"S": dumps(updated.doc())}, ":s": {"S": updated.status}}
        statuses = []
        for index, status in enumerate(allowed):
            values[f":a{index}"] = {"S": status}
            statuses.append(f"#s = :a{index}")
        return conditional(
            "updating the training job",
            lambda: self.client.update_item(
                TableName=self.table,
                Key=_key(job.id),
                UpdateExpression="SET doc = :doc, #s = :s",
                ConditionExpression=f"attribute_exists(pk) AND ({' OR '.join(statuses)})",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            ),
        )

    def record_candidate(self, job_id: str, index: int, result: dict[str, Any]) -> bool:
        """Store a candidate's result and count it, once, while the job searches; False for a
        duplicate or a job that stopped searching."""
        marker = {
            "pk": {"S": f"JOB#{job_id}"},
            "sk": {"S": f"CAND#{index:06d}"},
            "result": {"S": dumps(result)},
        }
        try:
            with aws_errors("recording the candidate", CANCELLED_TX):
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
                                "UpdateExpression": "ADD candidates_done :one",
                                "ConditionExpression": "#s = :searching",
                                "ExpressionAttributeNames": {"#s": "status"},
                                "ExpressionAttributeValues": {
                                    ":one": {"N": "1"},
                                    ":searching": {"S": "SEARCHING"},
                                },
                            }
                        },
                    ]
                )
        except Exception as exc:
            if error_code(exc) != CANCELLED_TX:
                raise
            return False
        return True

    def candidates(self, job_id: str) -> list[dict[str, Any]]:
        """Every recorded candidate result, by index."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :c)",
            "ExpressionAttributeValues": {":pk": {"S": f"JOB#{job_id}"}, ":c": {"S": "CAND#"}},
        }
        items = query_all(self.client, "reading the leaderboard", params)
        return [json.loads(item["result"]["S"]) for item in items]

    def recorded(self, job_id: str, index: int) -> bool:
        """Whether a candidate's result is stored."""
        key = {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": f"CAND#{index:06d}"}}
        with aws_errors("reading the candidate"):
            answer = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        return "Item" in answer

    def page(
        self, tenant: str, limit: int, after: str | None
    ) -> tuple[list[TrainingJob], str | None]:
        """A tenant's jobs, newest first, and the cursor of the next page."""
        items, cursor = index_page(
            self.client, self.table, f"TRAINING#{tenant}", limit=limit, after=after,
            what="listing training jobs",
        )  # fmt: skip
        return [_job(item) for item in items], cursor

    def all_for_tenant(self, tenant: str) -> list[TrainingJob]:
        """Every training job of the tenant."""
        items = index_all(self.client, self.table, f"TRAINING#{tenant}", "listing training jobs")
        return [_job(item) for item in items]

    def delete(self, job_id: str) -> int:
        """Delete a job and its candidates' results; how many items that was."""
        keys = partition(self.client, self.table, f"JOB#{job_id}", "listing a job's records")
        return delete_items(self.client, self.table, keys, "deleting a training job")
