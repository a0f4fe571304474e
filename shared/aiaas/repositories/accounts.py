"""Users and API keys in one DynamoDB table.

Key design (AccountsTable):

| item | pk | sk | gsi1pk | gsi1sk |
|---|---|---|---|---|
| user | ``USER#<email>`` | ``USER`` | | |
| API key | ``KEY#<key id>`` | ``KEY`` | ``TENANT#<tenant>`` | ``KEY#<created>#<key id>`` |
| deleted tenant | ``TENANT#<tenant>`` | ``DELETED`` | | |

Users are found by email (login), keys by id (the authorizer: one GetItem) and listed per
tenant through gsi1. Signup's uniqueness is a conditional put on the user's pk. A deleted
tenant leaves only a tombstone (its id, no personal data) that expires through TTL once no
login token issued before the deletion can still be valid; the authorizer refuses its
credentials by it.
"""

from __future__ import annotations

from typing import Any

from aiaas.auth.scopes import parse_scopes
from aiaas.aws.lite import error_code
from aiaas.domain.records import ApiKey, User
from aiaas.errors import Conflict
from aiaas.repositories.dynamo import (
    CONDITION_FAILED,
    aws_errors,
    conditional,
    delete_items,
    from_item,
    query_all,
    to_item,
)


def _user_pk(email: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{email}"}, "sk": {"S": "USER"}}


def _key_pk(key_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"KEY#{key_id}"}, "sk": {"S": "KEY"}}


def _tombstone_pk(tenant: str) -> dict[str, Any]:
    return {"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": "DELETED"}}


class DynamoUsers:
    """UserStore on DynamoDB."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def create(self, user: User) -> None:
        """Conditional put: Conflict if the email is already registered."""
        item = to_item(
            {
                "pk": f"USER#{user.email}",
                "sk": "USER",
                "user_id": user.user_id,
                "tenant": user.tenant,
                "email": user.email,
                "password_hash": user.password_hash,
                "scopes": user.scopes,
                "role": user.role,
                "created_at": user.created_at,
            }
        )
        try:
            with aws_errors("storing the user", CONDITION_FAILED):
                self.client.put_item(
                    TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
                )
        except Exception as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            raise Conflict("an account with this email already exists", param="email") from exc

    def get_by_email(self, email: str) -> User | None:
        """Strongly consistent read (a login right after signup must see the user)."""
        with aws_errors("reading the user"):
            answer = self.client.get_item(
                TableName=self.table, Key=_user_pk(email), ConsistentRead=True
            )
        if "Item" not in answer:
            return None
        v = from_item(answer["Item"])
        return User(
            user_id=v["user_id"],
            tenant=v["tenant"],
            email=v["email"],
            password_hash=v["password_hash"],
            scopes=parse_scopes(" ".join(v["scopes"])),
            role=v.get("role", "user"),
            created_at=v["created_at"],
            failed_logins=v.get("failed_logins", 0),
            first_failed_at=v.get("first_failed_at", 0),
        )

    def reserve_attempt(self, email: str, now: int, window: int, max_failures: int) -> bool:
        """Count a login attempt before its password is checked, in one conditional write:
        False (throttled) once ``max_failures`` attempts fell within the window, however
        many Lambdas try at once. A success resets the count (`reset_failed_logins`)."""
        since = {"N": str(now - window)}
        within = (
            "ADD failed_logins :one",
            "attribute_exists(pk) AND first_failed_at > :since AND failed_logins < :max",
            {":max": {"N": str(max_failures)}},
        )
        new_window = (
            "SET failed_logins = :one, first_failed_at = :now",
            "attribute_exists(pk) AND "
            "(attribute_not_exists(first_failed_at) OR first_failed_at <= :since)",
            {":now": {"N": str(now)}},
        )
        for _ in range(3):  # a concurrent start of a new window: count in it instead
            for update, condition, values in (within, new_window):
                if self._count_if(email, update, condition, {":since": since, **values}):
                    return True
        return False

    def _count_if(self, email: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        return conditional(
            "counting a login attempt",
            lambda: self.client.update_item(
                TableName=self.table,
                Key=_user_pk(email),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues={":one": {"N": "1"}, **values},
            ),
        )

    def mark_tenant_deleted(self, tenant: str, now: int, expires_at: int) -> None:
        """Leave the tenant's tombstone (see the module)."""
        item = {**_tombstone_pk(tenant), **to_item({"deleted_at": now, "ttl": expires_at})}
        with aws_errors("marking the tenant deleted"):
            self.client.put_item(TableName=self.table, Item=item)

    def delete(self, email: str) -> bool:
        """Remove the user; False if there was none."""
        with aws_errors("deleting the user"):
            answer = self.client.delete_item(
                TableName=self.table, Key=_user_pk(email), ReturnValues="ALL_OLD"
            )
        return "Attributes" in answer

    def reset_failed_logins(self, email: str) -> None:
        """Forget failures."""
        with aws_errors("resetting failed logins"):
            self.client.update_item(
                TableName=self.table,
                Key=_user_pk(email),
                UpdateExpression="REMOVE failed_logins, first_failed_at",
            )


