"""Small readers for the shapes pulumi-aws inputs take (policy JSON strings, tag maps, lists)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from platform_policies.framework import Resource, Stack, parse_json


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(document: Any) -> Iterator[dict[str, Any]]:
    """The statements of an IAM-style policy document (a JSON string or a dict), normalised."""
    parsed = parse_json(document)
    if not isinstance(parsed, Mapping):
        return
    for statement in as_list(parsed.get("Statement")):
        if isinstance(statement, Mapping):
            yield {
                **statement,
                "Action": as_list(statement.get("Action")),
                "Resource": as_list(statement.get("Resource")),
                "Effect": statement.get("Effect", "Allow"),
            }


def principals(statement: Mapping[str, Any]) -> list[str]:
    """Every principal of a statement: `*`, service names, ARNs."""
    principal = statement.get("Principal")
    if principal is None:
        return []
    if isinstance(principal, str):
        return [principal]
    return [str(p) for values in principal.values() for p in as_list(values)]


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    return {key.lower() for block in (statement.get("Condition") or {}).values() for key in block}


def denies_insecure_transport(document: Any) -> bool:
    for statement in statements(document):
        if statement["Effect"] != "Deny":
            continue
        for block in (statement.get("Condition") or {}).values():
            for key, value in block.items():
                if key.lower() == "aws:securetransport" and str(value).lower() == "false":
                    return True
    return False


def tags_of(resource: Resource) -> dict[str, str]:
    """The resource's own tags merged over its provider's default tags."""
    defaults = parse_json(resource.provider.get("defaultTags")) or {}
    merged = dict(defaults.get("tags") or {}) if isinstance(defaults, Mapping) else {}
    merged.update(resource.get("tags") or {})
    return {str(k): str(v) for k, v in merged.items()}


def related(stack: Stack, type_: str, prop: str, target: Resource, *values: Any) -> list[Resource]:
    """Resources of `type_` whose `prop` refers to `target` by dependency or by one of `values`."""
    found = []
    for resource in stack.of_type(type_):
        if target.urn in resource.property_dependencies.get(prop, ()) or (
            resource.props.known(prop) is not None
            and resource.props.known(prop) in [v for v in values if v is not None]
        ):
            found.append(resource)
    return found
