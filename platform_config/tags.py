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


def component_tags(*, service: str, component: str, name: str | None = None) -> dict[str, str]:
    """What a component adds to its resources: which service they serve and which component made them."""
    tags = {"Component": component, "Service": service}
    if name is not None:
        tags["Name"] = name
    return tags