class DynamoKeys:
    """KeyStore on DynamoDB."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def put(self, key: ApiKey) -> None:
        """Store a new key record (never the key itself)."""
        item = to_item(
            {
                "pk": f"KEY#{key.key_id}",
                "sk": "KEY",
                "gsi1pk": f"TENANT#{key.tenant}",
                "gsi1sk": f"KEY#{key.created_at:012d}#{key.key_id}",
                "key_id": key.key_id,
                "tenant": key.tenant,
                "principal_id": key.principal_id,
                "name": key.name,
                "scopes": key.scopes,
                "digest": key.digest,
                "created_at": key.created_at,
                "expires_at": key.expires_at,
                "daily_quota": key.daily_quota,
            }
        )
        with aws_errors("storing the key"):
            self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )

    def get(self, key_id: str) -> ApiKey | None:
        """One GetItem by key id."""
        with aws_errors("reading the key"):
            answer = self.client.get_item(TableName=self.table, Key=_key_pk(key_id))
        return _key(from_item(answer["Item"])) if "Item" in answer else None

    def tenant_deleted(self, tenant: str) -> bool:
        """Whether the tenant deleted its account (its tombstone is there)."""
        with aws_errors("reading the tenant's status"):
            answer = self.client.get_item(TableName=self.table, Key=_tombstone_pk(tenant))
        return "Item" in answer

    def list_for_tenant(self, tenant: str) -> list[ApiKey]:
        """Query gsi1 for the tenant, newest first."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi1",
            "ScanIndexForward": False,
            "KeyConditionExpression": "gsi1pk = :t",
            "ExpressionAttributeValues": {":t": {"S": f"TENANT#{tenant}"}},
        }
        return [_key(from_item(item)) for item in query_all(self.client, "listing keys", params)]

    def delete_for_tenant(self, tenant: str) -> list[str]:
        """Delete every key of the tenant (the authorizer then finds none: 401); their ids."""
        ids = [key.key_id for key in self.list_for_tenant(tenant)]
        delete_items(self.client, self.table, [_key_pk(i) for i in ids], "deleting keys")
        return ids

    def revoke(self, tenant: str, key_id: str, now: int) -> bool:
        """Conditional on the tenant: another tenant's key id behaves as unknown."""
        return conditional(
            "revoking the key",
            lambda: self.client.update_item(
                TableName=self.table,
                Key=_key_pk(key_id),
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
                ConditionExpression="attribute_exists(pk) AND tenant = :t",
                ExpressionAttributeValues={":now": {"N": str(now)}, ":t": {"S": tenant}},
            ),
        )


def _key(v: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=v["key_id"],
        tenant=v["tenant"],
        principal_id=v["principal_id"],
        name=v["name"],
        scopes=parse_scopes(" ".join(v["scopes"])),
        digest=v["digest"],
        created_at=v["created_at"],
        expires_at=v.get("expires_at"),
        revoked_at=v.get("revoked_at"),
        last_used_at=v.get("last_used_at"),
        daily_quota=v.get("daily_quota", 0),
    )
