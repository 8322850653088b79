"""Physical names: `platform-<env>-<name>`, for resources whose name people and alarms refer to."""

from __future__ import annotations

import re

PROJECT = "platform"
_SEGMENT = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def physical_name(environment: str, *parts: str, max_length: int = 63) -> str:
    """`physical_name("prd", "card")` -> `platform-prd-card`; lowercase and dashes only, AWS-safe.

    63 characters is the tightest common limit (RDS identifiers, S3 buckets, ALB names are 32:
    those callers pass `max_length=32`).
    """
    name = "-".join([PROJECT, environment, *parts])
    if not _SEGMENT.match(name):
        raise ValueError(f"{name!r} is not a valid physical name: use lowercase letters, digits and dashes")
    if len(name) > max_length:
        raise ValueError(f"{name!r} is {len(name)} characters; the limit here is {max_length}")
    return name


def permissions_boundary_name(environment: str) -> str:
    """The managed policy (made by the bootstrap) that bounds every role the platform program creates:
    the deploy role may create a role only with it attached (components/access.py guardrails)."""
    return f"{PROJECT}-{environment}-workload-boundary"
