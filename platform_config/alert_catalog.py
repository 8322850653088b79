"""Every alert of a stack, computed from its config alone: the one list of what is watched.

The config checks read it (a threshold override must name an alert that exists; every alerting
service must be routed) and the composition hands the same list to the monitoring component, which
makes one Datadog monitor per spec. The specs name the watched resources by their physical names,
which the components derive from the same `StackContext`, so no resource has to exist first.
"""

from __future__ import annotations

from functools import partial

from platform_config.apps import AppConfig
from platform_config.batches import BatchConfig
from platform_config.context import StackContext
from platform_config.databases import DatabaseConfig
from platform_config.model import PlatformConfig
from platform_lib.alerts import AlertSpec


def alert_catalog(config: PlatformConfig) -> list[AlertSpec]:
    """All specs, sorted by key (keys are unique: a duplicate is a programming error, raised here)."""
    ctx = StackContext.from_config(config)
    cluster_name = ctx.physical_name()
    lb = config.apps.load_balancer
    specs = load_balancer_alerts(ctx.physical_name("public", max_length=32), owner=lb.owner)
    if lb.internal is not None:
        specs.append(
            elb_5xx_alert(
                "cluster.internal-alb.elb-5xx", ctx.physical_name("internal", max_length=32), lb.internal.owner
            )
        )
    for name, db in sorted(config.databases.items()):
        specs += database_alerts(name, ctx.physical_name(name), db)
    for name, app in sorted(config.apps.services.items()):
        specs += app_alerts(name, ctx.physical_name(name), cluster_name, app)
    for name, batch in sorted(config.batches.items()):
        arn = ctx.arn("states", f"stateMachine:{ctx.physical_name(name)}")
        specs += batch_alerts(name, ctx.physical_name(name), arn, batch)
    if config.batches:
        specs.append(schedule_dlq_alert(ctx.physical_name("batch-schedules-dlq")))
    if config.mail is not None:
        specs += mail_alerts(ctx)
    keys = [spec.key for spec in specs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"alert keys must be unique: {duplicates}")
    return sorted(specs, key=lambda spec: spec.key)


def elb_5xx_alert(key: str, alb_name: str, owner: str) -> AlertSpec:
    """5xx answered by the load balancer itself (no healthy target, timeouts), owned by `owner`."""
    return AlertSpec(
        key=key,
        service=owner,
        resource=alb_name,
        title=f"{alb_name} returns 5xx itself",
        metric=f"sum:aws.applicationelb.httpcode_elb_5xx{{loadbalancer:app/{alb_name}/*}}.as_count()",
        aggregation="sum",
        comparator=">",
        critical=50,
        warning=10,
        priority=2,
        runbook="The load balancer answers 5xx when no target is healthy or targets time out: "
        "check the services' running tasks and the target groups' health.",
    )


def load_balancer_alerts(alb_name: str, *, owner: str) -> list[AlertSpec]:
    """The public load balancer's own 5xx and its web firewall's blocks, owned by `owner`."""
    return [
        elb_5xx_alert("cluster.alb.elb-5xx", alb_name, owner),
        AlertSpec(
            key="cluster.waf.blocked",
            service=owner,
            resource=alb_name,
            title=f"The web firewall of {alb_name} blocks a spike of requests",
            metric=f"sum:aws.wafv2.blocked_requests{{webacl:{alb_name},rule:all}}.as_count()",
            aggregation="sum",
            comparator=">",
            critical=1000,
            warning=200,
            priority=3,
            runbook="A scan, an attack, or a release the managed rules now block: read the sampled requests "
            "and the aws-waf-logs-* log group (which rule, which path) before adding a countOnly exception.",
        ),
    ]


