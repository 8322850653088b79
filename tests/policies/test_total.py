"""Every rule is a total function: any input gets an answer in bounded time, never an exception.

A rule that raises fails the whole preview (the engine reports the policy pack as failed), so one odd
input would stop every pull request. Two property tests, each starting from the real resources of
the rule's own cases (tests/policies/test_rules.py) so the generated values reach deep into rules:

- **Declared kinds.** Some inputs are replaced by values of the kinds the provider SDK declares for
  them (nested types included), or by null, or by an unknown. Such an input is one the provider
  accepts: the rule must judge it, raising nothing but `Malformed` (a string input that should hold a
  JSON document and does not, which the rule reports as its finding).
- **Wrong kinds.** Values anywhere, JSON documents inside string inputs included, are replaced by
  values of any kind (a list for a principal, a number for a policy, JSON that is not JSON, 10**18).
  Evaluated as the pack does, the result is findings, a malformed value being itself one.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from platform_policies import RULES
from platform_policies.framework import (
    Inputs,
    Malformed,
    Resource,
    Rule,
    Stack,
    UndecidedInput,
    Unknown,
    evaluate,
    evaluate_stack,
)

from tests.policies.schema_inputs import inputs_of, unknown
from tests.policies.seen import as_seen, reads_of
from tests.policies.test_rules import CASES, pick
from tools.mock_runtime import RecordedResource
from tools.policy_eval import PolicyPackServer

BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BOUND_SECONDS = 1.0
"""One rule on one case's resources; the slowest rule takes a few milliseconds."""

EXAMPLES = settings(
    max_examples=int(os.environ.get("POLICY_FUZZ_EXAMPLES", "12")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
"""Derandomized, so CI sees the same examples each run. To search harder, raise POLICY_FUZZ_EXAMPLES
(`POLICY_FUZZ_EXAMPLES=500 make test ARGS=tests/policies/test_total.py`)."""

RULE_IDS = sorted({rule.id for rule in RULES})


def _rule(rule_id: str) -> Rule:
    return next(rule for rule in RULES if rule.id == rule_id)


@functools.cache
def _seeds(rule_id: str) -> list[tuple[list[RecordedResource], dict[str, Any]]]:
    """The resources of each of the rule's cases, compliant and non-compliant."""
    seeds = []
    for case in CASES:
        if case.rule == rule_id:
            good = pick(case.stack, case.names)
            if case.good is not None:
                case.good(good)
            bad = pick(case.stack, case.names)
            case.bad(bad)
            config = case.config.get(rule_id, {})
            seeds += [(good, config), (bad, config)]
    return seeds


def _run(rule: Rule, resources: list[RecordedResource], config: dict[str, Any], *, guarded: bool) -> list[Any]:
    """The rule's findings; `guarded` evaluates as the pack does, else calls the rule's own check."""
    seen = as_seen(resources)
    try:
        if rule.stack_check is not None:
            return evaluate_stack(rule, Stack(seen), config) if guarded else list(rule.stack_check(Stack(seen), config))
        assert rule.check is not None
        check = rule.check
        findings: list[Any] = []
        for resource in seen:
            if not rule.types or resource.type in rule.types:
                findings += evaluate(rule, resource, config) if guarded else list(check(resource, config))
        return findings
    except UndecidedInput:
        return []
    except Malformed as error:  # the rule's own word that a JSON document is not the documented shape
        return [str(error)]


def _timed(rule: Rule, resources: list[RecordedResource], config: dict[str, Any], *, guarded: bool) -> list[Any]:
    started = time.monotonic()
    findings = _run(rule, resources, config, guarded=guarded)
    assert time.monotonic() - started < BOUND_SECONDS, f"{rule.id} took {time.monotonic() - started:.1f}s"
    assert all(isinstance(f, str | tuple) for f in findings)
    return findings


@pytest.mark.parametrize("rule_id", RULE_IDS)
@EXAMPLES
@given(data=st.data())
def test_a_rule_judges_every_input_of_a_declared_kind(rule_id: str, data: st.DataObject) -> None:
    rule = _rule(rule_id)
    resources, config = copy.deepcopy(data.draw(st.sampled_from(_seeds(rule_id)), label="case"))
    reads = reads_of(rule, resources, config)
    readable = [r for r in resources if reads.get(r.urn)]  # none for a rule on options (`protect`) alone
    chosen = st.lists(st.sampled_from(readable), min_size=1, max_size=2, unique_by=id) if readable else st.just([])
    for resource in data.draw(chosen, label="on"):
        read = frozenset(reads[resource.urn])
        resource.inputs.update(data.draw(inputs_of(resource.type, read), label=resource.name))
    _timed(rule, resources, config, guarded=False)


# Wrong kinds: any JSON-like value, a JSON string of one, or an unknown.
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=6),
    st.sampled_from(["*", "{", "[1]", "null", "0.0.0.0/0", "::/0", "-1", "arn:aws:iam::*:root"]),
)  # fmt: skip
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
wild = st.one_of(_json, _json.map(json.dumps), unknown)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in an input, JSON documents in string inputs included (marked by a `json` step)."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*prefix, index))
    elif isinstance(value, str) and value[:1] in "[{":
        try:
            document = json.loads(value)
        except ValueError:
            return
        for path in _paths(document):
            if path:
                yield (*prefix, ("json", *path))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    step, rest = path[0], path[1:]
    if isinstance(step, tuple):
        return json.dumps(_replace(json.loads(value), step[1:], new))
    value[step] = _replace(value[step], rest, new)
    return value


