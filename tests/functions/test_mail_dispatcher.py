"""The mail dispatcher against moto: S3, DynamoDB, SQS, EC2 and ECS with a real cluster and task definition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.mail_dispatcher.handler import Dispatcher, Settings, parse

MAIL_REGION, ECS_REGION = "us-east-1", "ap-northeast-1"
TABLE, BUCKET = "platform-stg-mail-messages", "platform-stg-inbound-mail"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", MAIL_REGION)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=MAIL_REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "messageId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "messageId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3 = boto3.client("s3", region_name=MAIL_REGION)
        s3.create_bucket(Bucket=BUCKET)
        ec2 = boto3.client("ec2", region_name=ECS_REGION)
        vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as the platform's VPC does
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.16.0/20")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="mail", Description="mail", VpcId=vpc)["GroupId"]
        ecs = boto3.client("ecs", region_name=ECS_REGION)
        cluster = ecs.create_cluster(clusterName="platform-stg")["cluster"]["clusterArn"]
        ecs.register_task_definition(
            family="platform-stg-mail-processor",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            containerDefinitions=[{"name": "app", "image": "api:1", "memory": 1024}],
        )
        settings = Settings(
            table_name=TABLE,
            cluster_arn=cluster,
            task_definition="platform-stg-mail-processor",
            subnets=[subnet],
            security_groups=[group],
            ecs_region=ECS_REGION,
            mail_bucket=BUCKET,
        )
        yield {"dynamodb": dynamodb, "s3": s3, "ecs": ecs, "settings": settings, "cluster": cluster}


def notification(message_id: str, key: str | None = None) -> dict[str, Any]:
    """The SES notification for a message whose raw object is stored (see `stored_mail`)."""
    return {
        "notificationType": "Received",
        "mail": {"messageId": message_id, "source": "bank@example.com", "destination": ["clearing@inbound.example"]},
        "receipt": {"action": {"type": "S3", "bucketName": BUCKET, "objectKey": key or f"raw/{message_id}"}},
    }


def sqs_record(record_id: str, body: Any) -> dict[str, Any]:
    return {
        "messageId": record_id,
        "body": body if isinstance(body, str) else json.dumps(body),
        "eventSource": "aws:sqs",
    }


def running_tasks(env: dict[str, Any]) -> list[dict[str, Any]]:
    arns = env["ecs"].list_tasks(cluster=env["cluster"])["taskArns"]
    return env["ecs"].describe_tasks(cluster=env["cluster"], tasks=arns)["tasks"] if arns else []


def item(env: dict[str, Any], message_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        env["dynamodb"].get_item(TableName=TABLE, Key={"messageId": {"S": message_id}}).get("Item")
    )
    return found


def store(env: dict[str, Any], *message_ids: str) -> None:
    """SES has written these messages' raw objects, as it does before it notifies."""
    for message_id in message_ids:
        env["s3"].put_object(Bucket=BUCKET, Key=f"raw/{message_id}", Body=b"From: bank@example.com\r\n\r\nhi")


def dispatcher(env: dict[str, Any], *, ecs: Any = None, clock: Clock | None = None) -> Dispatcher:
    return Dispatcher(
        env["settings"], dynamodb=env["dynamodb"], ecs=ecs or env["ecs"], s3=env["s3"], clock=clock or Clock()
    )


def test_one_message_starts_one_task_with_the_message_in_its_overrides(aws: dict[str, Any]) -> None:
    store(aws, "ses-1")
    result = dispatcher(aws).handle({"Records": [sqs_record("sqs-1", notification("ses-1"))]})
    assert result == {"batchItemFailures": []}
    (task,) = running_tasks(aws)
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == "app"
    assert {e["name"]: e["value"] for e in override["environment"]} == {
        "MAIL_BUCKET": BUCKET,
        "MAIL_KEY": "raw/ses-1",
        "MAIL_MESSAGE_ID": "ses-1",
    }
    stored = item(aws, "ses-1")
    assert stored is not None
    assert stored["dispatchStatus"] == {"S": "started"}
    assert stored["taskArn"]["S"] == task["taskArn"]


def test_the_same_ses_message_delivered_twice_starts_one_task(aws: dict[str, Any]) -> None:
    store(aws, "ses-1", "ses-2")
    handler = dispatcher(aws)
    first = handler.handle({"Records": [sqs_record("sqs-1", notification("ses-1"))]})
    second = handler.handle({"Records": [sqs_record("sqs-2", notification("ses-1"))]})
    same_batch = handler.handle(
        {"Records": [sqs_record("sqs-3", notification("ses-2")), sqs_record("sqs-4", notification("ses-2"))]}
    )
    assert first == second == same_batch == {"batchItemFailures": []}
    assert len(running_tasks(aws)) == 2


