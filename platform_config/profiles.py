"""Production-versus-staging defaults, decided in this one place.

A setting left out of a stack file takes its value from the stack's profile. Production gets more
(redundancy, protection, retention) only where production needs it; everything else is the same in
both environments so that staging stays a faithful rehearsal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Environment = Literal["stg", "prd"]
NatGateways = Literal["single", "perAz"]


@dataclass(frozen=True, kw_only=True)
class EnvironmentProfile:
    """Defaults that depend on the environment."""

    name: Environment
    nat_gateways: NatGateways
    """`single`: one NAT gateway for the VPC (cheap, one AZ's outage cuts egress); `perAz`: one per AZ."""
    protect_stateful: bool
    """`protect=True` plus the service's own deletion protection on databases, buckets, tables, keys."""
    multi_az_databases: bool
    log_retention_days: int
    """CloudWatch Logs retention for flow logs, task logs, function logs."""
    min_backup_retention_days: int
    """The least automated-backup retention a database may be configured with."""
    kms_deletion_window_days: int
    min_audit_log_retention_days: int
    """The least an audit trail (load balancer access logs, database and exec logs) may be kept: PCI DSS v4
    10.5.1 asks for 12 months of history in production."""


PROFILES: dict[Environment, EnvironmentProfile] = {
    "stg": EnvironmentProfile(
        name="stg",
        nat_gateways="single",
        protect_stateful=False,
        multi_az_databases=False,
        log_retention_days=30,
        min_backup_retention_days=1,
        kms_deletion_window_days=7,
        min_audit_log_retention_days=30,
    ),
    "prd": EnvironmentProfile(
        name="prd",
        nat_gateways="perAz",
        protect_stateful=True,
        multi_az_databases=True,
        log_retention_days=365,
        min_backup_retention_days=14,
        kms_deletion_window_days=30,
        min_audit_log_retention_days=365,
    ),
}

# The retention values CloudWatch Logs accepts (PutRetentionPolicy); anything else is rejected by AWS.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
