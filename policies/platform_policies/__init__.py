"""The platform's policy pack: rules by service, and the pack built from them."""

from __future__ import annotations

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from platform_policies import compute, data, messaging, network, platform, security, storage
from platform_policies.framework import Rule, build, suppressed_findings_policy

PACK_NAME = "platform-standards"

RULES: list[Rule] = [
    *storage.RULES, *data.RULES, *compute.RULES, *network.RULES, *messaging.RULES, *security.RULES, *platform.RULES,
]  # fmt: skip


def build_policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """Every rule as a policy, and last the report of what was suppressed."""
    ids = [rule.id for rule in RULES]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"policy ids used twice: {duplicates}")
    return [*(build(rule) for rule in RULES), suppressed_findings_policy()]
