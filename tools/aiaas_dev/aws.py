"""AWS for the local stack: moto in server mode on loopback, and the template's resources.

moto must run, and ``AWS_ENDPOINT_URL`` point at it, before any handler module is imported:
a boto3 client reads its endpoint and credentials when it is created.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiaas_dev.cfn import PSEUDO_PARAMETERS, TemplateError, references
from aiaas_dev.provisioners import (
    Provisioned,
    create_bucket,
    create_queue,
    create_secret,
    create_table,
)
from aiaas_dev.resources import BUCKET_TYPE, QUEUE_TYPE, SECRET_TYPE, TABLE_TYPE, physical_name
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
    QUEUE_TYPE: create_queue,
}

# Resource types that need nothing in moto to serve the API locally (or that the local stack
# does not emulate: alarms, topics, roles, SageMaker endpoints); left out without a warning.
_LOCAL_ONLY_TYPES = frozenset(
    {
        "AWS::Serverless::Function",
        "AWS::Serverless::HttpApi",
        "AWS::Serverless::LayerVersion",
        "AWS::CloudWatch::Alarm",
        "AWS::SNS::Topic",
        "AWS::IAM::Role",
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
    }
)


SECRET_KEY = "testing"  # noqa: S105 - the dummy secret local clients sign with (the guard checks it)


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
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
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
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per AWS call
        self._server = guarded_moto_server(self.host)
        self._server.start()
        return self.endpoint_url

    def stop(self) -> None:
        """Stop moto and wait for its thread."""
        if self._server is not None:
            self._server.stop()
            self._server = None


def provisioning_order(resources: Mapping[str, Any]) -> list[str]:
    """The logical IDs in template order, except that a resource moto creates comes after the
    ones it refers to (a queue after its dead-letter queue).

    Only references between resources of `PROVISIONERS` types count (``Ref``, ``Fn::GetAtt``,
    ``Fn::Sub``, ``DependsOn``): SAM resources may refer to each other in a circle.

    Args:
        resources: The template's ``Resources``.

    Returns:
        Every logical ID once.

    Raises:
        TemplateError: Created resources refer to each other in a circle.
    """
    created = [key for key, resource in resources.items() if resource.get("Type") in PROVISIONERS]
    needs = {key: _dependencies(resources[key], created) - {key} for key in created}
    ordered: dict[str, None] = {}  # an ordered set

    def visit(logical_id: str, chain: tuple[str, ...]) -> None:
        if logical_id in chain:
            raise TemplateError(f"circular dependency: {' -> '.join((*chain, logical_id))}")
        for other in created:
            if other in needs.get(logical_id, ()) and other not in ordered:
                visit(other, (*chain, logical_id))
        ordered[logical_id] = None

    for logical_id in resources:
        if logical_id not in ordered:
            visit(logical_id, ())
    return list(ordered)


def _dependencies(resource: Mapping[str, Any], candidates: list[str]) -> set[str]:
    depends_on = resource.get("DependsOn") or []
    named = {depends_on} if isinstance(depends_on, str) else set(depends_on)
    return (references(resource.get("Properties") or {}) | named) & set(candidates)


def provision_resources(template: Template, session: Any) -> list[Provisioned]:
    """Create the template's AWS resources in moto, through `PROVISIONERS`.

    Resources are created in template order, each after those it refers to
    (`provisioning_order`).

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
    resolver = template.resolver.with_values({})
    resources = template.document.get("Resources") or {}
    for logical_id in provisioning_order(resources):
        resource = resources[logical_id]
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


def guarded_moto_server(host: str) -> Any:
    """moto's threaded server, its WSGI app behind `PresignedPostGuard` (moto does not check
    presigned POST policies; S3 does). Imported here: moto is slow to import."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: PLC0415
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    from aiaas_dev.s3_policy import PresignedPostGuard  # noqa: PLC0415

    class Guarded(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto's own, with the guard around its app
            app = PresignedPostGuard(DomainDispatcherApplication(create_backend_app), SECRET_KEY)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return Guarded(ip_address=host, port=0, verbose=False)
