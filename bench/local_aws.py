"""moto in server mode with the template's tables and secret, for benchmarks that invoke the
functions as deployed (metering writes to DynamoDB on every prediction)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def local_aws() -> Iterator[dict[str, str]]:
    """Start moto, create the resources; yield the environment a function needs."""
    from moto.moto_api._internal.models import moto_api_backend  # noqa: PLC0415

    moto_api_backend.reset()  # moto's state is per process, shared by every server in it
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(env)
    try:
        sys.path.insert(0, str(ROOT))
        from tests.aws import EVENT_KEY, create_resources  # noqa: PLC0415 - the tests' own

        res = create_resources(env["AWS_ENDPOINT_URL"])
        res.put_key(EVENT_KEY[0])  # the key events/*.json name: metering refuses unknown keys
        yield {
            **env,
            "AIAAS_ACCOUNTS_TABLE": res.accounts_table,
            "AIAAS_USAGE_TABLE": res.usage_table,
            "AIAAS_JWT_SECRET_ARN": res.jwt_secret_arn,
            "AIAAS_MODELS_TABLE": res.models_table,
            "AIAAS_WEIGHTS_BUCKET": res.weights_bucket,
            "AIAAS_JOBS_TABLE": res.jobs_table,
            "AIAAS_BATCH_BUCKET": res.batch_bucket,
            "AIAAS_TRAINING_QUEUE_URL": res.training_queue_url,
        }
    finally:
        server.stop()
