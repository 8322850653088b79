"""`connect(client, server)`: both rules at once, each named after both sides, on the server's port."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pytest

from components.connections import Endpoint, connect
from tests.conftest import run_component


@dataclass
class Side:
    endpoint: Endpoint


class Owner(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("test:index:Owner", name)


def test_connect_writes_the_egress_and_the_ingress_named_after_both_sides() -> None:
    def build() -> None:
        client_owner, server_owner = Owner("batch"), Owner("db")
        client = Side(Endpoint(name="nightly", rule_prefix="nightly", security_group_id="sg-c", owner=client_owner))
        server = Side(
            Endpoint(
                name="database-ledger", rule_prefix="ledger", security_group_id="sg-s", owner=server_owner,
                port=5432, protocol="PostgreSQL",
            )
        )  # fmt: skip
        connect(client, server)

    run = run_component(build)
    (egress,) = run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    (ingress,) = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert egress.name == "nightly-to-database-ledger"
    assert (egress.inputs["securityGroupId"], egress.inputs["referencedSecurityGroupId"]) == ("sg-c", "sg-s")
    assert egress.inputs["description"] == "To database-ledger"
    assert ingress.name == "ledger-from-nightly"
    assert (ingress.inputs["securityGroupId"], ingress.inputs["referencedSecurityGroupId"]) == ("sg-s", "sg-c")
    assert ingress.inputs["description"] == "PostgreSQL from nightly"
    for rule in (egress, ingress):
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 5432, 5432)
    assert run.by_urn(egress.parent).name == "batch"
    assert run.by_urn(ingress.parent).name == "db"


def test_a_server_without_a_port_cannot_be_connected_to() -> None:
    def build() -> None:
        owner = Owner("o")
        side = Side(Endpoint(name="a", rule_prefix="a", security_group_id="sg-a", owner=owner))
        connect(side, side)

    with pytest.raises(ValueError, match="a serves no port"):
        run_component(build)