def database_alerts(key: str, identifier: str, settings: DatabaseConfig) -> list[AlertSpec]:
    """CPU, storage, memory, connections, latency and transaction-id age of one instance."""
    scope = f"{{dbinstanceidentifier:{identifier}}}"
    gib = 1024**3
    allocated = settings.allocated_storage_gb * gib
    spec = partial(AlertSpec, service="database", resource=identifier)
    at = f"database.{key}"
    return [
        spec(key=f"{at}.cpu", title=f"{identifier} CPU high", metric=f"avg:aws.rds.cpuutilization{scope}",
             comparator=">", critical=90, warning=75, priority=2,
             runbook="Find the top queries in Performance Insights; check for a deploy or a batch that started."),
        spec(key=f"{at}.free-storage", title=f"{identifier} free storage low",
             metric=f"avg:aws.rds.free_storage_space{scope}",
             comparator="<", critical=0.1 * allocated, warning=0.2 * allocated, priority=2,
             runbook="Storage autoscaling may be at its ceiling (maxAllocatedStorageGb); check table bloat and WAL."),
        spec(key=f"{at}.freeable-memory", title=f"{identifier} freeable memory low",
             metric=f"avg:aws.rds.freeable_memory{scope}", comparator="<", critical=256 * 1024**2,
             warning=512 * 1024**2, priority=3,
             runbook="Look for connection spikes and large sorts (log_temp_files); consider a larger class."),
        spec(key=f"{at}.connections", title=f"{identifier} connections high",
             metric=f"max:aws.rds.database_connections{scope}", aggregation="max", comparator=">",
             critical=_connection_ceiling(settings) * 0.9, warning=_connection_ceiling(settings) * 0.75,
             priority=2, runbook="Check per-user connection limits and pool sizes of the apps named in the alert."),
        spec(key=f"{at}.read-latency", title=f"{identifier} read latency high",
             metric=f"avg:aws.rds.read_latency{scope}",
             comparator=">", critical=0.05, warning=0.02, priority=3,
             runbook="Check IOPS and throughput against the gp3 baseline; look for sequential scans."),
        spec(key=f"{at}.write-latency", title=f"{identifier} write latency high",
             metric=f"avg:aws.rds.write_latency{scope}",
             comparator=">", critical=0.05, warning=0.02, priority=3,
             runbook="Check IOPS and throughput against the gp3 baseline and checkpoint activity."),
        spec(key=f"{at}.transaction-id-age", title=f"{identifier} transaction ids near wraparound",
             metric=f"max:aws.rds.maximum_used_transaction_ids{scope}", aggregation="max", window="last_30m",
             comparator=">", critical=1_000_000_000, warning=500_000_000, priority=1,
             runbook="Autovacuum is not keeping up: find long transactions and blocked vacuums before wraparound."),
    ]  # fmt: skip


def _connection_ceiling(settings: DatabaseConfig) -> int:
    """The sum of the users' connection limits, or 500 if some user is unlimited."""
    limits = [user.connection_limit for user in settings.users]
    return 500 if any(limit < 0 for limit in limits) else sum(limits)


