"""Reading a refresh's events: drift, no drift, or a failed check, never confused (tools/drift.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.drift import CLEAN, DRIFT, FAILED, DriftCheck, from_refresh_events, issue_body, marker
from tools.stack_config import StackConfig, StackFileError, tunnel_targets

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def read(name: str, exit_code: int = 0) -> DriftCheck:
    return from_refresh_events((FIXTURES / name).read_text(), "prd", exit_code=exit_code)


def test_drifted_resources_and_their_properties() -> None:
    check = read("refresh_drift.jsonl")
    assert check.status == DRIFT
    assert [(d.op, d.type, d.name, d.properties) for d in check.resources] == [
        ("update", "aws:cloudwatch/logGroup:LogGroup", "api-logs", ("retentionInDays", "tags.x")),
        ("delete", "aws:cloudwatch/metricAlarm:MetricAlarm", "api-5xx", ()),
        ("update", "aws:ec2/securityGroup:SecurityGroup", "api-sg", ("ingress[0]",)),
    ]
    assert check.checked == 4
    assert DriftCheck.from_json(json.loads(json.dumps(check.to_json()))) == check


def test_no_drift() -> None:
    check = read("refresh_clean.jsonl")
    assert (check.status, check.resources, check.checked) == (CLEAN, [], 2)


@pytest.mark.parametrize(
    ("text", "exit_code", "reason"),
    [
        ((FIXTURES / "refresh_error.jsonl").read_text(), 255, "connection refused"),
        ((FIXTURES / "refresh_clean.jsonl").read_text(), 1, "pulumi refresh exited 1"),
        ("\n".join((FIXTURES / "refresh_drift.jsonl").read_text().splitlines()[:-1]), 0, "no summary event"),
        ("", 0, "no summary event"),
        ("error: could not load plugin\n", 0, "no summary event"),
    ],
)
def test_a_failed_check_says_nothing_about_drift(text: str, exit_code: int, reason: str) -> None:
    check = from_refresh_events(text, "prd", exit_code=exit_code)
    assert check.status == FAILED
    assert any(reason in error for error in check.errors), check.errors


def test_the_issue_body_starts_with_the_stacks_marker_and_lists_every_resource() -> None:
    body = issue_body(read("refresh_drift.jsonl"), commit="a" * 40, run_url="https://example.invalid/run")
    assert body.startswith(marker("prd") + "\n")
    assert body.count("outside Pulumi |") == 3
    assert "commit `aaaaaaaaaaaa`" in body


def stack(databases: dict[str, object], services: dict[str, object]) -> StackConfig:
    values = {"platform:databases": json.dumps(databases), "platform:apps": json.dumps({"services": services})}
    return StackConfig("platform", "stg", values)


def test_tunnels_go_through_the_first_app_client_of_each_database() -> None:
    config = stack({"app": {"clients": ["settlement", "api"]}, "ledger": {"clients": ["ledger-api"]}},
                   {"api": {}, "ledger-api": {}})  # fmt: skip
    assert tunnel_targets(config) == [("app", "api"), ("ledger", "ledger-api")]
    with pytest.raises(StackFileError, match=r"databases\.app\.clients: no app among them"):
        tunnel_targets(stack({"app": {"clients": ["settlement"]}}, {"api": {}}))
