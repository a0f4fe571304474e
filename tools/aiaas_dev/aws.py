"""AWS for the local stack: moto in server mode on loopback, and the template's resources.

moto must run, and ``AWS_ENDPOINT_URL`` point at it, before any handler module is imported:
a boto3 client reads its endpoint and credentials when it is created.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiaas_dev.cfn import PSEUDO_PARAMETERS, Resolver, TemplateError
from aiaas_dev.provisioners import Provisioned, create_bucket, create_secret, create_table
from aiaas_dev.resources import BUCKET_TYPE, SECRET_TYPE, TABLE_TYPE, physical_name
from aiaas_dev.template import Template

logger = logging.getLogger(__name__)

# Creates one template resource in moto:
# (logical ID, local name, resolved properties, boto3 session) -> what was created.
Provisioner = Callable[[str, str, dict[str, Any], Any], Provisioned]

# Resource type -> provisioner; resources of other types are left out (with a log line).
PROVISIONERS: dict[str, Provisioner] = {
    TABLE_TYPE: create_table,
    SECRET_TYPE: create_secret,
    BUCKET_TYPE: create_bucket,
}

# Resource types that need nothing in moto to serve the API locally.
_LOCAL_ONLY_TYPES = frozenset(
    {
        "AWS::Serverless::Function",
        "AWS::Serverless::HttpApi",
        "AWS::Serverless::LayerVersion",
    }
)


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """The variables that send boto3 to moto with dummy credentials.

    Args:
        endpoint_url: moto's base URL (``http://127.0.0.1:PORT``).

    Returns:
        ``AWS_ENDPOINT_URL``, dummy keys, the region (``us-east-1``).
    """
    region = PSEUDO_PARAMETERS["AWS::Region"]
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


class MotoServer:
    """moto's threaded server on a free loopback port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        """Create the server (call `start`).

        Args:
            host: The loopback address to bind.
        """
        self.host = host
        self._server: Any = None

    @property
    def endpoint_url(self) -> str:
        """The base URL boto3 should use."""
        if self._server is None:
            raise RuntimeError("moto is not running")
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Start moto (about half a second, most of it importing moto).

        Returns:
            The endpoint URL.
        """
        from moto.server import ThreadedMotoServer  # noqa: PLC0415  # slow import, only if used

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per AWS call
        self._server = ThreadedMotoServer(ip_address=self.host, port=0, verbose=False)
        self._server.start()
        return self.endpoint_url

    def stop(self) -> None:
        """Stop moto and wait for its thread."""
        if self._server is not None:
            self._server.stop()
            self._server = None


def provision_resources(template: Template, session: Any) -> list[Provisioned]:
    """Create the template's AWS resources in moto, through `PROVISIONERS`, in template order.

    Args:
        template: The parsed template (its resolver gives resources their local names).
        session: A ``boto3.Session`` bound to moto (through ``AWS_ENDPOINT_URL``).

    Returns:
        What was created; a resource's values (`Provisioned.values`) are known to the
        resources after it. Pass them all to `Template.with_resource_values`.

    Raises:
        TemplateError: A resource's properties cannot be resolved or moto refused them.
    """
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415  # only with moto

    created: list[Provisioned] = []
    resolver = Resolver(template.resolver.values)
    for logical_id, resource in (template.document.get("Resources") or {}).items():
        kind = resource.get("Type", "")
        provisioner = PROVISIONERS.get(kind)
        if provisioner is None:
            if kind not in _LOCAL_ONLY_TYPES:
                logger.warning("not created locally: %s (%s)", logical_id, kind)
            continue
        try:
            name = physical_name(logical_id, resource, resolver)
            properties = resolver.resolve(resource.get("Properties") or {})
            done = provisioner(logical_id, name, properties, session)
        except (TemplateError, ValueError, KeyError, BotoCoreError, ClientError) as exc:
            raise TemplateError(f"{logical_id} ({kind}): {exc}") from exc
        resolver.values.update(done.values)
        created.append(done)
    return created


def provisioned_values(created: list[Provisioned]) -> dict[str, str]:
    """All ``Ref``/``Fn::GetAtt`` values of the created resources, for the resolver."""
    return {key: value for done in created for key, value in done.values.items()}
