"""Rules as plain checks over plain resources; the CrossGuard policies are built from them.

A rule says what it requires, why it matters and how to fix it, and yields findings. The framework
turns it into a pulumi_policy policy that reports each finding with the why and the fix, unless a
suppression in the policy's config covers the resource: then the finding is recorded for the
`suppressed-findings` report (advisory) with its reason. A suppression without a reason, or past its
expiry, suppresses nothing, so the violation stands.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError


class Unknown:
    """A value the engine cannot know during preview (an ARN of a resource not created yet)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"<unknown {self.path}>"


class UndecidedInput(Exception):
    """A rule read an input that is unknown during preview: that rule, on that resource, cannot decide."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class Malformed(Exception):
    """An input of a kind the provider accepts whose content is not the shape AWS documents (a policy
    that is JSON but not an object, a list item that is a number). The rule reports it as its finding."""


def _contains_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


_READS = itertools.count(1)


class Inputs(Mapping[str, Any]):
    """A resource's inputs as a rule reads them. Reading an input that is, or holds, an unknown value
    raises `UndecidedInput`: the rule decides on the inputs it reads, and only those can stop it.
    `read` records what was read (tests check rules against unknowns in everything else)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()
        self.last_read: str | None = None
        self.reads = 0
        """When this resource was last read (a global sequence), to say where a stack rule stopped."""

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        self.last_read = key
        self.reads = next(_READS)
        value = self._values[key]
        if _contains_unknown(value):
            raise UndecidedInput(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._values:
            self.read.add(key)  # an absent input is read too: the rule decided on its absence
            return default
        return self[key]

    def known(self, key: str) -> Any:
        """The input, or None while it is unknown (for joins that also follow dependencies)."""
        try:
            return self.get(key)
        except UndecidedInput:
            return None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True)
class Resource:
    """A resource as a rule sees it: inputs as plain values, its options, its provider's config."""

    type: str
    name: str
    urn: str
    props: Inputs
    protect: bool = False
    parent: str = ""
    provider: Inputs = field(default_factory=lambda: Inputs({}))
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.props.get(key, default)

    def json(self, key: str) -> Any:
        """A property that pulumi-aws takes as a JSON string (policies, definitions, patterns)."""
        return parse_json(self.props.get(key))

    @property
    def region(self) -> str | None:
        region = self.props.get("region") or self.provider.get("region")
        return region if isinstance(region, str) else None


class Stack:
    """All resources of a stack, indexed for the joins that v7's split resources need."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in resources}
        self.undecided: list[tuple[str, str]] = []
        """Subjects a stack rule could not judge for an unknown input: (urn, input)."""
        self.asked: set[str] = set()
        """The types a stack rule asked for (tests check them against the rule's declared `types`)."""

    def of_type(self, *types: str) -> list[Resource]:
        self.asked.update(types)
        return [r for r in self.resources if r.type in types]

    @contextlib.contextmanager
    def deciding(self, subject: Resource) -> Iterator[None]:
        """A stack rule's judgement of one subject: an unknown input it reads stops that judgement
        only, so the rule still decides every other subject (the resources it yields findings on)."""
        try:
            yield
        except UndecidedInput as error:
            self.undecided.append((subject.urn, error.path))


Finding = str
ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[Finding]]
StackCheck = Callable[[Stack, Mapping[str, Any]], Iterable[tuple[str, Finding]]]


@dataclass(frozen=True, kw_only=True)
class Rule:
    id: str
    description: str
    why: str
    fix: str
    level: EnforcementLevel = EnforcementLevel.MANDATORY
    severity: Severity = Severity.HIGH
    anchors: str = ""
    """The public rules this one matches (cdk-nag, Security Hub FSBP, checkov), or `platform`."""
    types: tuple[str, ...] = ()
    """Resource rules: the types checked (empty: every resource). Stack rules: the types joined (the
    README's table shows them; a test checks that a stack rule asks for no other)."""
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    """Extra config properties (JSON schema) with their defaults."""


