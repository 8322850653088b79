"""Recorded resources as the pack's rules see them, for tests that call rules in-process."""

from __future__ import annotations

from typing import Any

from platform_policies.framework import Inputs, Malformed, Resource, Rule, Stack, UndecidedInput

from tools.mock_runtime import RecordedResource


def as_seen(resources: list[RecordedResource]) -> list[Resource]:
    """Each resource with its provider's inputs; a provider's `Inputs` is shared with the provider's
    own entry, so what a rule reads of it is recorded once, under the provider's URN."""
    inputs = {r.urn: Inputs(r.inputs) for r in resources}

    def provider_of(r: RecordedResource) -> Inputs:
        urn = r.provider.rsplit("::", 1)[0] if r.provider else ""
        return inputs.get(urn, Inputs({}))

    return [
        Resource(
            type=r.type, name=r.name, urn=r.urn, props=inputs[r.urn], protect=r.protect, parent=r.parent,
            provider=provider_of(r), dependencies=tuple(r.dependencies),
            property_dependencies={k: tuple(v) for k, v in r.property_dependencies.items()},
        )
        for r in resources
    ]  # fmt: skip


def reads_of(rule: Rule, resources: list[RecordedResource], config: dict[str, Any]) -> dict[str, set[str]]:
    """urn -> the inputs the rule reads of that resource (providers under their own URNs)."""
    seen = as_seen(resources)
    try:
        if rule.stack_check is not None:
            list(rule.stack_check(Stack(seen), config))
        else:
            assert rule.check is not None
            for resource in seen:
                if not rule.types or resource.type in rule.types:
                    list(rule.check(resource, config))
    except (UndecidedInput, Malformed):
        pass
    return {r.urn: r.props.read for r in seen}
