"""Small readers for the shapes pulumi-aws inputs take (policy JSON strings, tag maps, lists)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from platform_policies.framework import Malformed, Resource, Stack, parse_json


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {str(value)[:40]!r}"


def obj(value: Any) -> Mapping[str, Any]:
    """An object input or JSON field: null is an empty one; anything else is malformed."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise Malformed(f"expected an object, found {_kind(value)}")


def objs(value: Any) -> list[Mapping[str, Any]]:
    """A list of objects (or one object, as JSON documents allow); null items are nothing."""
    items = [item for item in as_list(value) if item is not None]
    for item in items:
        if not isinstance(item, Mapping):
            raise Malformed(f"expected a list of objects, found an item {_kind(item)}")
    return items


def number(value: Any, default: int) -> int:
    """An integer input (pulumi-aws also takes one written as a numeric string); null is the default."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise Malformed(f"expected a number, found {_kind(value)}")
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Malformed(f"expected a number, found {_kind(value)}") from None
    if not math.isfinite(number):
        raise Malformed(f"expected a number, found {_kind(value)}")
    return int(number)


def strings(value: Any) -> list[str]:
    """A string or a list of them (IAM's Action, a CIDR list); numbers read as text, null as nothing."""
    found = []
    for item in as_list(value):
        if isinstance(item, Mapping | list):
            raise Malformed(f"expected strings, found {_kind(item)}")
        if item is not None:
            found.append(str(item).lower() if isinstance(item, bool) else str(item))
    return found


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(document: Any) -> Iterator[dict[str, Any]]:
    """The statements of an IAM-style policy document (a JSON string or a dict), normalised."""
    for statement in objs(obj(parse_json(document)).get("Statement")):
        yield {
            **statement,
            "Action": strings(statement.get("Action")),
            "Resource": strings(statement.get("Resource")),
            "Effect": str(statement.get("Effect", "Allow")),
        }


def principals(statement: Mapping[str, Any]) -> list[str]:
    """Every principal of a statement: `*`, service names, ARNs."""
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        return [p for values in principal.values() for p in strings(values)]
    return strings(principal)  # `*`, or what AWS would refuse but a rule must still read: a list, a number


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    return {str(key).lower() for block in obj(statement.get("Condition")).values() for key in obj(block)}


def denies_insecure_transport(document: Any) -> bool:
    for statement in statements(document):
        if statement["Effect"] != "Deny":
            continue
        for block in obj(statement.get("Condition")).values():
            for key, value in obj(block).items():
                if str(key).lower() == "aws:securetransport" and "false" in strings(value):
                    return True
    return False


def tags_of(resource: Resource) -> dict[str, str]:
    """The resource's own tags merged over its provider's default tags."""
    merged = dict(obj(obj(parse_json(resource.provider.get("defaultTags"))).get("tags")))
    merged.update(obj(resource.get("tags")))
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