def app_alerts(key: str, service_name: str, cluster_name: str, settings: AppConfig) -> list[AlertSpec]:
    """Load-balancer errors and latency (web apps), running tasks, CPU and memory of one service.

    A customer-facing app's errors page at priority 1 and its latency at 2; others one step lower."""
    ecs_scope = f"{{clustername:{cluster_name},servicename:{service_name}}}"
    target_group = f"{{targetgroup:targetgroup/{service_name[:32]}/*}}"
    spec = partial(AlertSpec, service=key, resource=service_name)
    at = f"app.{key}"
    specs = [
        spec(key=f"{at}.running-tasks", title=f"{service_name} runs fewer tasks than desired",
             metric=f"min:aws.ecs.service.desired{ecs_scope} - min:aws.ecs.service.running{ecs_scope}",
             aggregation="min", window="last_15m", comparator=">", critical=0, priority=2,
             runbook="Tasks are failing to start or being stopped: check the service events and stopped "
             "tasks' reasons (image pull, secrets, health checks)."),
        spec(key=f"{at}.cpu", title=f"{service_name} CPU high",
             metric=f"avg:aws.ecs.cpuutilization{ecs_scope}", comparator=">", critical=90, warning=80, priority=3,
             runbook="Check whether autoscaling is at its maximum and what changed in the last deploy."),
        spec(key=f"{at}.memory", title=f"{service_name} memory high",
             metric=f"avg:aws.ecs.memory_utilization{ecs_scope}", comparator=">", critical=90, warning=80,
             priority=3, runbook="Tasks near their memory limit are killed (OOM): look for leaks or raise memory."),
    ]  # fmt: skip
    if settings.routing is not None:
        specs += [
            spec(key=f"{at}.5xx-rate", title=f"{service_name} 5xx rate high",
                 metric=f"sum:aws.applicationelb.httpcode_target_5xx{target_group}.as_count() / "
                 f"sum:aws.applicationelb.request_count{target_group}.as_count() * 100",
                 aggregation="sum", comparator=">", critical=5, warning=1,
                 priority=1 if settings.customer_facing else 2,
                 runbook="Errors from the app itself: check its logs and traces in Datadog for the failing "
                 "endpoint, and roll back the last deploy if it started then."),
            spec(key=f"{at}.p95-latency", title=f"{service_name} p95 latency high",
                 metric=f"avg:aws.applicationelb.target_response_time.p95{target_group}",
                 comparator=">", critical=1.0, warning=0.5, priority=2 if settings.customer_facing else 3,
                 runbook="Slow responses: check database latency and the slowest endpoints in APM."),
        ]  # fmt: skip
    return specs


def batch_alerts(key: str, physical_name: str, state_machine_arn: str, settings: BatchConfig) -> list[AlertSpec]:
    """Failed and timed-out executions, and runs approaching their timeout."""
    scope = f"{{statemachinearn:{state_machine_arn.lower()}}}"
    timeout_ms = settings.timeout_minutes * 60 * 1000
    spec = partial(AlertSpec, service="batch", resource=physical_name)
    at = f"batch.{key}"
    return [
        spec(key=f"{at}.executions-failed", title=f"{physical_name} failed",
             metric=f"sum:aws.states.executions_failed{scope}.as_count()", aggregation="sum", window="last_1h",
             comparator=">", critical=0, priority=2,
             runbook="Open the failed execution: the task's stop reason and exit code are in its history; "
             "rerun it with the same input once fixed."),
        spec(key=f"{at}.executions-timed-out", title=f"{physical_name} timed out",
             metric=f"sum:aws.states.executions_timed_out{scope}.as_count()", aggregation="sum", window="last_1h",
             comparator=">", critical=0, priority=2,
             runbook="The run exceeded its timeout: check for a stuck task (ECS Exec into it) or a larger input."),
        spec(key=f"{at}.duration", title=f"{physical_name} runs long",
             metric=f"max:aws.states.execution_time.maximum{scope}",
             aggregation="max", window="last_1h", comparator=">", critical=0.8 * timeout_ms, warning=0.5 * timeout_ms,
             priority=3, runbook="Runs are approaching the timeout: look at the input size and database latency."),
    ]  # fmt: skip


def schedule_dlq_alert(queue: str) -> AlertSpec:
    """The schedules' shared dead-letter queue: a schedule that could not start its state machine."""
    return AlertSpec(
        key="batches.schedule-dlq",
        service="batch",
        resource=queue,
        title="A scheduled batch could not be started",
        metric=f"max:aws.sqs.approximate_number_of_messages_visible{{queuename:{queue}}}",
        aggregation="max",
        comparator=">",
        critical=0,
        priority=2,
        runbook="EventBridge Scheduler gave up starting a state machine: read the message for the "
        "schedule and error, fix (usually the scheduler role), then start the batch by hand.",
    )


