"""Mail dispatcher: SQS batches of SES notifications -> one ECS processing task per message, once.

Guarantee: every message is processed by exactly one task, or is in the dead-letter queue; none is
lost, none starts two tasks. SNS -> SQS delivers at least once, invocations die at any point, and
every AWS call can fail or time out after it took effect. The design, and why it holds:

- **RunTask is idempotent per message.** Every RunTask carries `clientToken` = a hash of the SES
  message id, so however often and by whomever it is retried, ECS starts at most one task for the
  message (and answers a retry with that task) within the token's lifetime, which AWS documents as
  at most 24 hours. A retry reaches ECS one visibility timeout (at most 12 hours) after the attempt
  it repeats. A retry with other parameters (a deploy changed the subnets) gets `ConflictException`,
  which can only mean an earlier attempt started the task: it is recorded as started.
- **DynamoDB remembers a started task** for the dedup TTL (far past the token's lifetime), so a
  duplicate arriving days later is acknowledged without calling ECS. The item moves
  absent -> `claimed` (token, lease) -> `started` (task ARN), by conditional updates only.
- **A record is acknowledged only when its task is known to run**: we started it and recorded it,
  or the item says `started`. A live claim by someone else is reported failed (SQS redelivers it
  later), never acked, so a claim that dies with its invocation cannot swallow the redelivery.
- **A claim's lease is the claiming invocation's remaining time plus a clock margin**, so it ends
  only when its holder is certainly dead. The queue's visibility timeout exceeds batching window +
  function timeout + lease (checked at config load, and logged here if violated), so the
  redelivery of a dead invocation's record finds the lease over and takes the claim.
- **Everything not known to have started is a failure of that record**: unparseable or
  non-`Received` bodies, a raw object that cannot be read, RunTask answering with no task or
  raising, a start that could not be recorded (the redelivery records it, through the token).
  SQS retries and, after `maxReceiveCount`, dead-letters it. Each failure is logged with its
  reason and counted in `Platform/Mail DispatchFailures` (and `RunTaskFailures` for RunTask).
- **Deadline aware**: it stops taking records when the invocation's remaining time is below a
  reserve, and reports the rest failed rather than being killed with the whole batch in flight.

Environment: TABLE_NAME, CLUSTER_ARN, TASK_DEFINITION (family), SUBNETS and SECURITY_GROUPS
(comma-separated), ECS_REGION, CONTAINER_NAME, MAIL_BUCKET, CLAIM_TTL_SECONDS,
LEASE_MARGIN_SECONDS, VISIBILITY_TIMEOUT_SECONDS, BATCHING_WINDOW_SECONDS, DEADLINE_RESERVE_MS.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

RECEIVED = "Received"
MESSAGE_ID_MAX = 256
MARK_STARTED_ATTEMPTS = 3


@dataclass(frozen=True)
class Settings:
    table_name: str
    cluster_arn: str
    task_definition: str
    subnets: list[str]
    security_groups: list[str]
    ecs_region: str
    mail_bucket: str
    container_name: str = "app"
    claim_ttl_seconds: int = 72 * 3600
    lease_margin_seconds: int = 10
    visibility_timeout_seconds: int = 0
    """0: unknown, so the lease/visibility invariant is not checked here."""
    batching_window_seconds: int = 0
    deadline_reserve_ms: int = 10_000

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
            mail_bucket=env["MAIL_BUCKET"],
            container_name=env.get("CONTAINER_NAME", "app"),
            claim_ttl_seconds=int(env.get("CLAIM_TTL_SECONDS", str(72 * 3600))),
            lease_margin_seconds=int(env.get("LEASE_MARGIN_SECONDS", "10")),
            visibility_timeout_seconds=int(env.get("VISIBILITY_TIMEOUT_SECONDS", "0")),
            batching_window_seconds=int(env.get("BATCHING_WINDOW_SECONDS", "0")),
            deadline_reserve_ms=int(env.get("DEADLINE_RESERVE_MS", "10000")),
        )


@dataclass(frozen=True)
class Mail:
    message_id: str
    bucket: str
    key: str


class MalformedRecord(ValueError):
    pass


class NoDeadline:
    """A context for calls outside Lambda (tests, scripts): never short of time."""

    def get_remaining_time_in_millis(self) -> int:
        return 15 * 60 * 1000


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


def _text(parent: Any, key: str, where: str) -> str:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise MalformedRecord(f"{where}.{key} is {type(value).__name__ if value is not None else 'missing'}, not text")
    return value


def _object(parent: Any, key: str, where: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        raise MalformedRecord(
            f"{where}.{key} is {type(value).__name__ if value is not None else 'missing'}, not an object"
        )
    return value


def parse(record: dict[str, Any], *, bucket: str | None = None) -> Mail:
    """The SES `Received` notification in a raw-delivered SQS body; anything else is malformed."""
    raw = record.get("body")
    if not isinstance(raw, str):
        raise MalformedRecord("the SQS body is not text")
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise MalformedRecord(f"the SQS body is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise MalformedRecord(f"the SQS body is a JSON {type(body).__name__}, not an object")
    kind = body.get("notificationType")
    if kind != RECEIVED:
        raise MalformedRecord(f"notificationType is {kind!r}, not {RECEIVED!r}")
    message_id = _text(_object(body, "mail", "body"), "messageId", "mail")
    if len(message_id) > MESSAGE_ID_MAX or any(c.isspace() or not c.isprintable() for c in message_id):
        raise MalformedRecord("mail.messageId is not an SES message id")
    action = _object(_object(body, "receipt", "body"), "action", "receipt")
    if action.get("type") != "S3":
        raise MalformedRecord(f"receipt.action.type is {action.get('type')!r}, not 'S3'")
    mail = Mail(message_id, _text(action, "bucketName", "receipt.action"), _text(action, "objectKey", "receipt.action"))
    if bucket is not None and mail.bucket != bucket:
        raise MalformedRecord(f"receipt.action.bucketName {mail.bucket!r} is not the mail bucket {bucket!r}")
    return mail


def client_token(message_id: str) -> str:
    """RunTask's idempotency token for a message: stable, at most 64 printable ASCII characters."""
    return "mail-" + hashlib.sha256(message_id.encode()).hexdigest()[:59]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        *,
        dynamodb: Any = None,
        ecs: Any = None,
        s3: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        # Short timeouts and few retries: a slow call must not eat the invocation's deadline.
        config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 2})
        self.dynamodb = dynamodb or boto3.client("dynamodb", config=config)
        self.ecs = ecs or boto3.client("ecs", region_name=settings.ecs_region, config=config)
        self.s3 = s3 or boto3.client("s3", config=config)
        self.clock = clock
        self.sleep = sleep

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, list[dict[str, str]]]:
        context = context or NoDeadline()
        self._check_lease_fits(context)
        given = event.get("Records") if isinstance(event, dict) else None
        records: list[Any] = given if isinstance(given, list) else []
        failures: list[dict[str, str]] = []
        for index, entry in enumerate(records):
            record: dict[str, Any] = entry if isinstance(entry, dict) else {}
            record_id = str(record.get("messageId", ""))
            if context.get_remaining_time_in_millis() < self.settings.deadline_reserve_ms:
                rest = [str(r.get("messageId", "")) if isinstance(r, dict) else "" for r in records[index:]]
                log("warning", "deadline_near", remaining_records=len(rest), sqs_message_ids=rest)
                for left in rest:
                    emit_metric("DispatchFailures")
                    failures.append({"itemIdentifier": left})
                break
            try:
                reason = self.dispatch(parse(record, bucket=self.settings.mail_bucket or None), record_id, context)
            except MalformedRecord as error:
                log("error", "malformed_record", sqs_message_id=record_id, reason=str(error))
                reason = "malformed"
            except Exception as error:  # a bug or an unexpected answer: fail this record, keep the batch going
                log("error", "dispatch_error", sqs_message_id=record_id, error=f"{type(error).__name__}: {error}")
                reason = "error"
            if reason is not None:
                emit_metric("DispatchFailures")
                failures.append({"itemIdentifier": record_id})
        return {"batchItemFailures": failures}

    def _check_lease_fits(self, context: Any) -> None:
        """A redelivery must find a dead invocation's lease over: window + run + lease < visibility."""
        visibility = self.settings.visibility_timeout_seconds
        remaining = context.get_remaining_time_in_millis() / 1000
        needed = self.settings.batching_window_seconds + 2 * remaining + self.settings.lease_margin_seconds
        if visibility and needed >= visibility:
            log("error", "lease_outlives_visibility", visibility_timeout_seconds=visibility, needed_seconds=needed)

    def dispatch(self, mail: Mail, record_id: str, context: Any) -> str | None:
        """None when the message's task is known to run; otherwise why the record fails."""
        token = uuid.uuid4().hex
        held = self.claim(mail, token, context)
        if held == "started":
            log("info", "duplicate_skipped", message_id=mail.message_id, sqs_message_id=record_id)
            return None
        if held == "claimed":
            log("warning", "claimed_elsewhere", message_id=mail.message_id, sqs_message_id=record_id)
            return "claimed elsewhere"
        missing = self._raw_object_error(mail)
        if missing is not None:
            self.release(mail, token)
            log("error", "raw_object_unreadable", message_id=mail.message_id, key=mail.key, error=missing)
            return "raw object unreadable"
        try:
            response = self._run_task(mail)
        except ClientError as error:
            if _code(error) == "ConflictException":
                # Same token, other parameters: an earlier attempt started the task.
                return self._record_start(mail, token, "unknown (started by an earlier attempt)", record_id)
            return self._run_task_failed(mail, token, f"{_code(error)}: {error}")
        except BotoCoreError as error:
            return self._run_task_failed(mail, token, f"{type(error).__name__}: {error}")
        tasks = response.get("tasks") if isinstance(response, dict) else None
        task_arns = [t.get("taskArn") for t in tasks or [] if isinstance(t, dict) and t.get("taskArn")]
        if not task_arns:
            return self._run_task_failed(mail, token, f"no task started: {response.get('failures')!r}")
        if response.get("failures"):
            log("warning", "run_task_partial_failures", message_id=mail.message_id, failures=response["failures"])
        return self._record_start(mail, token, str(task_arns[0]), record_id)

    def _run_task(self, mail: Mail) -> Any:
        return self.ecs.run_task(
            cluster=self.settings.cluster_arn,
            taskDefinition=self.settings.task_definition,
            launchType="FARGATE",
            count=1,
            clientToken=client_token(mail.message_id),
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

    def _run_task_failed(self, mail: Mail, token: str, error: str) -> str:
        self.release(mail, token)
        log("error", "run_task_failed", message_id=mail.message_id, error=error)
        emit_metric("RunTaskFailures")
        return "run task failed"

    def _record_start(self, mail: Mail, token: str, task_arn: str, record_id: str) -> str | None:
        for attempt in range(MARK_STARTED_ATTEMPTS):
            try:
                self.mark_started(mail, token, task_arn)
            except ClientError as error:
                if _code(error) == "ConditionalCheckFailedException":
                    # Another invocation holds the claim now; its RunTask (same token) gets this task.
                    log("warning", "claim_taken_over", message_id=mail.message_id, task_arn=task_arn)
                    return None
                failure = f"{_code(error)}: {error}"
            except BotoCoreError as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                log("info", "task_started", message_id=mail.message_id, task_arn=task_arn, key=mail.key)
                return None
            log("warning", "mark_started_failed", message_id=mail.message_id, attempt=attempt + 1, error=failure)
            self.sleep(0.1 * 2**attempt)
        # The task runs but the table does not say so: fail the record; its redelivery takes the
        # claim over after the lease, and RunTask with the same token answers with this same task.
        log("error", "start_unrecorded", message_id=mail.message_id, task_arn=task_arn, sqs_message_id=record_id)
        return "start unrecorded"

    def _raw_object_error(self, mail: Mail) -> str | None:
        try:
            self.s3.head_object(Bucket=mail.bucket, Key=mail.key)
        except ClientError as error:
            return f"{_code(error)}: {error}"
        except BotoCoreError as error:
            return f"{type(error).__name__}: {error}"
        return None

    def claim(self, mail: Mail, token: str, context: Any) -> str | None:
        """Take the message id: None when taken, else the state that holds it ("started"/"claimed").

        The lease lasts as long as this invocation can (its remaining time plus a clock margin), so
        it ends only when the holder is certainly dead.
        """
        now = self.clock()
        remaining = context.get_remaining_time_in_millis() / 1000
        lease_until = math.ceil(now + remaining + self.settings.lease_margin_seconds)
        try:
            self.dynamodb.update_item(
                TableName=self.settings.table_name,
                Key={"messageId": {"S": mail.message_id}},
                UpdateExpression="SET dispatchStatus = :claimed, claimToken = :token, leaseUntil = :lease, "
                "expiresAt = :expires, objectKey = :key ADD attempts :one",
                ConditionExpression="attribute_not_exists(dispatchStatus) OR "
                "(dispatchStatus = :claimed AND leaseUntil < :now)",
                ExpressionAttributeValues={
                    ":claimed": {"S": "claimed"},
                    ":token": {"S": token},
                    ":lease": {"N": str(lease_until)},
                    ":expires": {"N": str(int(now) + self.settings.claim_ttl_seconds)},
                    ":key": {"S": mail.key},
                    ":now": {"N": str(int(now))},
                    ":one": {"N": "1"},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            held = error.response.get("Item", {}).get("dispatchStatus", {}).get("S")
            return "started" if held == "started" else "claimed"
        return None

    def release(self, mail: Mail, token: str) -> None:
        """Give the claim back (only ours), so a redelivery can dispatch without waiting for the lease."""
        try:
            self.dynamodb.update_item(
                TableName=self.settings.table_name,
                Key={"messageId": {"S": mail.message_id}},
                UpdateExpression="REMOVE dispatchStatus, claimToken, leaseUntil",
                ConditionExpression="claimToken = :token AND dispatchStatus = :claimed",
                ExpressionAttributeValues={":token": {"S": token}, ":claimed": {"S": "claimed"}},
            )
        except (ClientError, BotoCoreError) as error:
            # Not ours any more, or the table is unreachable: the lease ends the claim anyway.
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
    return _DISPATCHER.handle(event, context)
