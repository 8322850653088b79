"""The mail pipeline on the mock runtime: regions, resource policies, ordering, queues, functions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import assert_rejected, config_of, policy_of
from tools.mock_runtime import ProgramRun, RecordedResource

MAIL_REGION = "us-east-1"


def _account(run: ProgramRun) -> str:
    return {"stg": "210987654321", "prd": "123456789012"}[run.stack]


def descendants(run: ProgramRun, urn: str) -> list[RecordedResource]:
    found = []
    for child in run.children_of(urn):
        found.append(child)
        found += descendants(run, child.urn)
    return found


def provider_name(resource: RecordedResource) -> str:
    return resource.provider.split("::")[-2]


def rule_arn(run: ProgramRun, rule: str) -> str:
    rule_set = f"platform-{run.stack}-mail-inbound"
    return f"arn:aws:ses:{MAIL_REGION}:{_account(run)}:receipt-rule-set/{rule_set}:receipt-rule/{rule}"


def test_every_mail_resource_is_in_the_mail_region_and_the_task_in_the_primary(platform: ProgramRun) -> None:
    (pipeline,) = platform.of_type("platform:mail:MailPipeline")
    (processor,) = platform.of_type("platform:mail:MailProcessor")
    in_processor = {r.urn for r in descendants(platform, processor.urn)}
    resources = [r for r in descendants(platform, pipeline.urn) if r.custom]
    assert len(resources) > 40
    for resource in resources:
        expected = "platform-aws" if resource.urn in in_processor else "platform-aws-mail"
        assert provider_name(resource) == expected, resource.name
    mail_provider = platform.named("platform-aws-mail")
    assert mail_provider.inputs["region"] == MAIL_REGION
    assert platform.named("mail-processor-task").inputs["family"] == f"platform-{platform.stack}-mail-processor"


def test_ses_may_store_raw_mail_only_for_its_rule(platform: ProgramRun) -> None:
    statements = {s["Sid"]: s for s in policy_of(platform.named("mail-bucket-policy").inputs)["Statement"]}
    store = statements["SesStoresRawMail"]
    assert store["Principal"] == {"Service": "ses.amazonaws.com"}
    assert store["Action"] == ["s3:PutObject"]
    assert store["Resource"] == [f"arn:aws:s3:::platform-{platform.stack}-inbound-mail-{_account(platform)}/raw/*"]
    assert store["Condition"] == {
        "StringEquals": {"aws:SourceAccount": _account(platform)},
        "ArnEquals": {"aws:SourceArn": rule_arn(platform, "store")},
    }
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"


def test_ses_may_publish_receipts_to_the_topic(platform: ProgramRun) -> None:
    (statement,) = policy_of(platform.named("mail-topic-policy").inputs)["Statement"]
    assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
    assert statement["Action"] == ["sns:Publish"]
    assert statement["Condition"]["ArnEquals"] == {"aws:SourceArn": rule_arn(platform, "store")}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": _account(platform)}


def test_ses_may_invoke_the_status_function_for_its_rule(platform: ProgramRun) -> None:
    permission = platform.named("mail-status-invoke").inputs
    assert permission["principal"] == "ses.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["sourceAccount"] == _account(platform)
    assert permission["sourceArn"] == rule_arn(platform, "status")
    assert permission["function"] == f"platform-{platform.stack}-mail-status"


def test_only_the_topic_may_send_to_the_queue(platform: ProgramRun) -> None:
    statements = {s["Sid"]: s for s in policy_of(platform.named("mail-queue-policy").inputs)["Statement"]}
    assert set(statements) == {"TopicDelivers", "DenyInsecureTransport"}
    statement = statements["TopicDelivers"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == ["sqs:SendMessage"]
    topic = f"arn:aws:sns:{MAIL_REGION}:{_account(platform)}:platform-{platform.stack}-inbound-mail"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic}}
    subscription = platform.named("mail-subscription")
    assert subscription.inputs["protocol"] == "sqs"
    assert subscription.inputs["rawMessageDelivery"] is True
    assert platform.named("mail-queue-policy").urn in subscription.dependencies


def test_rules_depend_on_the_policies_they_need(platform: ProgramRun) -> None:
    store = platform.named("mail-rule-store")
    assert platform.named("mail-bucket-policy").urn in store.dependencies
    assert platform.named("mail-topic-policy").urn in store.dependencies
    status = platform.named("mail-rule-status")
    assert platform.named("mail-status-invoke").urn in status.dependencies
    assert status.inputs["after"] == "store"


def test_store_rule_requires_tls_scans_and_stores_with_a_notification(platform: ProgramRun) -> None:
    config = config_of(platform)
    store = platform.named("mail-rule-store").inputs
    assert store["recipients"] == list(config.mail.recipients)
    assert store["tlsPolicy"] == "Require"
    assert store["scanEnabled"] is True
    (action,) = store["s3Actions"]
    assert action["objectKeyPrefix"] == "raw/"
    assert action["topicArn"].endswith(f":platform-{platform.stack}-inbound-mail")
    (invoke,) = platform.named("mail-rule-status").inputs["lambdaActions"]
    assert invoke["invocationType"] == "Event"
    active = platform.named("mail-active-rule-set").inputs
    assert active["ruleSetName"] == f"platform-{platform.stack}-mail-inbound"


def test_the_gate_runs_first_and_synchronously_so_a_stop_keeps_mail_from_being_stored(platform: ProgramRun) -> None:
    gate, store = platform.named("mail-rule-gate"), platform.named("mail-rule-store")
    assert "after" not in gate.inputs  # the first rule of the set
    assert store.inputs["after"] == "gate"
    assert gate.inputs["scanEnabled"] is True  # the verdicts the gate reads
    assert gate.inputs["recipients"] == store.inputs["recipients"]
    (invoke,) = gate.inputs["lambdaActions"]
    assert invoke["invocationType"] == "RequestResponse"
    assert invoke["functionArn"].endswith(f":function:platform-{platform.stack}-mail-gate")
    permission = platform.named("mail-gate-invoke")
    assert permission.inputs["sourceArn"] == rule_arn(platform, "gate")
    assert permission.inputs["sourceAccount"] == _account(platform)
    assert permission.urn in gate.dependencies
    # It decides from the event alone: its role may write its own logs and nothing else.
    granted = [r.name for r in platform.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.startswith("mail-gate-")]
    assert granted == ["mail-gate-logs-policy"]


def test_status_events_that_keep_failing_land_in_an_encrypted_queue(platform: ProgramRun) -> None:
    config = platform.named("mail-status-invoke-config")
    queue = platform.named("mail-status-failed")
    assert config.inputs["functionName"] == f"platform-{platform.stack}-mail-status"
    assert config.property_dependencies["destinationConfig"] == [queue.urn]
    assert queue.inputs["kmsMasterKeyId"].endswith("key/mock-mail-key")
    statements = {s["Sid"]: s for s in policy_of(platform.named("mail-status-failures").inputs)["Statement"]}
    assert statements["SendFailedEvents"]["Action"] == ["sqs:SendMessage"]
    assert platform.named("mail-status-failures").urn in config.dependencies


def test_dns_records_for_receiving_and_dkim(platform: ProgramRun) -> None:
    domain = config_of(platform).mail.domain
    mx = platform.named("mail-mx").inputs
    assert mx["records"] == [f"10 inbound-smtp.{MAIL_REGION}.amazonaws.com"]
    assert mx["name"] == domain
    assert platform.named("mail-verification").inputs["name"] == f"_amazonses.{domain}"
    dkim = [platform.named(f"mail-dkim-{i}").inputs for i in range(3)]
    assert all(r["type"] == "CNAME" and r["name"].endswith(f"._domainkey.{domain}") for r in dkim)


def test_visibility_timeout_covers_six_dispatcher_timeouts(platform: ProgramRun) -> None:
    queue = platform.named("mail-queue").inputs
    function = platform.named("mail-dispatcher-function").inputs
    source = platform.named("mail-dispatcher-source").inputs
    assert queue["visibilityTimeoutSeconds"] >= 6 * function["timeout"] + source["maximumBatchingWindowInSeconds"]
    redrive = json.loads(queue["redrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"].endswith(f":platform-{platform.stack}-inbound-mail-dlq")
    assert platform.named("mail-dlq").inputs["messageRetentionSeconds"] == 14 * 24 * 3600


def test_queues_topic_table_and_bucket_use_the_mail_key(platform: ProgramRun) -> None:
    key = f"arn:aws:kms:{MAIL_REGION}:{_account(platform)}:key/mock-mail-key"
    assert platform.named("mail-queue").inputs["kmsMasterKeyId"] == key
    assert platform.named("mail-dlq").inputs["kmsMasterKeyId"] == key
    assert platform.named("mail-topic").inputs["kmsMasterKeyId"] == key
    table = platform.named("mail-table").inputs
    assert table["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key}
    encryption = platform.named("mail-bucket-encryption").inputs["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"] == {"kmsMasterKeyId": key, "sseAlgorithm": "aws:kms"}


def test_key_policy_lets_ses_and_sns_use_the_key_from_this_account(platform: ProgramRun) -> None:
    key = platform.named("mail-key").inputs
    assert key["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in policy_of(key)["Statement"]}
    assert statements["AccountAdministersThroughIam"]["Principal"] == {"AWS": f"arn:aws:iam::{_account(platform)}:root"}
    for sid, service in (("SesEncrypts", "ses.amazonaws.com"), ("SnsEncryptsForQueue", "sns.amazonaws.com")):
        assert statements[sid]["Principal"] == {"Service": service}
        assert statements[sid]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert statements[sid]["Condition"] == {"StringEquals": {"aws:SourceAccount": _account(platform)}}


@pytest.mark.parametrize(
    ("via", "allowed"),
    [(None, False), ("s3", True), ("sqs", True), ("dynamodb", True), ("sns", True), ("secretsmanager", False)],
)
def test_roles_use_the_mail_key_only_through_the_stores_it_encrypts(
    platform: ProgramRun, via: str | None, allowed: bool
) -> None:
    from tests.iam_eval import Request, key_allows

    account = _account(platform)
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    context = {"kms:CallerAccount": account}
    if via is not None:
        context["kms:ViaService"] = f"{via}.{MAIL_REGION}.amazonaws.com"
    request = Request(f"arn:aws:iam::{account}:role/anyone", "kms:Decrypt", "arn:aws:kms:x", context)
    assert key_allows(request, platform.named("mail-key").inputs["policy"], [everything]) is allowed


def test_dedup_table(platform: ProgramRun) -> None:
    table = platform.named("mail-table")
    assert table.inputs["hashKey"] == "messageId"
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["deletionProtectionEnabled"] is (platform.stack == "prd")
    assert table.protect is (platform.stack == "prd")
    assert platform.named("mail-bucket").protect is (platform.stack == "prd")


def test_dispatcher_consumes_with_batch_item_failures_and_a_concurrency_cap(platform: ProgramRun) -> None:
    source = platform.named("mail-dispatcher-source").inputs
    assert source["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["scalingConfig"] == {"maximumConcurrency": 5}
    assert source["eventSourceArn"].endswith(f":platform-{platform.stack}-inbound-mail")
    function = platform.named("mail-dispatcher-function").inputs
    assert function["runtime"] == "python3.13"
    assert function["architectures"] == ["arm64"]
    assert function["handler"] == "handler.handler"
    assert set(function["code"].assets) == {"handler.py"}
    env = function["environment"]["variables"]
    assert env["ECS_REGION"] == "ap-northeast-1"
    assert env["TASK_DEFINITION"] == f"platform-{platform.stack}-mail-processor"
    assert env["SECURITY_GROUPS"] == "mail-processor-sg-id"
    assert env["SUBNETS"] == ",".join(platform.outputs["appSubnetIds"])
    # What the handler needs to keep its lease inside the queue's visibility and finish before its deadline.
    queue = platform.named("mail-queue").inputs
    source = platform.named("mail-dispatcher-source").inputs
    assert env["MAIL_BUCKET"] == platform.named("mail-bucket").inputs["bucket"]
    assert int(env["VISIBILITY_TIMEOUT_SECONDS"]) == queue["visibilityTimeoutSeconds"]
    assert int(env["BATCHING_WINDOW_SECONDS"]) == source["maximumBatchingWindowInSeconds"]
    lease_needs = int(env["BATCHING_WINDOW_SECONDS"]) + 2 * function["timeout"] + int(env["LEASE_MARGIN_SECONDS"])
    assert lease_needs < queue["visibilityTimeoutSeconds"]
    assert 0 < int(env["DEADLINE_RESERVE_MS"]) < function["timeout"] * 1000
    assert "LEASE_SECONDS" not in env
    logs = platform.named("mail-dispatcher-logs").inputs
    assert logs["name"] == f"/aws/lambda/platform-{platform.stack}-mail-dispatcher"
    assert logs["retentionInDays"] == {"stg": 30, "prd": 365}[platform.stack]


def test_dispatcher_role_is_least_privilege(platform: ProgramRun) -> None:
    account = _account(platform)
    statements = {s["Sid"]: s for s in policy_of(platform.named("mail-dispatcher-consume").inputs)["Statement"]}
    assert statements["ConsumeQueue"]["Resource"] == [
        f"arn:aws:sqs:{MAIL_REGION}:{account}:platform-{platform.stack}-inbound-mail"
    ]
    assert statements["ClaimMessages"]["Action"] == ["dynamodb:UpdateItem"]
    family = f"arn:aws:ecs:ap-northeast-1:{account}:task-definition/platform-{platform.stack}-mail-processor"
    assert statements["RunProcessingTask"]["Resource"] == [family, f"{family}:*"]
    assert statements["RunProcessingTask"]["Condition"]["ArnEquals"]["ecs:cluster"].endswith(
        f":cluster/platform-{platform.stack}"
    )
    assert statements["PassProcessingRoles"]["Resource"] == [
        f"arn:aws:iam::{account}:role/mail-processor-task-role",
        f"arn:aws:iam::{account}:role/mail-processor-execution-role",
    ]
    assert statements["PassProcessingRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert statements["ReadRawMail"]["Resource"][0].endswith("/raw/*")
    for statement in statements.values():
        assert "*" not in statement["Resource"]
        assert not any(a.endswith(":*") for a in statement["Action"])
    (trust,) = policy_of(platform.named("mail-dispatcher-role").inputs, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_status_function_may_only_update_the_table(platform: ProgramRun) -> None:
    statements = {s["Sid"]: s for s in policy_of(platform.named("mail-status-record").inputs)["Statement"]}
    assert statements["RecordStatus"]["Action"] == ["dynamodb:UpdateItem"]
    assert statements["RecordStatus"]["Resource"] == [
        f"arn:aws:dynamodb:{MAIL_REGION}:{_account(platform)}:table/platform-{platform.stack}-mail-messages"
    ]


def test_processing_task_may_read_raw_mail_and_reach_its_database(platform: ProgramRun) -> None:
    read = policy_of(platform.named("mail-raw-mail-read-processor").inputs)
    assert read["Statement"][0]["Action"] == ["s3:GetObject"]
    assert platform.named("mail-raw-mail-read-processor").inputs["role"] == "mail-processor-task-role-id"
    egress = [
        r.inputs.get("referencedSecurityGroupId")
        for r in platform.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == "mail-processor-sg-id"
    ]
    assert sorted(filter(None, egress)) == ["app-sg-id"]


def test_mail_alert_specs(platform: ProgramRun) -> None:
    from platform_config.alert_catalog import mail_alerts
    from platform_config.context import StackContext

    config = config_of(platform)
    specs = {s.key: s for s in mail_alerts(StackContext.from_config(config))}
    assert set(specs) >= {
        "mail.dlq-depth",
        "mail.oldest-message",
        "mail.dispatcher-errors",
        "mail.dispatcher-throttles",
        "mail.run-task-failures",
    }
    assert f"queuename:platform-{platform.stack}-inbound-mail-dlq" in specs["mail.dlq-depth"].metric


def _mail(values: dict[str, Any]) -> dict[str, Any]:
    return values


BAD_MAIL = [
    pytest.param(
        lambda m: m.update(region="ap-northeast-3"),
        "platform:mail.region: SES does not receive mail in ap-northeast-3",
        id="region-without-ses-receiving",
    ),
    pytest.param(
        lambda m: m.update(domain="Inbound_Mail"),
        "platform:mail.domain: must be a lowercase DNS name",
        id="invalid-domain",
    ),
    pytest.param(
        lambda m: m["recipients"].append("someone@elsewhere.example"),
        "platform:mail.recipients[2]: 'someone@elsewhere.example' is not an address of",
        id="recipient-outside-domain",
    ),
    pytest.param(
        lambda m: m.update(queueVisibilityTimeoutSeconds=120),
        "platform:mail.queueVisibilityTimeoutSeconds: 120 is below 365: a redelivery must come after "
        "6 x platform:mail.dispatcher.timeoutSeconds (60)",
        id="visibility-below-function-timeout",
    ),
    pytest.param(
        # With a 1 s dispatcher the claim lease, not AWS's 6 x advice, sets the floor: 0 + 2 + 10 + 1.
        lambda m: (
            m["dispatcher"].update(timeoutSeconds=1, batchingWindowSeconds=0),
            m.update(queueVisibilityTimeoutSeconds=12),
        ),
        "platform:mail.queueVisibilityTimeoutSeconds: 12 is below 13: a redelivery must come after",
        id="visibility-inside-a-dead-claims-lease",
    ),
    pytest.param(
        lambda m: m["dispatcher"].update(maximumConcurrency=1),
        "platform:mail.dispatcher.maximumConcurrency: must be at least 2",
        id="concurrency-below-sqs-minimum",
    ),
    pytest.param(
        lambda m: m["processingTask"].update(app="mailer"),
        "platform:mail.processingTask.app: unknown app 'mailer'",
        id="unknown-processing-app",
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD_MAIL)
def test_bad_mail_config_is_rejected_with_its_key(
    stack_values: Callable[[str], dict[str, str]], change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    assert_rejected(stack_values("stg"), "platform:mail", change, expected, stack="stg")
