"""Mail dispatcher: SQS batches of SES notifications -> one ECS processing task per message.

SNS delivers to SQS at least once, so the same SES message can arrive twice. Each message id is
claimed in DynamoDB with a conditional update before RunTask; a duplicate finds the claim and is
skipped. RunTask can answer 200 with `failures` and no task, so an empty or failed answer releases
the claim and reports the record in `batchItemFailures`: SQS redelivers it, and after
`maxReceiveCount` moves it to the dead-letter queue. A claim left by a crashed invocation expires
after its lease, so a redelivery can take it over. Nothing is dropped silently: a record that cannot
be parsed is reported failed (and so reaches the DLQ), and every outcome is logged as one JSON line.

Environment: TABLE_NAME, CLUSTER_ARN, TASK_DEFINITION (family), SUBNETS and SECURITY_GROUPS
(comma-separated), ECS_REGION, CONTAINER_NAME, CLAIM_TTL_SECONDS, LEASE_SECONDS.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError


@dataclass(frozen=True)
class Settings:
    table_name: str
    cluster_arn: str
    task_definition: str
    subnets: list[str]
    security_groups: list[str]
    ecs_region: str
    container_name: str = "app"
    claim_ttl_seconds: int = 72 * 3600
    lease_seconds: int = 300

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            table_name=env["TABLE_NAME"],
            cluster_arn=env["CLUSTER_ARN"],
            task_definition=env["TASK_DEFINITION"],
            subnets=[s for s in env["SUBNETS"].split(",") if s],
            security_groups=[s for s in env["SECURITY_GROUPS"].split(",") if s],
            ecs_region=env["ECS_REGION"],
            container_name=env.get("CONTAINER_NAME", "app"),
            claim_ttl_seconds=int(env.get("CLAIM_TTL_SECONDS", str(72 * 3600))),
            lease_seconds=int(env.get("LEASE_SECONDS", "300")),
        )


@dataclass(frozen=True)
class Mail:
    message_id: str
    bucket: str
    key: str


class MalformedRecord(ValueError):
    pass


def log(level: str, event: str, **fields: Any) -> None:
    print(json.dumps({"level": level, "event": event, **fields}, sort_keys=True, default=str), file=sys.stdout)


def emit_metric(name: str, value: int = 1) -> None:
    """A CloudWatch metric through the embedded metric format: Lambda extracts it from this log line."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
    print(
        json.dumps(
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": "Platform/Mail",
                            "Dimensions": [["FunctionName"]],
                            "Metrics": [{"Name": name, "Unit": "Count"}],
                        }
                    ],
                },
                "FunctionName": function,
                name: value,
            },
            sort_keys=True,
        ),
        file=sys.stdout,
    )


