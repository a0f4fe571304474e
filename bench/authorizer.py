"""Authorizer benchmark: cold start (fresh process to first decision) and warm decisions.

Usage: python bench/authorizer.py --out bench/results/authorizer.json [--sam-build .aws-sam/build]

Cold start runs the deployed handler in a fresh process (the `sam build` artifacts with
site-packages off, as in Lambda) against moto in server mode, so it includes one DynamoDB
GetItem over loopback. Warm decisions use an in-memory key store: the DynamoDB round trip
(a few ms in AWS) is excluded, as the target says.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import boto3

from aiaas.auth.authorizer import Authorizer
from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES, Scope
from aiaas.auth.tokens import issue_token
from aiaas.domain.keys import KeyService
from aiaas.domain.records import ApiKey
from aiaas.repositories.accounts import DynamoKeys

sys.path.insert(0, str(Path(__file__).parent))
from common import median_ms, write_json
from local_aws import local_aws

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-key-0123456789abcdef0123456789abcdef"
CHILD = """
import json, sys, time
t0 = time.perf_counter()
import app
t1 = time.perf_counter()
decision = app.handler(json.loads(sys.argv[1]), None)
t2 = time.perf_counter()
assert decision["isAuthorized"], decision
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "decision_ms": (t2 - t1) * 1e3,
                  "total_ms": (t2 - t0) * 1e3}))
"""


class MemoryKeys:
    """KeyStore in memory (the Protocol's in-memory fake)."""

    def __init__(self) -> None:
        self.items: dict[str, ApiKey] = {}

    def put(self, key: ApiKey) -> None:
        self.items[key.key_id] = key

    def get(self, key_id: str) -> ApiKey | None:
        return self.items.get(key_id)


OWNER = Principal("t", "u", "user", "", ALL_SCOPES)


def warm() -> dict[str, float]:
    """Median decision time for an API key and for a JWT, no I/O."""
    keys = MemoryKeys()
    _, value = KeyService(keys).create(OWNER, name="b", scopes=frozenset({Scope.PREDICT}))  # type: ignore[arg-type]
    token = issue_token(SECRET, user_id="u", tenant="t", scopes=ALL_SCOPES, ttl=600)
    authorizer = Authorizer(keys, lambda: SECRET, cache_seconds=0)
    bearer = {"authorization": f"Bearer {token.access_token}"}
    return {
        "api_key_ms": median_ms(lambda: authorizer.authenticate({"x-api-key": value})),
        "jwt_ms": median_ms(lambda: authorizer.authenticate(bearer)),
    }


def cold(sam_build: Path, runs: int = 5) -> dict[str, float]:
    """Fresh-process cold starts against moto; medians."""
    with local_aws() as aws_env:
        keys = DynamoKeys(boto3.client("dynamodb"), aws_env["AIAAS_ACCOUNTS_TABLE"])
        _, value = KeyService(keys).create(OWNER, name="b", scopes=frozenset({Scope.PREDICT}))
        event = json.loads((ROOT / "events" / "authorizer-request.json").read_text())
        event["headers"]["authorization"] = f"Bearer {value}"
        layers = [sam_build / "AuthorizerFunction", sam_build / "AppLayer" / "python"]
        env = {
            **os.environ,
            **aws_env,
            "AIAAS_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(map(str, layers)),
        }
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-S", "-c", CHILD, json.dumps(event)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            sample = json.loads(out.stdout)
            sample["process_wall_ms"] = (time.perf_counter() - started) * 1e3  # spawn included
            samples.append(sample)
        return {k: round(statistics.median(s[k] for s in samples), 1) for k in samples[0]}


def main() -> None:
    """Both measurements, written as JSON and printed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sam-build", type=Path, default=ROOT / ".aws-sam" / "build")
    args = parser.parse_args()
    result = {"warm": warm(), "cold_start": cold(args.sam_build)}
    write_json(args.out, result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
