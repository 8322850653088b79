"""Hypothesis strategies for a resource's inputs, derived from the provider SDK's own input types.

pulumi-aws (and the postgresql, datadog and pagerduty SDKs) declare every input of a resource in its
`<Type>Args` class: a property per input, its engine name in `pulumi.getter(name=...)`, its type in
the annotation (`Optional[Input[Sequence[Input[SecurityGroupIngressArgs]]]]`). Walking those gives
values of the kinds the provider accepts, nested types included, so the property tests need no
hand-written list of shapes. Any value may also be null or unknown (a preview), numbers reach the
extremes, and strings come from a vocabulary of what rules look for (wildcards, open CIDRs) plus
arbitrary text.
"""

from __future__ import annotations

import collections.abc
import importlib
import keyword
import sys
import types
import typing
from functools import cache
from typing import Any, ForwardRef

from hypothesis import strategies as st
from platform_policies.framework import Unknown

MAX_DEPTH = 4
"""Deeper nested inputs (WAF statements nest without end) are left out."""

WORDS = (
    "*", "", "0.0.0.0/0", "::/0", "10.0.0.0/8", "-1", "tcp", "all", "Allow", "Deny", "true", "false",
    "arn:aws:iam::*:root", "arn:aws:kms:ap-northeast-1:210987654321:key/x", "s3.amazonaws.com",
    "ap-northeast-1", "us-east-1", "Require", "aws:kms", "AES256", "ENABLED", "DISABLED", "ALL",
    "HTTPS", "HTTP", "443", "80", "5432", "rate(1 day)", "cron(0 3 * * ? *)", "latest", "image:tag",
)  # fmt: skip

texts = st.one_of(st.sampled_from(WORDS), st.text(max_size=12))
integers = st.one_of(st.integers(-1, 70000), st.integers(-(2**63), 2**63), st.sampled_from([10**18, -(10**18)]))
floats = st.floats(allow_nan=True, allow_infinity=True)
unknown = st.builds(Unknown, st.just("generated"))


def _module_of(token: str) -> types.ModuleType:
    package, module, _ = token.split(":", 2)
    root = importlib.import_module(f"pulumi_{package}")
    part = module.split("/", 1)[0].replace("-", "_")
    if part == "index":
        return root
    return importlib.import_module(
        f"pulumi_{package}.{part}_" if keyword.iskeyword(part) else f"pulumi_{package}.{part}"
    )


def args_class(token: str) -> type | None:
    """`aws:ec2/securityGroup:SecurityGroup` -> pulumi_aws.ec2.SecurityGroupArgs (None if absent)."""
    try:
        module = _module_of(token)
    except (ImportError, ValueError):
        return None
    found = getattr(module, f"{token.rsplit(':', 1)[1]}Args", None)
    return found if isinstance(found, type) else None


def _properties(cls: type) -> dict[str, Any]:
    """Engine name -> annotation of each input the class declares."""
    found = {}
    for attribute in vars(cls).values():
        getter = getattr(attribute, "fget", None)
        name = getattr(getter, "_pulumi_name", None)
        if name and "return" in getattr(getter, "__annotations__", {}):
            found[name] = getter.__annotations__["return"]
    return found


def _resolve(ref: ForwardRef, cls: type) -> Any:
    return vars(sys.modules[cls.__module__]).get(ref.__forward_arg__)


SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    str: texts, bool: st.booleans(), int: integers, float: st.one_of(floats, integers),
    Any: st.one_of(texts, integers, st.booleans(), st.none()),
}  # fmt: skip


def _strategy(annotation: Any, owner: type, depth: int) -> st.SearchStrategy[Any]:
    if isinstance(annotation, ForwardRef):
        annotation = _resolve(annotation, owner)
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [
            _strategy(a, owner, depth)
            for a in arguments
            if typing.get_origin(a) is not collections.abc.Awaitable and a is not type(None)
        ]
        return st.one_of(*members) if members else st.none()
    if origin in (collections.abc.Sequence, list, collections.abc.Mapping, dict):
        return _container(origin, arguments, owner, depth)
    if annotation in SCALARS:
        return SCALARS[annotation]
    if isinstance(annotation, type) and _properties(annotation):
        return st.just({}) if depth >= MAX_DEPTH else _object(annotation, depth + 1)
    return st.nothing()  # an unresolvable reference (`Output[T]`): not a value a program sends


def _container(origin: Any, arguments: tuple[Any, ...], owner: type, depth: int) -> st.SearchStrategy[Any]:
    listed = origin in (collections.abc.Sequence, list)
    if depth >= MAX_DEPTH:
        return st.just([] if listed else {})
    item = _maybe(_strategy(arguments[0 if listed else 1], owner, depth + 1))
    return st.lists(item, max_size=3) if listed else st.dictionaries(texts, item, max_size=3)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Any input may be null, or unknown during a preview."""
    return st.one_of(strategy, strategy, strategy, st.none(), unknown)


@cache
def _object(cls: type, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {}, optional={name: _maybe(_strategy(a, cls, depth)) for name, a in sorted(_properties(cls).items())}
    )


@cache
def inputs_of(token: str, names: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Values for the named inputs of a resource type, each of a kind its SDK declares, or null, or
    unknown (names the SDK does not declare are left out)."""
    cls = args_class(token)
    if cls is None:
        return st.just({})
    declared = {n: a for n, a in sorted(_properties(cls).items()) if n in names}
    return st.fixed_dictionaries({n: _maybe(_strategy(a, cls, 0)) for n, a in declared.items()})
