"""Cron batches on the mock runtime: state machines, their roles, schedules and failure signals."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from statelint.linter import Linter

from platform_config import ConfigError, load_platform_config
from platform_lib.state_machines import definition_paths
from tests.conftest import assert_rejected, config_of, platform_config, policy_of, with_area
from tools.mock_runtime import ProgramRun


def definition(run: ProgramRun, batch: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(run.named(f"{batch}-state-machine").inputs["definition"])
    return loaded


def _account(run: ProgramRun) -> str:
    return {"stg": "210987654321", "prd": "123456789012"}[run.stack]


def test_every_definition_passes_statelint(platform: ProgramRun) -> None:
    for batch in config_of(platform).batches:
        assert Linter.validate(definition(platform, batch)) == [], batch


def test_statelint_catches_a_broken_definition(stg: ProgramRun) -> None:
    broken = definition(stg, "settlement")
    broken["States"]["Run ECS Task"]["Next"] = "Nowhere"
    assert Linter.validate(broken) != []


def test_the_task_runs_with_the_configured_command_and_input_driven_environment(platform: ProgramRun) -> None:
    config = config_of(platform)
    for batch in config_of(platform).batches:
        settings = config.batches[batch]
        state = definition(platform, batch)["States"]["Run ECS Task"]
        assert state["Resource"] == "arn:aws:states:::ecs:runTask.sync"
        parameters = state["Parameters"]
        assert parameters["LaunchType"] == "FARGATE"
        assert parameters["EnableExecuteCommand"] is True
        assert (
            parameters["Cluster"]
            == f"arn:aws:ecs:ap-northeast-1:{_account(platform)}:cluster/platform-{platform.stack}"
        )
        assert parameters["TaskDefinition"].startswith(
            f"arn:aws:ecs:ap-northeast-1:{_account(platform)}:task-definition/platform-{platform.stack}-{batch}:"
        )
        network = parameters["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"
        assert sorted(network["Subnets"]) == sorted(platform.outputs["appSubnetIds"])
        assert network["SecurityGroups"] == [f"{batch}-sg-id"]
        (override,) = parameters["Overrides"]["ContainerOverrides"]
        assert override["Name"] == "app"
        assert override["Command"] == list(settings.command)
        assert override["Environment"] == [{"Name": k, "Value.$": f"$.{k}"} for k in sorted(settings.input)]


def test_value_paths_name_keys_of_the_input(platform: ProgramRun) -> None:
    config = config_of(platform)
    for batch in config_of(platform).batches:
        paths = definition_paths(definition(platform, batch))
        assert {p.removeprefix("$.") for p in paths} == set(config.batches[batch].input)
        schedule_input = json.loads(platform.named(f"{batch}-schedule").inputs["target"]["input"])
        assert set(schedule_input) == set(config.batches[batch].input)


def test_retry_and_catch_as_configured(platform: ProgramRun) -> None:
    """ECS API errors always retry; failed tasks as configured (none for `maxAttempts: 0`); then Fail."""
    for batch, settings in config_of(platform).batches.items():
        machine = definition(platform, batch)
        state = machine["States"]["Run ECS Task"]
        api_retry, *task_retries = state["Retry"]
        assert api_retry["ErrorEquals"] == ["AmazonECS.Unknown", "ECS.AmazonECSException"]
        retry = settings.retry
        expected = [
            {
                "ErrorEquals": ["States.TaskFailed"],
                "IntervalSeconds": retry.interval_seconds,
                "MaxAttempts": retry.max_attempts,
                "BackoffRate": retry.backoff_rate,
            }
        ]
        assert task_retries == (expected if retry.max_attempts else [])
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "Failed", "ResultPath": "$.error"}]
        assert machine["States"]["Failed"]["Type"] == "Fail"
        assert state["TimeoutSeconds"] == settings.timeout_minutes * 60
        assert machine["TimeoutSeconds"] == (1 + retry.max_attempts) * settings.timeout_minutes * 60 + 600


def test_a_batch_without_task_retries_retries_only_the_ecs_api(stg: ProgramRun) -> None:
    """`maxAttempts: 0` (statement-run in the fixture stack) leaves only the API-error retry."""
    statements = definition(stg, "statement-run")["States"]["Run ECS Task"]["Retry"]
    assert [r["ErrorEquals"] for r in statements] == [["AmazonECS.Unknown", "ECS.AmazonECSException"]]


def test_state_machines_are_standard_logged_and_traced(platform: ProgramRun) -> None:
    for batch in config_of(platform).batches:
        machine = platform.named(f"{batch}-state-machine").inputs
        assert machine["type"] == "STANDARD"
        assert machine["name"] == f"platform-{platform.stack}-{batch}"
        destination = machine["loggingConfiguration"]["logDestination"]
        assert destination.endswith(f":log-group:/aws/vendedlogs/states/platform-{platform.stack}-{batch}:*")
        assert machine["tracingConfiguration"] == {"enabled": True}


def test_state_machine_role_has_exactly_what_sync_needs(platform: ProgramRun) -> None:
    account = _account(platform)
    for batch in config_of(platform).batches:
        policy = policy_of(platform.named(f"{batch}-state-machine-policy").inputs)
        statements = {s["Sid"]: s for s in policy["Statement"]}
        for statement in policy["Statement"]:
            assert not any(a == "*" or a.endswith(":*") for a in statement["Action"])
        family = f"arn:aws:ecs:ap-northeast-1:{account}:task-definition/platform-{platform.stack}-{batch}"
        assert statements["RunBatchTask"]["Resource"] == [family, f"{family}:*"]
        assert statements["RunBatchTask"]["Condition"] == {
            "ArnEquals": {"ecs:cluster": f"arn:aws:ecs:ap-northeast-1:{account}:cluster/platform-{platform.stack}"}
        }
        assert statements["WatchBatchTask"]["Action"] == ["ecs:DescribeTasks", "ecs:StopTask"]
        assert statements["SyncTaskEvents"]["Resource"] == [
            f"arn:aws:events:ap-northeast-1:{account}:rule/StepFunctionsGetEventsForECSTaskRule"
        ]
        assert statements["SyncTaskEvents"]["Action"] == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]


def test_state_machine_role_passes_only_its_own_task_roles(platform: ProgramRun) -> None:
    account = _account(platform)
    for batch in config_of(platform).batches:
        policy = policy_of(platform.named(f"{batch}-state-machine-policy").inputs)
        (pass_role,) = [s for s in policy["Statement"] if "iam:PassRole" in s["Action"]]
        assert pass_role["Resource"] == [
            f"arn:aws:iam::{account}:role/{batch}-task-role",
            f"arn:aws:iam::{account}:role/{batch}-execution-role",
        ]
        assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
        trust = policy_of(platform.named(f"{batch}-state-machine-role").inputs, "assumeRolePolicy")["Statement"][0]
        assert trust["Principal"] == {"Service": "states.amazonaws.com"}


def test_schedules_in_their_time_zone_with_retry_and_dead_letter_queue(platform: ProgramRun) -> None:
    config = config_of(platform)
    for batch in config_of(platform).batches:
        schedule = platform.named(f"{batch}-schedule").inputs
        assert schedule["scheduleExpression"] == config.batches[batch].schedule
        assert schedule["scheduleExpressionTimezone"] == config.batches[batch].time_zone
        assert schedule["groupName"] == f"platform-{platform.stack}-batches"
        assert schedule["state"] == ("ENABLED" if config.batches[batch].enabled else "DISABLED")
        assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
        target = schedule["target"]
        assert (
            target["arn"]
            == f"arn:aws:states:ap-northeast-1:{_account(platform)}:stateMachine:platform-{platform.stack}-{batch}"
        )
        assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 3}
        assert target["deadLetterConfig"]["arn"].endswith(f":platform-{platform.stack}-batch-schedules-dlq")
    assert platform.named("batches-schedule-dlq").inputs["sqsManagedSseEnabled"] is True


def test_scheduler_role_may_only_start_its_own_state_machine(platform: ProgramRun) -> None:
    account = _account(platform)
    for batch in config_of(platform).batches:
        (trust,) = policy_of(platform.named(f"{batch}-scheduler-role").inputs, "assumeRolePolicy")["Statement"]
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
        group = f"arn:aws:scheduler:ap-northeast-1:{account}:schedule-group/platform-{platform.stack}-batches"
        assert trust["Condition"] == {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": group},
        }
        statements = {s["Sid"]: s for s in policy_of(platform.named(f"{batch}-scheduler-policy").inputs)["Statement"]}
        assert statements["StartThisBatch"]["Action"] == ["states:StartExecution"]
        assert statements["StartThisBatch"]["Resource"] == [
            f"arn:aws:states:ap-northeast-1:{account}:stateMachine:platform-{platform.stack}-{batch}"
        ]
        assert set(statements) == {"StartThisBatch", "DeadLetterUndeliveredStarts"}
        assert statements["DeadLetterUndeliveredStarts"]["Action"] == ["sqs:SendMessage"]


def test_failure_rules_catch_failed_executions_and_failed_tasks(platform: ProgramRun) -> None:
    account = _account(platform)
    executions = json.loads(platform.named("batches-execution-failed").inputs["eventPattern"])
    assert executions["source"] == ["aws.states"]
    assert executions["detail-type"] == ["Step Functions Execution Status Change"]
    assert executions["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    assert sorted(executions["detail"]["stateMachineArn"]) == sorted(
        f"arn:aws:states:ap-northeast-1:{account}:stateMachine:platform-{platform.stack}-{b}"
        for b in config_of(platform).batches
    )
    tasks = json.loads(platform.named("batches-task-failed").inputs["eventPattern"])
    assert tasks["detail-type"] == ["ECS Task State Change"]
    assert tasks["detail"]["lastStatus"] == ["STOPPED"]
    assert tasks["detail"]["$or"] == [
        {"containers": {"exitCode": [{"anything-but": 0}]}},
        {"stopCode": ["TaskFailedToStart"]},
    ]
    assert len(tasks["detail"]["taskDefinitionArn"]) == len(config_of(platform).batches)
    for kind in ("execution-failed", "task-failed"):
        target = platform.named(f"batches-{kind}-to-topic")
        assert target.inputs["arn"].endswith(f":platform-{platform.stack}-batch-failures")
        assert "roleArn" not in target.inputs
        assert platform.named("batches-failures-policy").urn in target.dependencies


def test_failure_topic_is_encrypted_and_only_the_rules_may_publish(platform: ProgramRun) -> None:
    account = _account(platform)
    topic = platform.named("batches-failures").inputs
    assert topic["kmsMasterKeyId"] == f"arn:aws:kms:ap-northeast-1:{account}:key/mock-batches-alerts-key"
    (statement,) = policy_of(platform.named("batches-failures-policy").inputs)["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        f"arn:aws:events:ap-northeast-1:{account}:rule/platform-{platform.stack}-batch-execution-failed",
        f"arn:aws:events:ap-northeast-1:{account}:rule/platform-{platform.stack}-batch-task-failed",
    ]
    key_statements = {s["Sid"]: s for s in policy_of(platform.named("batches-alerts-key").inputs)["Statement"]}
    assert key_statements["EventBridgePublishesEncrypted"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_every_client_reaches_exactly_its_databases(platform: ProgramRun) -> None:
    """A database admits exactly its configured clients, and each client may leave only to those."""
    config = config_of(platform)
    groups = {name: f"{name}-sg-id" for name in config.databases}
    for name, database in config.databases.items():
        ingress = [
            r.inputs["referencedSecurityGroupId"]
            for r in platform.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
            if r.inputs["securityGroupId"] == groups[name]
        ]
        assert sorted(ingress) == sorted(f"{client}-sg-id" for client in database.clients)
    for client in {client for database in config.databases.values() for client in database.clients}:
        egress = [
            r.inputs["referencedSecurityGroupId"]
            for r in platform.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
            if r.inputs["securityGroupId"] == f"{client}-sg-id"
            and r.inputs.get("referencedSecurityGroupId") in groups.values()
        ]
        assert sorted(egress) == sorted(groups[n] for n, d in config.databases.items() if client in d.clients)


def test_batches_run_their_app_image_at_the_apps_tag(platform: ProgramRun) -> None:
    """A batch with `app` runs that app's image at the app's current tag, so it moves with releases."""
    config = config_of(platform)
    for batch, settings in config.batches.items():
        app = next(
            c for c in json.loads(platform.named(f"{batch}-task").inputs["containerDefinitions"]) if c["name"] == "app"
        )
        image = settings.image if settings.app is None else config.apps.services[settings.app].image
        repository = image.repository or settings.app or batch
        assert app["image"].endswith(f"/{repository}:{image.tag}")
        assert "command" in app


def test_batch_alert_specs(stg: ProgramRun) -> None:
    from platform_config.alert_catalog import batch_alerts

    config = platform_config("stg")
    arn = "arn:aws:states:ap-northeast-1:210987654321:stateMachine:platform-stg-settlement"
    specs = {s.key: s for s in batch_alerts("settlement", "platform-stg-settlement", arn, config.batches["settlement"])}
    assert set(specs) == {
        "batch.settlement.executions-failed",
        "batch.settlement.executions-timed-out",
        "batch.settlement.duration",
    }
    assert f"statemachinearn:{arn.lower()}" in specs["batch.settlement.executions-failed"].metric
    assert specs["batch.settlement.duration"].critical == 0.8 * 180 * 60 * 1000


def _batch(batches: dict[str, Any], name: str) -> dict[str, Any]:
    batch: dict[str, Any] = batches[name]
    return batch


BAD_BATCHES = [
    pytest.param(
        lambda b: _batch(b, "settlement").update(schedule="cron(0 5 * * * *)"),
        "platform:batches.settlement.schedule: 'cron(0 5 * * * *)': "
        "exactly one of day-of-month and day-of-week must be `?`",
        id="invalid-cron",
    ),
    pytest.param(
        lambda b: _batch(b, "settlement").update(timeZone="Asia/Tokio"),
        "platform:batches.settlement.timeZone: 'Asia/Tokio' is not an IANA time zone",
        id="unknown-time-zone",
    ),
    pytest.param(
        lambda b: _batch(b, "settlement").update(environment={"SETTLEMENT_DATE": "2026-01-01"}),
        "platform:batches.settlement.input.SETTLEMENT_DATE: collides with environment.SETTLEMENT_DATE",
        id="environment-collides-with-input",
    ),
    pytest.param(
        lambda b: _batch(b, "settlement").update(app="billing"),
        "platform:batches.settlement.app: unknown app 'billing'",
        id="unknown-app",
    ),
    pytest.param(
        lambda b: _batch(b, "settlement")["retry"].update(backoffRate=0.5),
        "platform:batches.settlement.retry.backoffRate: must be at least 1.0 (got 0.5)",
        id="backoff-below-1",
    ),
    pytest.param(
        lambda b: _batch(b, "settlement").update(image={"repository": "api", "tag": "x1"}),
        "platform:batches.settlement: give exactly one of `app` (reuse an app's image) and `image`",
        id="app-and-image",
    ),
    pytest.param(
        lambda b: _batch(b, "cleanup").update(memory=4096),
        "platform:batches.cleanup.memory: memory=4096 does not fit cpu=256",
        id="bad-size",
    ),
    pytest.param(
        lambda b: _batch(b, "cleanup")["secrets"].update(CARD_DATABASE={"database": "card", "user": "analyst"}),
        "platform:batches.cleanup.secrets.CARD_DATABASE.database: 'cleanup' is not a client of database 'card'",
        id="secret-of-a-database-the-batch-may-not-use",
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD_BATCHES)
def test_bad_batch_config_is_rejected_with_its_key(
    stack_values: Callable[[str], dict[str, str]], change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    assert_rejected(stack_values("prd"), "platform:batches", change, expected, stack="prd")


def test_database_clients_must_be_apps_or_batches(stack_values: Callable[[str], dict[str, str]]) -> None:
    values = with_area(stack_values("stg"), "platform:databases", lambda d: d["card"]["clients"].append("reporting"))
    with pytest.raises(
        ConfigError, match=r"platform:databases.card.clients\[3\]: 'reporting' is neither an app nor a batch"
    ):
        load_platform_config(values, stack="stg")
