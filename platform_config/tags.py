"""Tags: the provider-wide set every AWS resource gets, and the per-component set added on top."""

from __future__ import annotations

from platform_config.general import GeneralConfig
from platform_lib.naming import PROJECT


def default_tags(general: GeneralConfig) -> dict[str, str]:
    """Set as `default_tags` on every explicit AWS provider, so no resource can miss them."""
    return {
        "Env": general.environment,
        "ManagedBy": "pulumi",
        "Owner": general.owner,
        "Project": PROJECT,
        "Repository": general.repository,
    }


CARD_DATA_SCOPE = "card"
"""`DataScope` of resources that store or protect cardholder data (the PCI DSS cardholder data environment)."""


def component_tags(
    *, service: str, component: str, name: str | None = None, data_scope: str | None = None
) -> dict[str, str]:
    """What a component adds to its resources: which service they serve, which component made them, and
    `DataScope` where they hold data in a compliance scope."""
    tags = {"Component": component, "Service": service}
    if data_scope is not None:
        tags["DataScope"] = data_scope
    if name is not None:
        tags["Name"] = name
    return tags