@pytest.mark.parametrize("rule_id", RULE_IDS)
@EXAMPLES
@given(data=st.data())
def test_a_rule_answers_any_input_with_findings_never_an_exception(rule_id: str, data: st.DataObject) -> None:
    rule = _rule(rule_id)
    resources, config = copy.deepcopy(data.draw(st.sampled_from(_seeds(rule_id)), label="case"))
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        resource = data.draw(st.sampled_from(resources), label="resource")
        places = [p for p in _paths(resource.inputs) if p]
        if places:
            place = data.draw(st.sampled_from(places), label=f"{resource.name} at")
            in_json = any(isinstance(step, tuple) for step in place)  # an unknown is a whole input, never in JSON
            value = data.draw(_json | _json.map(json.dumps) if in_json else wild, label="value")
            resource.inputs = _replace(resource.inputs, place, value)
    _timed(rule, resources, config, guarded=True)


def test_an_unreadable_input_is_a_finding_through_the_analyzer(pack: PolicyPackServer) -> None:
    """Through the engine's interface: an ingress written as a number is reported, not a crashed preview."""
    resources = pick("stg", ("cluster-alb-sg",))
    next(r for r in resources if r.name == "cluster-alb-sg").inputs["ingress"] = 7
    pack.configure({"all": "mandatory"}, stack="test")
    found = [v for v in pack.analyze(resources) if v.policy == "sg-no-world-ingress"]
    assert [v.level for v in found] == ["mandatory"]
    assert "cannot evaluate this resource: input `ingress`" in found[0].message


@pytest.mark.parametrize(
    "principal", ["*", ["*"], {"AWS": "*"}, {"AWS": ["arn:aws:iam::210987654321:root", "*"]}], ids=repr
)
def test_every_form_of_an_open_principal_is_judged_not_reported_unreadable(principal: Any) -> None:
    """A principal as a string, a list (AWS refuses it, the provider sends it) or a map of lists."""
    document = {"Statement": [{"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "*"}]}
    resource = Resource(type=BUCKET_POLICY, name="p", urn="urn:p", props=Inputs({"policy": json.dumps(document)}))
    findings = evaluate(_rule("s3-policy-not-public"), resource, {})
    assert findings
    assert all("allows anyone" in f for f in findings), findings


@pytest.mark.parametrize(
    "policy", ["not json", json.dumps([{"Statement": []}]), json.dumps({"Statement": 7})], ids=repr
)
def test_a_policy_document_that_cannot_be_parsed_is_a_finding(policy: str) -> None:
    resource = Resource(type=BUCKET_POLICY, name="p", urn="urn:p", props=Inputs({"policy": policy}))
    findings = evaluate(_rule("s3-policy-not-public"), resource, {})
    assert len(findings) == 1
    assert "cannot evaluate this resource: input `policy`" in findings[0]


def test_unknown_is_not_a_string() -> None:
    """The generated unknowns are the framework's own marker, which reading raises on."""
    with pytest.raises(UndecidedInput):
        _ = Inputs({"x": Unknown("x")})["x"]
