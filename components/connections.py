"""Security-group connections between two components, written in one call.

As CDK's `connections.allowFrom`: `connect(client, server)` writes the server's ingress rule and the
client's egress rule together, each named after both sides, so neither side can be opened alone
(the task security groups start with no egress at all, components/task_roles.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """One side of a connection."""

    name: str
    """How the other side's rule names this one: `settlement`, `database-card`."""
    rule_prefix: str
    """This side's own rule names start with it (its resource name)."""
    security_group_id: pulumi.Input[str]
    owner: pulumi.Resource
    """The component this side's rule belongs to (its parent)."""
    port: int | None = None
    """The TCP port this side serves; None for a pure client."""
    protocol: str = "TCP"
    """What is served on `port`, for the ingress rule's description."""


class Connectable(Protocol):
    """Anything with a security group that takes part in connections: apps, batches, databases, ..."""

    @property
    def endpoint(self) -> Endpoint: ...


def connect(
    client: Connectable, server: Connectable
) -> tuple[aws.vpc.SecurityGroupEgressRule, aws.vpc.SecurityGroupIngressRule]:
    """Let `client` open TCP connections to `server`'s port: the client's egress and the server's ingress."""
    source, target = client.endpoint, server.endpoint
    if target.port is None:
        raise ValueError(f"{target.name} serves no port: it cannot be connected to")
    ingress = aws.vpc.SecurityGroupIngressRule(
        f"{target.rule_prefix}-from-{source.name}",
        security_group_id=target.security_group_id,
        referenced_security_group_id=source.security_group_id,
        ip_protocol="tcp",
        from_port=target.port,
        to_port=target.port,
        description=f"{target.protocol} from {source.name}",
        opts=pulumi.ResourceOptions(parent=target.owner),
    )
    egress = aws.vpc.SecurityGroupEgressRule(
        f"{source.rule_prefix}-to-{target.name}",
        security_group_id=source.security_group_id,
        referenced_security_group_id=target.security_group_id,
        ip_protocol="tcp",
        from_port=target.port,
        to_port=target.port,
        description=f"To {target.name}",
        opts=pulumi.ResourceOptions(parent=source.owner),
    )
    return egress, ingress