@dataclass(frozen=True)
class SuppressedFinding:
    policy: str
    urn: str
    message: str
    reason: str
    expires: str | None


SUPPRESSED: list[SuppressedFinding] = []
"""Suppressed findings of this analysis, reported (advisory) by the last stack policy."""

SUPPRESSION_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "resource": {"type": "string", "description": "URN pattern (fnmatch: * and ?)"},
            "reason": {"type": "string"},
            "expires": {"type": "string", "description": "YYYY-MM-DD; after it the suppression stops applying"},
        },
        "required": ["resource"],
    },
    "default": [],
}


def suppression_for(urn: str, config: Mapping[str, Any], today: dt.date) -> tuple[Mapping[str, Any] | None, str | None]:
    """The suppression covering `urn`, or why the one that matches does not count."""
    for entry in config.get("suppressions") or []:
        if not fnmatch.fnmatchcase(urn, str(entry.get("resource", ""))):
            continue
        reason = str(entry.get("reason") or "").strip()
        if not reason:
            return None, "a suppression matches but has no reason, so it does not apply"
        expires = entry.get("expires")
        if expires:
            try:
                until = dt.date.fromisoformat(str(expires))
            except ValueError:
                return None, f"a suppression matches but its expiry {expires!r} is not a date"
            if until < today:
                return None, f"a suppression matched until {expires} and has expired"
        return entry, None
    return None, None


def _report(
    rule: Rule, report: ReportViolation, urn: str, finding: Finding, config: Mapping[str, Any], *, stack_level: bool
) -> None:
    suppression, problem = suppression_for(urn, config, dt.date.today())
    if suppression is not None:
        SUPPRESSED.append(
            SuppressedFinding(rule.id, urn, finding, str(suppression["reason"]), suppression.get("expires"))
        )
        return
    message = f"{finding}\nWhy: {rule.why}\nFix: {rule.fix}"
    if problem:
        message += f"\n(Not suppressed: {problem}.)"
    # Stack policies must name the resource; for resource policies the engine knows it already.
    report(message, urn if stack_level else None)


def to_resource(
    args: Any,
    *,
    parent: str = "",
    dependencies: Sequence[str] = (),
    property_dependencies: Mapping[str, Sequence[str]] | None = None,
) -> Resource:
    provider_props: Mapping[str, Any] = {}
    if getattr(args, "provider", None) is not None:
        provider_props = plain(args.provider.props)
    opts = getattr(args, "opts", None)
    return Resource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=Inputs(plain(args.props)),
        protect=bool(getattr(opts, "protect", False)),
        parent=parent or (getattr(opts, "parent", None) or ""),
        provider=Inputs(provider_props),
        dependencies=tuple(dependencies),
        property_dependencies={k: tuple(v) for k, v in (property_dependencies or {}).items()},
    )


def plain(value: Any, path: str = "") -> Any:
    """The policy SDK's unknown-checking proxies as plain dicts and lists, each unknown value kept as an
    `Unknown` where it is (the proxy raises on reading one; here only the rule that reads it stops)."""
    if isinstance(value, Mapping):
        return {str(k): _read(value, k, f"{path}.{k}") for k in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_read(value, i, f"{path}[{i}]") for i in range(len(value))]
    return value


def _read(container: Any, key: Any, path: str) -> Any:
    try:
        return plain(container[key], path)
    except UnknownValueError:
        return Unknown(path.lstrip("."))


def unreadable(rule: Rule, resource: Resource, error: Exception) -> Finding:
    """A rule that meets an input in a form it cannot read (a wrong kind, a JSON document of the wrong
    shape) reports that as its finding: the resource is not shown compliant, and the preview never
    crashes on it. The message names the input last read, where the rule stopped."""
    where = f"input `{resource.props.last_read}`" if resource.props.last_read else "an input"
    detail = str(error)[:200] if isinstance(error, Malformed) else f"{type(error).__name__}: {str(error)[:200]}"
    return (
        f"{rule.id} cannot evaluate this resource: {where} is not in a form it can read ({detail}). "
        "Write it in the shape pulumi-aws and AWS document."
    )


