"""The platform's own stacks against the pack, and how suppressions behave."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import pytest
from platform_policies import RULES

from tests.conftest import stack_run
from tests.policies.test_rules import named, pick
from tools import preview
from tools.policy_eval import PACK_DIR, PolicyPackServer, PolicyReport, evaluate, load_policy_config


@cache
def report(stack: str) -> PolicyReport:
    return evaluate(stack_run(stack))


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_own_stacks_have_no_unsuppressed_mandatory_violation(stack: str) -> None:
    verdict = report(stack)
    assert verdict.policies == len(RULES) + 1
    assert verdict.mandatory == [], "\n".join(v.message for v in verdict.mandatory)
    assert verdict.advisory == [], "\n".join(v.message for v in verdict.advisory)


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_suppressed_findings_are_reported_with_their_reasons(stack: str) -> None:
    suppressed = report(stack).suppressed
    assert suppressed
    for finding in suppressed:
        assert finding.level == "advisory"
        assert "SUPPRESSED " in finding.message
        assert "Reason" in finding.message
        assert finding.urn.startswith(f"urn:pulumi:{stack}::platform::")


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_policy_config_names_real_policies_and_every_suppression_has_a_reason(stack: str) -> None:
    config = load_policy_config(stack)
    known = {rule.id for rule in RULES} | {"all", "suppressed-findings"}
    assert set(config) <= known
    for policy, settings in config.items():
        if not isinstance(settings, dict):
            continue
        for suppression in settings.get("suppressions", []):
            assert len(suppression.get("reason", "")) > 80, f"{policy}: a suppression needs a reason an auditor accepts"
            assert suppression["resource"].startswith(f"urn:pulumi:{stack}::platform::")


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_security_rules_are_mandatory_in_both_stacks(stack: str) -> None:
    config = load_policy_config(stack)
    assert config["all"] == "mandatory"
    # `all` applies to every policy: the suppressed-findings report must be pinned to advisory, or
    # `pulumi preview` would fail on findings that were suppressed on purpose.
    assert config["suppressed-findings"] == "advisory"
    security = {
        "s3-public-access-block", "s3-tls-only", "rds-not-public", "rds-storage-encrypted", "iam-least-privilege",
        "iam-trust-scoped", "no-plain-secrets", "postgres-provider-tls", "sg-no-world-ingress",
    }  # fmt: skip
    for policy in security:
        level = config.get(policy, "mandatory")
        assert (level if isinstance(level, str) else level.get("enforcementLevel", "mandatory")) == "mandatory"


def _port_case(suppression: dict[str, str]) -> tuple[list[str], list[str]]:
    resources = pick("stg", ("app-instance",))
    config = {"all": "mandatory", "rds-non-default-port": {"suppressions": [suppression]}}
    with PolicyPackServer() as pack:
        pack.configure(config, stack="stg")
        violations = pack.analyze(resources)
    mandatory = [v.message for v in violations if v.policy == "rds-non-default-port"]
    suppressed = [v.message for v in violations if v.policy == "suppressed-findings"]
    return mandatory, suppressed


URN = "urn:pulumi:stg::platform::*::app-instance"


def test_a_suppression_with_a_reason_moves_the_finding_to_the_suppressed_report() -> None:
    mandatory, suppressed = _port_case({"resource": URN, "reason": "behind isolated subnets"})
    assert mandatory == []
    assert len(suppressed) == 1
    assert "behind isolated subnets" in suppressed[0]


def test_a_suppression_without_a_reason_suppresses_nothing() -> None:
    mandatory, suppressed = _port_case({"resource": URN})
    assert suppressed == []
    assert "has no reason" in mandatory[0]


def test_an_expired_suppression_suppresses_nothing() -> None:
    mandatory, _ = _port_case({"resource": URN, "reason": "temporary", "expires": "2020-01-01"})
    assert "has expired" in mandatory[0]


def test_a_suppression_for_another_resource_suppresses_nothing() -> None:
    mandatory, suppressed = _port_case({"resource": "urn:pulumi:stg::platform::*::card-instance", "reason": "x"})
    assert suppressed == []
    assert len(mandatory) == 1


def test_a_future_expiry_still_suppresses() -> None:
    mandatory, suppressed = _port_case({"resource": URN, "reason": "until the migration", "expires": "2999-01-01"})
    assert mandatory == []
    assert "until 2999-01-01" in suppressed[0]


def test_preview_exits_3_on_a_mandatory_violation(project_copy: Path, tmp_path: Path) -> None:
    stack_file = project_copy / "Pulumi.stg.yaml"
    text = stack_file.read_text().replace(
        "    vpcCidr: 10.50.0.0/16\n", "    vpcCidr: 10.50.0.0/16\n    flowLogRetentionDays: 1\n"
    )
    stack_file.write_text(text)
    code = preview.main(["--stack", "stg", "--project-dir", str(project_copy), "--out-dir", str(tmp_path)])
    assert code == preview.EXIT_POLICY
    written = json.loads((tmp_path / "stg.policy.json").read_text())
    assert [v["policy"] for v in written["mandatory"]] == ["log-retention"]
    assert "keeps logs 1 days; at least 30" in written["mandatory"][0]["message"]


def test_resources_are_sent_with_their_provider(pack: PolicyPackServer) -> None:
    resources = pick("stg", ("app-pg-role-api",))
    provider = named(resources, "app-pg-provider")
    broken = copy.deepcopy(resources)
    named(broken, "app-pg-provider").inputs["sslmode"] = "disable"
    pack.configure({"all": "mandatory"}, stack="stg")
    assert not [v for v in pack.analyze(resources) if v.policy == "postgres-provider-tls"]
    assert [v for v in pack.analyze(broken) if v.policy == "postgres-provider-tls"]
    assert provider.type == "pulumi:providers:postgresql"


def test_pack_directory_is_a_pulumi_policy_pack() -> None:
    text = (PACK_DIR / "PulumiPolicy.yaml").read_text()
    assert "name: python" in text
    assert "virtualenv: venv" in text
    assert "version:" in text