def mail_alerts(ctx: StackContext) -> list[AlertSpec]:
    """Dead letters, queue age, the functions' errors and throttles, RunTask and dispatch failures."""
    queue, dlq = ctx.physical_name("inbound-mail"), ctx.physical_name("inbound-mail-dlq")
    dispatcher, status = ctx.physical_name("mail-dispatcher"), ctx.physical_name("mail-status")
    gate, status_failed = ctx.physical_name("mail-gate"), ctx.physical_name("mail-status-failed")
    spec = partial(AlertSpec, service="mail")
    return [
        spec(key="mail.dlq-depth", resource=dlq, title=f"{dlq} holds messages", aggregation="max",
             metric=f"max:aws.sqs.approximate_number_of_messages_visible{{queuename:{dlq}}}", comparator=">",
             critical=0, priority=2,
             runbook="Mail that could not be dispatched five times: read the dispatcher's logs for the "
             "message id, fix, then redrive the DLQ to the queue."),
        spec(key="mail.oldest-message", resource=queue, title=f"{queue} is not draining", aggregation="max",
             metric=f"max:aws.sqs.approximate_age_of_oldest_message{{queuename:{queue}}}", comparator=">",
             critical=900, warning=300, priority=2,
             runbook="The dispatcher is failing or throttled: check its errors and the RunTask failures."),
        spec(key="mail.dispatcher-errors", resource=dispatcher, title=f"{dispatcher} errors", aggregation="sum",
             metric=f"sum:aws.lambda.errors{{functionname:{dispatcher}}}.as_count()", comparator=">", critical=0,
             priority=2, runbook="The dispatcher crashed (not a reported record failure): read its logs."),
        spec(key="mail.dispatcher-throttles", resource=dispatcher, title=f"{dispatcher} throttled",
             aggregation="sum", metric=f"sum:aws.lambda.throttles{{functionname:{dispatcher}}}.as_count()",
             comparator=">", critical=0, warning=None, priority=3,
             runbook="Concurrency is exhausted in the mail region: check account limits."),
        spec(key="mail.status-errors", resource=status, title=f"{status} errors", aggregation="sum",
             metric=f"sum:aws.lambda.errors{{functionname:{status}}}.as_count()", comparator=">", critical=0,
             priority=3, runbook="Verdicts are not recorded: read the status function's logs."),
        spec(key="mail.rejected", resource=gate, title="Inbound mail stopped by the gate", aggregation="sum",
             metric=f"sum:platform.mail.messagesrejected{{functionname:{gate}}}.as_count()", comparator=">",
             critical=10, warning=0, priority=3, cloudwatch=True,
             runbook="Mail failed the virus scan, was not scanned clean, or failed DMARC with a reject policy, and "
             "was dropped: the gate's logs give each message id and reason; ask the sender to resend if legitimate."),
        spec(key="mail.gate-errors", resource=gate, title=f"{gate} errors", aggregation="sum",
             metric=f"sum:aws.lambda.errors{{functionname:{gate}}}.as_count()", comparator=">", critical=0,
             priority=2, runbook="The gate failed: inbound mail may not be processed. Read its logs."),
        spec(key="mail.status-failed", resource=status_failed, title=f"{status_failed} holds events",
             aggregation="max",
             metric=f"max:aws.sqs.approximate_number_of_messages_visible{{queuename:{status_failed}}}",
             comparator=">", critical=0, priority=3,
             runbook="Verdicts the status function failed to record after Lambda's retries: read its logs, then "
             "replay the events from the queue."),
        spec(key="mail.run-task-failures", resource=dispatcher, title="RunTask did not start mail processing",
             aggregation="sum",
             metric=f"sum:platform.mail.runtaskfailures{{functionname:{dispatcher}}}.as_count()", comparator=">",
             critical=0, priority=2, cloudwatch=True,
             runbook="ECS answered with failures (capacity, missing task definition): the records are retried; "
             "check the failures' reasons in the dispatcher's logs."),
        spec(key="mail.dispatch-failures", resource=dispatcher, title="Mail records failed to dispatch",
             aggregation="sum",
             metric=f"sum:platform.mail.dispatchfailures{{functionname:{dispatcher}}}.as_count()", comparator=">",
             critical=20, warning=5, priority=3, cloudwatch=True,
             runbook="Records reported failed for any reason (malformed, raw object unreadable, RunTask, a start "
             "not recorded, the deadline): each is retried, then dead-lettered; the reason is in the logs."),
    ]  # fmt: skip
