"""The account's detective baseline, on the bootstrap's desired state: what an assessor asks evidence of."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.account_baseline import ALARMS, GUARD_DUTY_FEATURES
from platform_config import ConfigError
from platform_config.bootstrap import ALARM_ENDPOINT_KEY, load_bootstrap_config
from tests.components.test_access import ACCOUNTS, ALARM_ENDPOINT, BOOTSTRAP, bootstrap, bootstrap_run
from tools.mock_runtime import ProgramRun
from tools.stack_config import load_stack_config

STACKS = ("stg", "prd")


def settings_of(stack: str) -> dict[str, Any]:
    value = json.loads(load_stack_config(BOOTSTRAP, stack).values["platform-bootstrap:settings"])
    assert isinstance(value, dict)
    return value


def regions_of(stack: str) -> list[str]:
    settings = settings_of(stack)
    return [settings.get("region", "ap-northeast-1"), *settings.get("detective", {}).get("otherRegions", [])]


def key_arn(stack: str) -> str:
    """The audit key's ARN as the offline mocks name it (tools/mocks.py)."""
    return f"arn:aws:kms:ap-northeast-1:{ACCOUNTS[stack]}:key/mock-bootstrap-baseline-key"


def statements(document: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


@pytest.mark.parametrize("stack", STACKS)
def test_one_multi_region_validated_encrypted_trail_with_a_log_copy(stack: str) -> None:
    run = bootstrap(stack)
    (trail,) = run.of_type("aws:cloudtrail/trail:Trail")
    inputs = trail.inputs
    assert inputs["isMultiRegionTrail"] is True
    assert inputs["includeGlobalServiceEvents"] is True
    assert inputs["enableLogFileValidation"] is True
    assert inputs["kmsKeyId"] == key_arn(stack)
    assert inputs["s3BucketName"] == run.named("bootstrap-baseline-logs").inputs["bucket"]
    logs = run.named("bootstrap-baseline-trail-logs").inputs
    assert logs["retentionInDays"] >= 365
    assert inputs["cloudWatchLogsGroupArn"] == (
        f"arn:aws:logs:ap-northeast-1:{ACCOUNTS[stack]}:log-group:/platform/{stack}/cloudtrail:*"
    )
    assert any("bootstrap-baseline-logs-policy" in dep for dep in trail.dependencies)
    assert trail.protect is True  # audit trail and logs are protected in every account


@pytest.mark.parametrize("stack", STACKS)
def test_the_audit_bucket_is_locked_versioned_logged_and_written_only_by_the_services(stack: str) -> None:
    run = bootstrap(stack)
    account = ACCOUNTS[stack]
    lock = run.named("bootstrap-baseline-logs-object-lock").inputs["rule"]["defaultRetention"]
    assert lock["mode"] == ("COMPLIANCE" if stack == "prd" else "GOVERNANCE")
    assert lock["days"] >= 365
    assert run.named("bootstrap-baseline-logs").inputs["objectLockEnabled"] is True
    assert run.named("bootstrap-baseline-logs-versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    logging = run.named("bootstrap-baseline-logs-logging").inputs
    assert logging["targetBucket"] == run.named("bootstrap-baseline-access-logs").inputs["bucket"]
    policy = statements(run.named("bootstrap-baseline-logs-policy").inputs["policy"])
    assert policy["CloudTrailWrites"]["Resource"] == [
        f"arn:aws:s3:::platform-{stack}-audit-logs-{account}/AWSLogs/{account}/*"
    ]
    assert policy["CloudTrailWrites"]["Condition"]["StringEquals"]["aws:SourceArn"].endswith(
        ":trail/platform-" + stack + "-audit"
    )
    assert policy["ConfigWrites"]["Condition"]["StringEquals"]["aws:SourceAccount"] == account
    assert policy["DenyInsecureTransport"]["Effect"] == "Deny"
    access = statements(run.named("bootstrap-baseline-access-logs-policy").inputs["policy"])
    assert access["S3ServerAccessLogs"]["Principal"] == {"Service": "logging.s3.amazonaws.com"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_audit_key_lets_each_service_use_it_only_for_this_account(stack: str) -> None:
    run = bootstrap(stack)
    key = run.named("bootstrap-baseline-key")
    assert key.inputs["enableKeyRotation"] is True
    policy = statements(key.inputs["policy"])
    for sid, grant in policy.items():
        if "Service" in grant.get("Principal", {}) and sid != "CloudTrailDescribesTheKey":
            assert grant.get("Condition"), f"{sid} lets a service use the key for anyone"
    assert policy["CloudTrailEncryptsItsLogs"]["Action"] == ["kms:GenerateDataKey*"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_alarm_has_its_filter_and_reaches_the_encrypted_topic(stack: str) -> None:
    run = bootstrap(stack)
    topic = run.named("bootstrap-baseline-alarms")
    assert topic.inputs["kmsMasterKeyId"] == key_arn(stack)
    for key in ALARMS:
        metric = run.named(f"bootstrap-baseline-filter-{key}").inputs["metricTransformation"]
        alarm = run.named(f"bootstrap-baseline-alarm-{key}").inputs
        assert (alarm["namespace"], alarm["metricName"]) == (metric["namespace"], metric["name"])
        assert alarm["alarmActions"] == [f"arn:aws:sns:ap-northeast-1:{ACCOUNTS[stack]}:{topic.inputs['name']}"]
        assert alarm["threshold"] == 1
        assert alarm["treatMissingData"] == "notBreaching"
    (publish,) = statements(run.named("bootstrap-baseline-alarms-policy").inputs["policy"]).values()
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNTS[stack]}}


def test_prd_alarms_page_on_call_through_a_secret_endpoint_and_stg_pages_no_one() -> None:
    oncall = bootstrap("prd").named("bootstrap-baseline-alarms-oncall")
    assert oncall.inputs["protocol"] == "https"
    assert "endpoint" in oncall.secret_inputs
    assert not [
        r for r in bootstrap("stg").of_type("aws:sns/topicSubscription:TopicSubscription") if "oncall" in r.name
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_regional_services_run_in_every_region_the_platform_uses(stack: str) -> None:
    run = bootstrap(stack)
    regions = regions_of(stack)
    assert len(regions) > 1, "the mail region is covered too"
    for index, region in enumerate(regions):
        detector = run.named(f"bootstrap-baseline-guardduty-{region}")
        assert detector.inputs["enable"] is True
        assert detector.inputs["region"] == region
        features = {
            r.inputs["name"]: r.inputs
            for r in run.of_type("aws:guardduty/detectorFeature:DetectorFeature")
            if r.inputs["region"] == region
        }
        assert set(features) == set(GUARD_DUTY_FEATURES)
        assert all(f["status"] == "ENABLED" for f in features.values())
        assert features["RUNTIME_MONITORING"]["additionalConfigurations"] == [
            {"name": "ECS_FARGATE_AGENT_MANAGEMENT", "status": "ENABLED"}
        ]
        recorder = run.named(f"bootstrap-baseline-config-{region}").inputs
        assert recorder["recordingGroup"]["allSupported"] is True
        # Global resources (IAM) recorded once, in the primary region.
        assert recorder["recordingGroup"]["includeGlobalResourceTypes"] is (index == 0)
        channel = run.named(f"bootstrap-baseline-config-{region}-delivery").inputs
        assert channel["s3BucketName"] == run.named("bootstrap-baseline-logs").inputs["bucket"]
        assert channel["s3KmsKeyArn"] == key_arn(stack)
        assert run.named(f"bootstrap-baseline-config-{region}-status").inputs["isEnabled"] is True
        standards = {
            r.inputs["standardsArn"]
            for r in run.of_type("aws:securityhub/standardsSubscription:StandardsSubscription")
            if r.inputs["region"] == region
        }
        assert standards == {
            f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0",
            f"arn:aws:securityhub:{region}::standards/pci-dss/v/4.0.1",
        }
        assert run.named(f"bootstrap-baseline-access-analyzer-{region}").inputs["type"] == "ACCOUNT"


def _run_with(stack: str, detective: dict[str, Any]) -> ProgramRun:
    def change(settings: dict[str, Any]) -> None:
        settings["detective"] = {**settings.get("detective", {}), **detective}

    return bootstrap_run(stack, change)


def test_controls_the_organization_provides_are_not_created_again() -> None:
    keys = ("cloudTrail", "guardDuty", "configRecorder", "securityHub", "accessAnalyzer")
    run = _run_with("prd", dict.fromkeys(keys, "organization"))
    types = {r.type for r in run.resources}
    for absent in (
        "aws:cloudtrail/trail:Trail",
        "aws:guardduty/detector:Detector",
        "aws:cfg/recorder:Recorder",
        "aws:securityhub/account:Account",
        "aws:accessanalyzer/analyzer:Analyzer",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
    ):
        assert absent not in types, absent
    assert "aws:s3/bucket:Bucket" in types  # the state and audit buckets stay


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (lambda v: v.pop(ALARM_ENDPOINT_KEY, None), ALARM_ENDPOINT_KEY, "required in prd"),
        (lambda v: v.update({ALARM_ENDPOINT_KEY: "http://example.com"}), ALARM_ENDPOINT_KEY, "https://"),
    ],
    ids=["missing-endpoint", "plain-http-endpoint"],
)
def test_a_bad_alarm_endpoint_is_refused_with_its_key(change: Any, key: str, message: str) -> None:
    values = {**load_stack_config(BOOTSTRAP, "prd").values, ALARM_ENDPOINT_KEY: ALARM_ENDPOINT}
    change(values)
    with pytest.raises(ConfigError, match=rf"{key}: .*{message}"):
        load_bootstrap_config(values, stack="prd")


@pytest.mark.parametrize(
    ("detective", "key"),
    [
        ({"auditLogRetentionDays": 90}, "detective.auditLogRetentionDays"),
        ({"otherRegions": ["ap-northeast-1"]}, "detective.otherRegions[0]"),
        ({"otherRegions": ["Tokyo"]}, "detective.otherRegions[0]"),
        ({"cloudTrail": "off"}, "detective.cloudTrail"),
        ({"alarmEmails": ["not-an-address"]}, "detective.alarmEmails[0]"),
    ],
    ids=["retention-below-a-year", "other-region-is-the-region", "not-a-region", "unknown-provision", "bad-email"],
)
def test_bad_detective_settings_are_refused_with_their_key(detective: dict[str, Any], key: str) -> None:
    values = {**load_stack_config(BOOTSTRAP, "stg").values}
    settings = settings_of("stg")
    settings["detective"] = {**settings.get("detective", {}), **detective}
    values["platform-bootstrap:settings"] = json.dumps(settings)
    with pytest.raises(ConfigError) as caught:
        load_bootstrap_config(values, stack="stg")
    assert f"platform-bootstrap:settings.{key}" in str(caught.value)