class FailingEcs:
    """RunTask answering 200 with `failures` and no task, as ECS does when capacity is short."""

    def __init__(self) -> None:
        self.calls = 0

    def run_task(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        return {"tasks": [], "failures": [{"arn": "arn:aws:ecs:...", "reason": "RESOURCE:CPU"}]}


def test_runtask_failures_fail_the_record_release_the_claim_and_a_redelivery_succeeds(aws: dict[str, Any]) -> None:
    store(aws, "ses-1")
    failing = FailingEcs()
    result = dispatcher(aws, ecs=failing).handle({"Records": [sqs_record("sqs-1", notification("ses-1"))]})
    assert result == {"batchItemFailures": [{"itemIdentifier": "sqs-1"}]}
    assert failing.calls == 1
    released = item(aws, "ses-1")
    assert released is not None
    assert "dispatchStatus" not in released
    assert running_tasks(aws) == []

    retried = dispatcher(aws).handle({"Records": [sqs_record("sqs-1", notification("ses-1"))]})
    assert retried == {"batchItemFailures": []}
    assert len(running_tasks(aws)) == 1


def test_runtask_raising_is_a_failed_record_and_releases(aws: dict[str, Any]) -> None:
    store(aws, "ses-1")

    class Broken:
        def run_task(self, **_: Any) -> dict[str, Any]:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "RunTask")

    result = dispatcher(aws, ecs=Broken()).handle({"Records": [sqs_record("sqs-1", notification("ses-1"))]})
    assert result == {"batchItemFailures": [{"itemIdentifier": "sqs-1"}]}
    stored = item(aws, "ses-1")
    assert stored is not None
    assert "dispatchStatus" not in stored


def test_a_malformed_record_fails_alone_while_the_batch_proceeds(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    store(aws, "ses-1")
    records = [
        sqs_record("sqs-bad-json", "not json"),
        sqs_record("sqs-good", notification("ses-1")),
        sqs_record("sqs-no-receipt", {"mail": {"messageId": "ses-x"}}),
        sqs_record("sqs-not-s3", {**notification("ses-y"), "receipt": {"action": {"type": "Lambda"}}}),
    ]
    result = dispatcher(aws).handle({"Records": records})
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "sqs-bad-json"},
            {"itemIdentifier": "sqs-no-receipt"},
            {"itemIdentifier": "sqs-not-s3"},
        ]
    }
    assert len(running_tasks(aws)) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    logs = [entry for entry in lines if "_aws" not in entry]
    metrics = [entry for entry in lines if "_aws" in entry]
    assert [entry["event"] for entry in logs].count("malformed_record") == 3
    assert all(entry["level"] in {"info", "error", "warning"} for entry in logs)
    assert sum(entry.get("DispatchFailures", 0) for entry in metrics) == 3


class Context:
    """A Lambda context with a fixed remaining time."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_claim_left_by_a_crashed_invocation_fails_redeliveries_until_its_lease_ends(aws: dict[str, Any]) -> None:
    store(aws, "ses-1")
    clock = Clock()
    handler = dispatcher(aws, clock=clock)
    crashed = Context(remaining_ms=30_000)
    assert handler.claim(parse(sqs_record("sqs-1", notification("ses-1"))), "crashed", crashed) is None
    # A redelivery within the lease may race a live holder: it fails, so SQS keeps the message...
    redelivery = {"Records": [sqs_record("sqs-1", notification("ses-1"))]}
    assert handler.handle(redelivery) == {"batchItemFailures": [{"itemIdentifier": "sqs-1"}]}
    assert running_tasks(aws) == []
    # ...and once the holder is certainly dead (its remaining time plus the margin) it dispatches.
    clock.now += 30 + aws["settings"].lease_margin_seconds + 1
    assert handler.handle(redelivery) == {"batchItemFailures": []}
    assert len(running_tasks(aws)) == 1


def test_a_status_record_written_first_does_not_block_the_claim(aws: dict[str, Any]) -> None:
    from functions.mail_status.handler import record_status

    store(aws, "ses-1")
    record_status(
        {"mail": {"messageId": "ses-1", "timestamp": "2026-11-23T00:00:00Z", "source": "a@b"}, "receipt": {}},
        table_name=TABLE,
        dynamodb=aws["dynamodb"],
        now=1_800_000_000,
        ttl_seconds=3600,
    )
    assert dispatcher(aws).handle({"Records": [sqs_record("sqs-1", notification("ses-1"))]}) == {
        "batchItemFailures": []
    }
    assert len(running_tasks(aws)) == 1
