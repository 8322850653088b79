"""Exactly once under faults: every message runs one task or is dead-lettered; none lost, none run twice.

Each scenario sends messages through the simulated event source (`mail_faults.EventSource`) with
faults injected into DynamoDB, S3 and the ECS stand-in, drains the queue, and checks the property.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from functions.mail_dispatcher.handler import Dispatcher, Settings
from platform_config.mail import LEASE_MARGIN_SECONDS, DispatcherConfig, minimum_visibility_timeout
from tests.functions.mail_faults import Clock, EventSource, FaultPlan, FaultyDynamoDb, FaultyS3, TokenEcs

REGION, TABLE, BUCKET = "us-east-1", "platform-stg-mail-messages", "platform-stg-inbound-mail"


@dataclass
class World:
    clock: Clock
    plan: FaultPlan
    ecs: TokenEcs
    source: EventSource
    dynamodb: Any
    s3: Any
    table: str

    def mail(self, message_id: str, *, stored: bool = True, sqs_id: str | None = None, delay: float = 0) -> None:
        if stored:
            self.s3.put_object(Bucket=BUCKET, Key=f"raw/{message_id}", Body=b"From: bank@example.com\r\n\r\nhi")
        self.source.send(sqs_id or f"sqs-{message_id}-{len(self.source.queue)}", notification(message_id), delay=delay)

    def dead(self) -> set[str]:
        """SES message ids (or raw bodies, for junk) in the dead-letter queue."""
        ids = set()
        for message in self.source.dead_letters:
            try:
                ids.add(json.loads(message.body)["mail"]["messageId"])
            except (ValueError, KeyError, TypeError):
                ids.add(message.body)
        return ids

    def assert_exactly_once_or_dead(self, message_ids: set[str]) -> None:
        runs = {m: self.ecs.started.count(m) for m in message_ids}
        twice = {m: n for m, n in runs.items() if n > 1}
        assert not twice, f"run more than once: {twice}"
        lost = {m for m, n in runs.items() if n == 0 and m not in self.dead()}
        assert not lost, f"lost (not run, not dead-lettered): {lost}"
        assert not self.source.queue


def notification(message_id: Any, **changes: Any) -> dict[str, Any]:
    return {
        "notificationType": "Received",
        "mail": {"messageId": message_id, "source": "bank@example.com"},
        "receipt": {"action": {"type": "S3", "bucketName": BUCKET, "objectKey": f"raw/{message_id}"}},
        **changes,
    }


@dataclass(frozen=True)
class Clients:
    dynamodb: Any
    s3: Any


TABLES = itertools.count()


@pytest.fixture(scope="module")
def aws() -> Iterator[Clients]:
    """One moto world for the module (clients cost 0.1 s each); every scenario gets its own table."""
    with pytest.MonkeyPatch.context() as patch:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            patch.setenv(key, "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            clients = Clients(boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION))
            clients.s3.create_bucket(Bucket=BUCKET)
            yield clients


def make_world(aws: Clients, *, timeout: int = 60, window: int = 5, visibility: int | None = None,
               batch_size: int = 10, seconds_per_run_task: float = 0.0) -> World:  # fmt: skip
    dynamodb, s3, table = aws.dynamodb, aws.s3, f"{TABLE}-{next(TABLES)}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "messageId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "messageId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    clock, plan = Clock(), FaultPlan()
    ecs = TokenEcs(plan, clock, seconds_per_call=seconds_per_run_task)
    visibility = visibility or minimum_visibility_timeout(
        DispatcherConfig(timeout_seconds=timeout, batching_window_seconds=window)
    )
    dispatcher = Dispatcher(
        Settings(
            table_name=table,
            cluster_arn="arn:aws:ecs:ap-northeast-1:123456789012:cluster/platform-stg",
            task_definition="platform-stg-mail-processor",
            subnets=["subnet-1"],
            security_groups=["sg-1"],
            ecs_region="ap-northeast-1",
            mail_bucket=BUCKET,
            lease_margin_seconds=LEASE_MARGIN_SECONDS,
            visibility_timeout_seconds=visibility,
            batching_window_seconds=window,
            deadline_reserve_ms=min(10_000, timeout * 1000 // 3),
        ),
        dynamodb=FaultyDynamoDb(dynamodb, plan),
        ecs=ecs,
        s3=FaultyS3(s3, plan),
        clock=clock,
        sleep=clock.sleep,
    )
    source = EventSource(dispatcher.handle, clock, visibility_timeout=visibility, function_timeout=timeout,
                         batching_window=window, batch_size=batch_size)  # fmt: skip
    return World(clock, plan, ecs, source, dynamodb, s3, table)


@pytest.fixture
def world(aws: Clients) -> World:
    return make_world(aws)


def test_a_redelivery_after_a_dead_claim_is_run_even_with_a_short_timeout(aws: Clients) -> None:
    """The old lease (timeout + 60 s) outlived a 65 s visibility: the redelivery was acked as a duplicate."""
    w = make_world(aws, timeout=10, window=5)
    w.mail("ses-1")
    w.plan.add("claim", "ses-1", "kill-after")
    w.source.drain()
    assert w.ecs.started == ["ses-1"]
    w.assert_exactly_once_or_dead({"ses-1"})


@pytest.mark.parametrize(
    ("kind", "faults"),
    [
        pytest.param("run-task", ["kill-after"], id="dies-between-runtask-and-update"),
        pytest.param("mark-started", ["network"] * 3, id="update-network-error"),
        pytest.param("mark-started", ["throttle"] * 3, id="update-throttled"),
        pytest.param("mark-started", ["kill-before"], id="dies-before-update"),
        pytest.param("mark-started", ["lost-response"], id="update-answer-lost"),
        pytest.param("run-task", ["lost-response"], id="runtask-read-timeout-after-start"),
        pytest.param("run-task", ["partial"], id="runtask-task-and-failure"),
        pytest.param("run-task", ["capacity", "capacity"], id="runtask-capacity-twice"),
        pytest.param("run-task", ["throttle", "network"], id="runtask-raises"),
        pytest.param("claim", ["throttle", "network", "lost-response"], id="claim-faults"),
        pytest.param("release", ["network"], id="release-fails"),
        pytest.param("head", ["network"], id="head-object-fails"),
    ],
)
def test_one_task_whatever_fails_once(world: World, kind: str, faults: list[str]) -> None:
    world.mail("ses-1")
    if kind == "release":
        world.plan.add("run-task", "ses-1", "capacity")
    world.plan.add(kind, "ses-1", *faults)
    world.mail("ses-2")  # an unaffected neighbour in the same batch
    world.source.drain()
    assert sorted(world.ecs.started) == ["ses-1", "ses-2"]
    world.assert_exactly_once_or_dead({"ses-1", "ses-2"})


def test_an_sns_duplicate_while_the_start_is_unrecorded_starts_no_second_task(world: World) -> None:
    world.mail("ses-1")
    world.plan.add("mark-started", "ses-1", "throttle", "throttle", "throttle")
    world.source.send("sqs-duplicate", notification("ses-1"), delay=30)  # SNS delivered it twice
    world.source.drain()
    assert world.ecs.started == ["ses-1"]
    world.assert_exactly_once_or_dead({"ses-1"})


def test_duplicates_within_and_across_batches_run_once(world: World) -> None:
    for copy in range(3):
        world.mail("ses-1", sqs_id=f"sqs-a{copy}")
    world.source.drain()
    world.mail("ses-1", sqs_id="sqs-later", delay=3600)
    world.source.drain()
    assert world.ecs.started == ["ses-1"]


def test_a_persistent_runtask_failure_ends_in_the_dlq_with_a_metric_each_time(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.mail("ses-1")
    world.plan.add("run-task", "ses-1", *["throttle"] * 10)
    world.source.drain()
    assert world.ecs.started == []
    assert world.dead() == {"ses-1"}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert sum(m.get("RunTaskFailures", 0) for m in metrics) == 5
    assert sum(m.get("DispatchFailures", 0) for m in metrics) == 5


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(notification(None), id="null-message-id"),
        pytest.param(notification({"id": "x"}), id="object-message-id"),
        pytest.param(notification(""), id="empty-message-id"),
        pytest.param(notification("ses-9", notificationType="Bounce"), id="bounce"),
        pytest.param(notification("ses-9", notificationType=None), id="no-notification-type"),
        pytest.param(
            {**notification("ses-9"), "receipt": {"action": {"type": "S3", "bucketName": None, "objectKey": "raw/x"}}},
            id="null-bucket",
        ),
        pytest.param(
            {
                **notification("ses-9"),
                "receipt": {"action": {"type": "S3", "bucketName": "other", "objectKey": "raw/x"}},
            },
            id="other-bucket",
        ),
        pytest.param({**notification("ses-9"), "receipt": []}, id="receipt-list"),
        pytest.param("not json", id="not-json"),
        pytest.param("[1, 2]", id="json-list"),
        pytest.param("null", id="json-null"),
    ],
)
def test_junk_is_dead_lettered_never_dispatched_and_never_claims(world: World, body: Any) -> None:
    world.source.send("sqs-junk", body)
    world.mail("ses-ok")
    world.source.drain()
    assert world.ecs.started == ["ses-ok"]
    assert len(world.source.dead_letters) == 1
    claimed = world.dynamodb.scan(TableName=world.table)["Items"]
    assert [i["messageId"]["S"] for i in claimed] == ["ses-ok"]


def test_a_null_id_does_not_make_later_null_ids_duplicates(world: World) -> None:
    for n in range(2):
        world.source.send(f"sqs-null-{n}", notification(None))
    world.source.drain()
    assert len(world.source.dead_letters) == 2
    assert world.ecs.started == []


def test_a_missing_raw_object_is_dead_lettered_not_dispatched(world: World) -> None:
    world.mail("ses-gone", stored=False)
    world.source.drain()
    assert world.ecs.started == []
    assert world.dead() == {"ses-gone"}
    (item,) = world.dynamodb.scan(TableName=world.table)["Items"]
    assert "dispatchStatus" not in item  # released, so a redrive after the object is restored runs


def test_a_large_slow_batch_stops_before_the_deadline_and_everything_runs_once(aws: Clients) -> None:
    w = make_world(aws, timeout=30, window=0, batch_size=20, seconds_per_run_task=2.0)
    ids = {f"ses-{n}" for n in range(60)}
    for message_id in sorted(ids):
        w.mail(message_id)
    w.source.drain()
    assert sorted(w.ecs.started) == sorted(ids)
    w.assert_exactly_once_or_dead(ids)
    assert w.source.dead_letters == []


def test_a_live_claim_elsewhere_is_retried_not_acked(world: World) -> None:
    """Two deliveries of one message race: the one finding a live claim fails, and later finds it started."""
    world.mail("ses-1")
    world.plan.add("claim", "ses-1", "kill-after")  # the first holder dies holding a live claim
    world.source.send("sqs-dup", notification("ses-1"), delay=20)  # arrives while that lease is live
    world.source.drain()
    assert world.ecs.started == ["ses-1"]
    world.assert_exactly_once_or_dead({"ses-1"})


FAULTS = st.sampled_from([None, None, None, "throttle", "network", "lost-response", "kill-before", "kill-after"])
RUN_TASK_FAULTS = st.sampled_from([None, None, "capacity", "partial", "throttle", "lost-response", "kill-after"])
KINDS = ("claim", "head", "mark-started", "release")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plan=st.dictionaries(
        st.tuples(st.sampled_from(KINDS), st.sampled_from(["ses-a", "ses-b", "ses-c"])),
        st.lists(FAULTS, max_size=4),
        max_size=6,
    ),
    run_task=st.dictionaries(st.sampled_from(["ses-a", "ses-b", "ses-c"]), st.lists(RUN_TASK_FAULTS, max_size=4)),
    duplicates=st.lists(st.tuples(st.sampled_from(["ses-a", "ses-b", "ses-c"]), st.integers(0, 900)), max_size=3),
)
def test_any_fault_schedule_runs_each_message_at_most_once_and_loses_none(
    aws: Clients,
    plan: dict[tuple[str, str], list[str | None]],
    run_task: dict[str, list[str | None]],
    duplicates: list[tuple[str, int]],
) -> None:
    w = make_world(aws, timeout=20, window=2)
    for message_id in ("ses-a", "ses-b", "ses-c"):
        w.mail(message_id)
    for n, (message_id, delay) in enumerate(duplicates):
        w.source.send(f"sqs-dup-{n}", notification(message_id), delay=delay)
    for (kind, message_id), faults in plan.items():
        w.plan.add(kind, message_id, *faults)
    for message_id, faults in run_task.items():
        w.plan.add("run-task", message_id, *faults)
    w.source.drain()
    w.assert_exactly_once_or_dead({"ses-a", "ses-b", "ses-c"})