def parse(record: dict[str, Any]) -> Mail:
    """The SES notification in a raw-delivered SQS body: message id and where the S3 action stored it."""
    try:
        body = json.loads(record["body"])
        receipt_action = body["receipt"]["action"]
        if receipt_action.get("type") != "S3":
            raise MalformedRecord(f"receipt action is {receipt_action.get('type')!r}, not S3")
        mail = Mail(
            message_id=str(body["mail"]["messageId"]),
            bucket=str(receipt_action["bucketName"]),
            key=str(receipt_action["objectKey"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, MalformedRecord):
            raise
        raise MalformedRecord(f"{type(error).__name__}: {error}") from error
    if not (mail.message_id and mail.bucket and mail.key):
        raise MalformedRecord("empty message id, bucket or key")
    return mail


class Dispatcher:
    def __init__(self, settings: Settings, *, dynamodb: Any = None, ecs: Any = None, clock: Any = time.time) -> None:
        self.settings = settings
        self.dynamodb = dynamodb or boto3.client("dynamodb")
        self.ecs = ecs or boto3.client("ecs", region_name=settings.ecs_region)
        self.clock = clock

    def handle(self, event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
        failures = []
        for record in event.get("Records", []):
            record_id = record.get("messageId", "")
            try:
                outcome = self.dispatch(parse(record), record_id)
            except MalformedRecord as error:
                log("error", "malformed_record", sqs_message_id=record_id, reason=str(error))
                outcome = False
            except Exception as error:
                log("error", "dispatch_error", sqs_message_id=record_id, error=f"{type(error).__name__}: {error}")
                outcome = False
            if not outcome:
                failures.append({"itemIdentifier": record_id})
        return {"batchItemFailures": failures}

    def dispatch(self, mail: Mail, record_id: str) -> bool:
        """True when the message is handled (a task started, or it was a duplicate)."""
        token = uuid.uuid4().hex
        if not self.claim(mail, token):
            log("info", "duplicate_skipped", message_id=mail.message_id, sqs_message_id=record_id)
            return True
        try:
            response = self.ecs.run_task(
                cluster=self.settings.cluster_arn,
                taskDefinition=self.settings.task_definition,
                launchType="FARGATE",
                count=1,
                startedBy="mail-dispatcher",
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": self.settings.subnets,
                        "securityGroups": self.settings.security_groups,
                        "assignPublicIp": "DISABLED",
                    }
                },
                overrides={
                    "containerOverrides": [
                        {
                            "name": self.settings.container_name,
                            "environment": [
                                {"name": "MAIL_BUCKET", "value": mail.bucket},
                                {"name": "MAIL_KEY", "value": mail.key},
                                {"name": "MAIL_MESSAGE_ID", "value": mail.message_id},
                            ],
                        }
                    ]
                },
            )
        except (ClientError, BotoCoreError) as error:
            self.release(mail, token)
            log("error", "run_task_error", message_id=mail.message_id, error=str(error))
            return False
        tasks, failures = response.get("tasks") or [], response.get("failures") or []
        if failures or not tasks:
            self.release(mail, token)
            log("error", "run_task_failed", message_id=mail.message_id, failures=failures)
            emit_metric("RunTaskFailures")
            return False
        task_arn = tasks[0]["taskArn"]
        try:
            self.mark_started(mail, token, task_arn)
        except ClientError as error:
            # The task runs: acknowledge the record anyway; a retry would start a second task.
            log("warning", "mark_started_failed", message_id=mail.message_id, task_arn=task_arn, error=str(error))
        log("info", "task_started", message_id=mail.message_id, task_arn=task_arn, key=mail.key)
        return True

    def claim(self, mail: Mail, token: str) -> bool:
        """Take the message id unless a dispatch started, or another claim's lease is still running."""
        now = int(self.clock())
        try:
            self.dynamodb.update_item(
                TableName=self.settings.table_name,
                Key={"messageId": {"S": mail.message_id}},
                UpdateExpression="SET dispatchStatus = :claimed, claimToken = :token, leaseUntil = :lease, "
                "expiresAt = :expires, objectKey = :key",
                ConditionExpression="attribute_not_exists(dispatchStatus) OR "
                "(dispatchStatus = :claimed AND leaseUntil < :now)",
                ExpressionAttributeValues={
                    ":claimed": {"S": "claimed"},
                    ":token": {"S": token},
                    ":lease": {"N": str(now + self.settings.lease_seconds)},
                    ":expires": {"N": str(now + self.settings.claim_ttl_seconds)},
                    ":key": {"S": mail.key},
                    ":now": {"N": str(now)},
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, mail: Mail, token: str) -> None:
        """Give the claim back (only ours), so the redelivery can dispatch."""
        try:
            self.dynamodb.update_item(
                TableName=self.settings.table_name,
                Key={"messageId": {"S": mail.message_id}},
                UpdateExpression="REMOVE dispatchStatus, claimToken, leaseUntil",
                ConditionExpression="claimToken = :token",
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError as error:
            # Not ours any more: the lease expired and someone else holds it. Their outcome stands.
            log("warning", "release_skipped", message_id=mail.message_id, error=str(error))

    def mark_started(self, mail: Mail, token: str, task_arn: str) -> None:
        self.dynamodb.update_item(
            TableName=self.settings.table_name,
            Key={"messageId": {"S": mail.message_id}},
            UpdateExpression="SET dispatchStatus = :started, taskArn = :task REMOVE leaseUntil",
            ConditionExpression="claimToken = :token",
            ExpressionAttributeValues={":started": {"S": "started"}, ":task": {"S": task_arn}, ":token": {"S": token}},
        )


_DISPATCHER: Dispatcher | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """The Lambda entry point: clients are created once per container and reused."""
    global _DISPATCHER  # noqa: PLW0603 - one dispatcher per Lambda container
    if _DISPATCHER is None:
        _DISPATCHER = Dispatcher(Settings.from_environment())
    return _DISPATCHER.handle(event)