def evaluate(rule: Rule, resource: Resource, config: Mapping[str, Any]) -> list[Finding]:
    """The rule's findings on one resource, as the policy reports them: a rule never raises here but
    on an unknown input it reads (`UndecidedInput`)."""
    assert rule.check is not None, rule.id
    if rule.types and resource.type not in rule.types:
        return []
    try:
        return list(rule.check(resource, config))
    except UndecidedInput:
        raise
    except Exception as error:  # any input the rule cannot read is itself a finding
        return [unreadable(rule, resource, error)]


def evaluate_stack(rule: Rule, stack: Stack, config: Mapping[str, Any]) -> list[tuple[str, Finding]]:
    """A stack rule's findings; one it cannot finish is reported on the resource it was reading."""
    assert rule.stack_check is not None, rule.id
    findings: list[tuple[str, Finding]] = []
    try:
        for urn, finding in rule.stack_check(stack, config):
            findings.append((urn, finding))
    except UndecidedInput:
        raise
    except Exception as error:
        reading = max(stack.resources, key=lambda r: r.props.reads, default=None)
        if reading is None:
            raise
        findings.append((reading.urn, unreadable(rule, reading, error)))
    if stack.undecided and not findings:
        raise UndecidedInput(stack.undecided[0][1])  # nothing decided against: "cannot decide in preview"
    return findings


def _undecided(error: UndecidedInput) -> UnknownValueError:
    """The SDK's own "can't run policy during preview" (advisory in preview; in `up` inputs are known)."""
    return UnknownValueError(UNKNOWN_STRING_VALUE, error.path.split("."))


def parse_json(value: Any) -> Any:
    """A JSON string input parsed (an empty one is nothing); one that is not JSON is malformed."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError) as error:
            raise Malformed(f"cannot parse the JSON document: {error}") from None
    return value


def build(rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    schema = PolicyConfigSchema(properties={"suppressions": SUPPRESSION_SCHEMA, **rule.config})
    common: dict[str, Any] = {
        "name": rule.id,
        "description": rule.description,
        "enforcement_level": rule.level,
        "config_schema": schema,
        "severity": rule.severity,
        "remediation_steps": rule.fix,
    }
    if rule.anchors:
        common["framework"] = PolicyComplianceFramework(name="anchors", reference=rule.anchors)
    if rule.stack_check is not None:

        def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
            config = args.get_config()
            stack = Stack(
                [
                    to_resource(
                        r,
                        parent=r.parent.urn if r.parent is not None else "",
                        dependencies=[d.urn for d in r.dependencies],
                        property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
                    )
                    for r in args.resources
                ]
            )
            try:
                for urn, finding in evaluate_stack(rule, stack, config):
                    _report(rule, report, urn, finding, config, stack_level=True)
            except UndecidedInput as error:
                raise _undecided(error) from None

        return StackValidationPolicy(validate=validate_stack, **common)

    assert rule.check is not None, rule.id

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if rule.types and args.resource_type not in rule.types:
            return
        config = args.get_config()
        resource = to_resource(args)
        try:
            for finding in evaluate(rule, resource, config):
                _report(rule, report, args.urn, finding, config, stack_level=False)
        except UndecidedInput as error:
            raise _undecided(error) from None

    return ResourceValidationPolicy(validate=validate, **common)


def suppressed_findings_policy() -> StackValidationPolicy:
    """Reports what was suppressed, with the reason: suppressions stay visible, never silent."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        findings = list(SUPPRESSED)
        SUPPRESSED.clear()
        for finding in findings:
            until = f" (until {finding.expires})" if finding.expires else ""
            report(f"SUPPRESSED {finding.policy}: {finding.message}\nReason{until}: {finding.reason}", finding.urn)

    return StackValidationPolicy(
        name="suppressed-findings",
        description="Violations suppressed by the stack's policy config, listed with their reasons.",
        enforcement_level=EnforcementLevel.ADVISORY,
        validate=validate,
        severity=Severity.LOW,
    )
