"""The PCI DSS evidence report: every rule accounted for, verdicts that follow the pack's, suppressions
with their reasons, and the command that writes it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from platform_policies import RULES, pci

from tests.conftest import stack_run
from tools import compliance
from tools.policy_eval import PolicyReport, Violation, evaluate, load_policy_config


@cache
def _report(stack: str) -> PolicyReport:
    return evaluate(stack_run(stack))


def _content(report: PolicyReport, stack: str = "prd") -> dict[str, Any]:
    return compliance.build(report, load_policy_config(stack))


def _requirement(content: dict[str, Any], rule: str) -> dict[str, Any]:
    return next(r for r in content["requirements"] if any(x["rule"] == rule for x in r["rules"]))


def test_every_rule_is_under_a_requirement_or_named_hygiene_and_each_exists() -> None:
    mapped = {rule for r in pci.REQUIREMENTS for rule in r.rules}
    assert mapped.isdisjoint(pci.HYGIENE)
    assert mapped | set(pci.HYGIENE) == {rule.id for rule in RULES}


def test_a_requirement_without_rules_states_its_gap() -> None:
    for requirement in pci.REQUIREMENTS:
        assert requirement.rules or requirement.gap, requirement.id


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_the_stacks_meet_every_requirement_they_declare_and_suppressions_carry_reasons(stack: str) -> None:
    content = _content(_report(stack), stack)
    for requirement in content["requirements"]:
        expected = "not declared" if not requirement["rules"] else ("met in part" if requirement["gap"] else "met")
        assert requirement["verdict"] == expected, requirement["id"]
    verdicts = [x for r in content["requirements"] for x in r["rules"]] + content["hygiene"]
    suppressions = [s for x in verdicts for s in x["suppressions"]]
    assert len({(s["resource"], s["finding"]) for s in suppressions}) == len(_report(stack).suppressed)
    assert all(s["reason"].strip() and s["resource"].startswith(f"urn:pulumi:{stack}::") for s in suppressions)


def test_a_failing_rule_makes_its_requirements_not_met_and_shows_the_finding() -> None:
    clean = _report("prd")
    urn = "urn:pulumi:prd::platform::x"
    finding = Violation("mandatory", "rds-force-ssl", urn, "app does not set rds.force_ssl=1\nWhy: w\nFix: f")
    failing = dataclasses.replace(clean, violations=[*clean.violations, finding])
    content = _content(failing)
    for requirement in content["requirements"]:
        rules = {x["rule"]: x for x in requirement["rules"]}
        if "rds-force-ssl" in rules:
            assert requirement["verdict"] == "not met"
            assert rules["rds-force-ssl"]["findings"] == [
                {"resource": urn, "level": "mandatory", "finding": "app does not set rds.force_ssl=1"}
            ]
    text = compliance.render(content, commit="abc1234", today=dt.date(2026, 12, 7))
    assert "app does not set rds.force_ssl=1" in text
    assert "| 2.2.7 " in text
    assert "**not met**" in text


def test_a_disabled_rule_does_not_count_as_meeting_its_requirement() -> None:
    report = _report("prd")
    config = {**load_policy_config("prd"), "elb-tls": "disabled"}
    content = compliance.build(dataclasses.replace(report, levels={**report.levels, "elb-tls": "disabled"}), config)
    assert _requirement(content, "elb-tls")["verdict"] == "not met"


def test_the_command_writes_the_markdown_and_json_for_the_assessor(tmp_path: Path, capsys: Any) -> None:
    assert compliance.main(["--stack", "stg", "--out-dir", str(tmp_path)]) == 0
    text = (tmp_path / "stg.md").read_text()
    data = json.loads((tmp_path / "stg.json").read_text())
    assert text.startswith("# PCI DSS v4.0.1 evidence: stack `stg`")
    assert "## Outside this repository" in text
    assert all(f"## {r['id']} " in text for r in data["requirements"])
    assert {o["id"] for o in data["outOfScope"]} == {o.id for o in pci.OUT_OF_SCOPE}
    assert "PCI DSS requirements" in capsys.readouterr().out


def test_an_unknown_stack_is_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    assert compliance.main(["--stack", "nope", "--out-dir", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_report_round_trips_through_its_json_with_every_rules_level() -> None:
    report = _report("stg")
    assert set(report.levels) >= {rule.id for rule in RULES}
    assert PolicyReport.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_verdict_changes_name_each_rule_whose_verdict_moved_and_its_requirements() -> None:
    base = _report("prd")
    assert compliance.verdict_changes(base, base) == []
    finding = Violation("mandatory", "rds-force-ssl", "urn:pulumi:prd::platform::x", "no force_ssl\nWhy: w\nFix: f")
    levels = {k: v for k, v in base.levels.items() if k != "elb-tls"}
    head = dataclasses.replace(base, violations=[*base.violations, finding], levels=levels)
    changes = {c.rule: c for c in compliance.verdict_changes(base, head)}
    assert set(changes) == {"rds-force-ssl", "elb-tls"}
    assert (changes["rds-force-ssl"].before, changes["rds-force-ssl"].after) == ("passes", "fails")
    assert "2.2.7" in changes["rds-force-ssl"].requirements
    assert changes["elb-tls"].after == compliance.NOT_IN_PACK
