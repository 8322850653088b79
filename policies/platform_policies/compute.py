"""ECS clusters, task definitions and services; ECR; Lambda; Step Functions; EventBridge Scheduler."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from platform_lib.schedules import schedule_problem, time_zone_problem
from platform_lib.secret_names import SECRET_LIKE
from platform_policies.framework import Malformed, Resource, Rule, Stack
from platform_policies.helpers import obj, objs

CLUSTER = "aws:ecs/cluster:Cluster"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
SCHEDULE = "aws:scheduler/schedule:Schedule"
CURRENT_PYTHON = {"python3.12", "python3.13"}
LOG_LEVELS = ["OFF", "FATAL", "ERROR", "ALL"]


def containers(task: Resource) -> list[Mapping[str, Any]]:
    return objs(task.json("containerDefinitions"))


def _insights(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    settings = {str(s.get("name")): s.get("value") for s in objs(r.get("settings"))}
    if settings.get("containerInsights") not in {"enabled", "enhanced"}:
        yield f"cluster {r.get('name')} does not collect Container Insights"
    yield from _exec_sessions(str(r.get("name")), obj(r.get("configuration")).get("executeCommandConfiguration"))


def _exec_sessions(cluster: str, exec_config: Any) -> Iterator[str]:
    """checkov CKV_AWS_224 whole: sessions encrypted with a key, logged to a destination of the cluster's
    own (`OVERRIDE`), and that destination encrypted (the transcripts hold what an operator saw)."""
    if not isinstance(exec_config, Mapping):
        yield f"cluster {cluster}: ECS Exec has no configuration (sessions neither encrypted with a key nor logged)"
        return
    if not exec_config.get("kmsKeyId"):
        yield f"cluster {cluster}: ECS Exec sessions are not encrypted with a customer key (kmsKeyId)"
    if exec_config.get("logging") != "OVERRIDE":
        yield f"cluster {cluster}: ECS Exec logging is {exec_config.get('logging') or 'DEFAULT'}, not OVERRIDE"
        return
    log = exec_config.get("logConfiguration")
    log = log if isinstance(log, Mapping) else {}
    destinations = {
        "cloudWatchLogGroupName": "cloudWatchEncryptionEnabled",
        "s3BucketName": "s3BucketEncryptionEnabled",
    }
    configured = [name for name in destinations if log.get(name)]
    if not configured:
        yield f"cluster {cluster}: ECS Exec logging names no log group or bucket"
    for name in configured:
        if log.get(destinations[name]) is not True:
            yield f"cluster {cluster}: ECS Exec transcripts in {log.get(name)} are not encrypted ({destinations[name]})"


def _task_network(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("networkMode") != "awsvpc":
        yield f"{r.get('family')} does not use awsvpc networking (host or bridge networking shares the host's)"


def _task_namespaces(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for mode in ("pidMode", "ipcMode"):
        if r.get(mode) == "host":
            yield f"{r.get('family')} shares the host's {mode.removesuffix('Mode').upper()} namespace"


def _task_roles(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("taskRoleArn") and r.get("taskRoleArn") == r.get("executionRoleArn"):
        yield f"{r.get('family')} uses one role to start the task and to run it"


def _container_logs(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for container in containers(r):
        if not container.get("logConfiguration"):
            yield f"{r.get('family')}/{container.get('name')} has no log configuration"


def _container_unprivileged(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for container in containers(r):
        if container.get("privileged") is True:
            yield f"{r.get('family')}/{container.get('name')} is privileged"


def _no_plain_secrets(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.type == TASK:
        for container in containers(r):
            environment = container.get("environment")
            if isinstance(environment, Mapping):
                raise Malformed("a container's environment is a list of {name, value}, not an object")
            for entry in objs(environment):
                if SECRET_LIKE.search(str(entry.get("name", ""))):
                    yield f"{r.get('family')}/{container.get('name')} has {entry.get('name')} in plain environment"
    else:
        variables = obj(obj(r.get("environment")).get("variables"))
        for name in variables:
            if SECRET_LIKE.search(str(name)):
                yield f"function {r.get('name')} has {name} in plain environment"


def _readonly_root(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for container in containers(r):
        if container.get("readonlyRootFilesystem") is not True:
            yield f"{r.get('family')}/{container.get('name')} has a writable root filesystem"


def _images_pinned(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for container in containers(r):
        image = str(container.get("image", ""))
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" in image:
            continue
        if ":" not in last or last.endswith(":latest"):
            yield f"{r.get('family')}/{container.get('name')} runs {image}, which is not a pinned version"


def _service(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    network = obj(r.get("networkConfiguration"))
    if network.get("assignPublicIp") is True:
        yield f"service {r.get('name')} gives its tasks public IPs"
    if r.get("platformVersion") not in (None, "LATEST"):
        yield f"service {r.get('name')} pins Fargate platform {r.get('platformVersion')}"


def _circuit_breaker(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    breaker = obj(r.get("deploymentCircuitBreaker"))
    if not (breaker.get("enable") and breaker.get("rollback")):
        yield f"service {r.get('name')} does not roll back failed deployments (circuit breaker)"


def _repository(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if obj(r.get("imageScanningConfiguration")).get("scanOnPush") is not True:
        yield f"repository {r.get('name')} does not scan images on push"
    if r.get("imageTagMutability") not in {"IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"}:
        yield f"repository {r.get('name')} allows tags to be overwritten"


def _repository_lifecycle(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for repo in stack.of_type(REPOSITORY):
        with stack.deciding(repo):
            managed = [
                p for p in stack.of_type(LIFECYCLE)
                if repo.urn in p.property_dependencies.get("repository", ()) or p.get("repository") == repo.get("name")
            ]  # fmt: skip
            if not managed:
                yield repo.urn, f"repository {repo.get('name')} has no lifecycle policy"


def _function(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    runtime = str(r.get("runtime") or "")
    if runtime and runtime.startswith("python") and runtime not in CURRENT_PYTHON:
        yield f"function {r.get('name')} runs {runtime}; use one of {sorted(CURRENT_PYTHON)}"
    if not r.get("description"):
        yield f"function {r.get('name')} has no description"


ACCOUNTLESS_SOURCE_ARNS = {"s3.amazonaws.com"}
"""Services whose source ARNs carry no account (`arn:aws:s3:::bucket`): only `source_account` pins one."""


def _permission(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    """A source ARN that names the account (an EventBridge rule, an SNS topic, an SES rule set) pins
    the caller by itself; an S3 bucket's does not, so S3 needs `source_account` as well."""
    principal = str(r.get("principal", ""))
    if principal == "*":
        yield "the function may be invoked by anyone"
        return
    if not principal.endswith(".amazonaws.com"):
        return
    source_arn = r.get("sourceArn")
    if not source_arn:
        yield f"{principal} may invoke the function without sourceArn (confused deputy)"
        return
    fields = str(source_arn).split(":")
    accountless = principal in ACCOUNTLESS_SOURCE_ARNS or (len(fields) > 4 and not fields[4])
    if accountless and not r.get("sourceAccount"):
        yield f"{principal} may invoke the function from any account's {source_arn} (no sourceAccount)"


def _function_url(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("authorizationType") != "AWS_IAM":
        yield f"the URL of function {r.get('functionName')} lets anyone on the internet invoke it (authorization NONE)"


def _state_machine(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    logging = obj(r.get("loggingConfiguration"))
    minimum = str(config.get("minimumLogLevel", "ALL"))  # cdk-nag AwsSolutions-SF1: ALL events
    level = str(logging.get("level", "OFF"))
    if LOG_LEVELS.index(level if level in LOG_LEVELS else "OFF") < LOG_LEVELS.index(minimum):
        yield f"state machine {r.get('name')} logs at {level}; at least {minimum}"
    if obj(r.get("tracingConfiguration")).get("enabled") is not True:
        yield f"state machine {r.get('name')} is not traced with X-Ray"
    definition = obj(r.json("definition"))
    for name, written in obj(definition.get("States")).items():
        state = obj(written)
        if not str(state.get("Resource", "")).startswith("arn:aws:states:::ecs:runTask"):
            continue
        network = obj(obj(obj(state.get("Parameters")).get("NetworkConfiguration")).get("AwsvpcConfiguration"))
        if network.get("AssignPublicIp") != "DISABLED":
            yield f"{r.get('name')}/{name} may give the task a public IP"
        if not state.get("Retry") or not state.get("Catch"):
            yield f"{r.get('name')}/{name} has no Retry or no Catch"


def _schedule(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    target = obj(r.get("target"))
    if not obj(target.get("deadLetterConfig")).get("arn"):
        yield f"schedule {r.get('name')} has no dead-letter queue: failed starts would vanish"
    if not target.get("retryPolicy"):
        yield f"schedule {r.get('name')} has no retry policy"
    expression = str(r.get("scheduleExpression", ""))
    problem = None if expression.startswith("at(") else schedule_problem(expression)
    if problem:
        yield f"schedule {r.get('name')}: {expression}: {problem}"
    zone = r.get("scheduleExpressionTimezone")
    if not zone:
        yield f"schedule {r.get('name')} has no explicit time zone (it would run in UTC)"
    elif time_zone_problem(zone):
        yield f"schedule {r.get('name')}: {time_zone_problem(zone)}"


RULES = [
    Rule(id="ecs-cluster-observable", description="ECS clusters collect Container Insights and encrypt and log ECS "
         "Exec sessions.", why="Operators' shell sessions into production tasks must be recorded and protected.",
         fix="Use the Cluster component (containerInsights enabled; exec configuration with a KMS key and logging).",
         anchors="cdk-nag AwsSolutions-ECS4; FSBP ECS.12; checkov CKV_AWS_223/224", types=(CLUSTER,), check=_insights),
    Rule(id="ecs-task-awsvpc", description="Task definitions use awsvpc networking.",
         why="Host or bridge networking shares the host's network: a task's own security group would not apply.",
         fix="network_mode='awsvpc' (Fargate's only mode; EcsApp and CronBatch set it).",
         anchors="FSBP ECS.1", types=(TASK,), check=_task_network),
    Rule(id="ecs-task-no-host-namespaces", description="Task definitions share neither the host's process nor its "
         "IPC namespace.", why="A container in the host's namespaces can see and signal the host's processes.",
         fix="Leave pid_mode and ipc_mode unset.", anchors="FSBP ECS.3", types=(TASK,), check=_task_namespaces),
    Rule(id="ecs-task-separate-roles", description="Task definitions start the task and run it with separate roles.",
         why="The execution role reads every secret of the task; the app's code must not hold it.",
         fix="Use components/task_roles.py (an execution role and a task role per app).",
         anchors="checkov CKV_AWS_249", types=(TASK,), check=_task_roles),
    Rule(id="ecs-container-logging", description="Every container of a task definition has a log configuration.",
         why="A container without one leaves no evidence of what it did.",
         fix="Build containers with platform_lib/containers.py (awslogs to the app's encrypted log group).",
         anchors="cdk-nag AwsSolutions-ECS7; FSBP ECS.9", types=(TASK,), check=_container_logs),
    Rule(id="ecs-container-unprivileged", description="No container runs privileged.",
         why="A privileged container has the host's devices and capabilities: an escape is one step.",
         fix="Remove privileged from the container definition.", anchors="FSBP ECS.4", types=(TASK,),
         check=_container_unprivileged),
    Rule(id="no-plain-secrets", description="No secret-looking value is in a container's or function's plain "
         "environment.", why="Plain environment is readable by anyone who can describe the task or function.",
         fix="Pass it as a container secret (valueFrom) or read it from Secrets Manager at start.",
         anchors="cdk-nag AwsSolutions-ECS2; FSBP ECS.8; checkov CKV_AWS_45", types=(TASK, FUNCTION),
         check=_no_plain_secrets),
    Rule(id="ecs-readonly-root", description="Containers run with a read-only root filesystem.",
         why="A writable root lets an attacker persist tools inside a running task.",
         fix="Set readonlyRootFilesystem and mount writable volumes where needed.",
         anchors="FSBP ECS.5; checkov CKV_AWS_336", severity=Severity.MEDIUM, types=(TASK,), check=_readonly_root),
    Rule(id="ecs-images-pinned", description="Containers run pinned image versions, never :latest.",
         why="An unpinned image changes what runs without a reviewed change.",
         fix="Pin the tag (the platform's images and sidecars are pinned in config and containers.py).",
         anchors="platform", types=(TASK,), check=_images_pinned),
    Rule(id="ecs-service-private", description="ECS services give tasks no public IP and run the latest Fargate "
         "platform.", why="Tasks are reached through the load balancer only; old platforms miss fixes.",
         fix="assign_public_ip=False in app subnets; leave platform_version unset.",
         anchors="FSBP ECS.2, ECS.10", types=(SERVICE,), check=_service),
    Rule(id="ecs-deployment-rollback", description="ECS services roll back failed deployments.",
         why="A bad release must not replace healthy tasks with failing ones.",
         fix="deployment_circuit_breaker enable=True, rollback=True.", anchors="platform", types=(SERVICE,),
         check=_circuit_breaker),
    Rule(id="ecr-repository", description="ECR repositories scan on push and have immutable tags.",
         why="Vulnerable images are found at once; a tag always means the same image.",
         fix="image_scanning_configuration scan_on_push=True; image_tag_mutability IMMUTABLE.",
         anchors="FSBP ECR.1, ECR.2", types=(REPOSITORY,), check=_repository),
    Rule(id="ecr-lifecycle", description="ECR repositories have a lifecycle policy.",
         why="Without one, old images pile up (cost, and a larger surface to scan).",
         fix="Add an aws.ecr.LifecyclePolicy (EcsApp does).", anchors="FSBP ECR.3", severity=Severity.LOW,
         types=(REPOSITORY, LIFECYCLE), stack_check=_repository_lifecycle),
    Rule(id="lambda-function", description="Lambda functions run a current runtime and are described.",
         why="Deprecated runtimes stop receiving security patches.", fix="Use python3.13 (lambda_function.py does).",
         anchors="cdk-nag AwsSolutions-L1; FSBP Lambda.2", types=(FUNCTION,), check=_function),
    Rule(id="lambda-permission-scoped", description="Service principals may invoke functions only with a source "
         "ARN, and a source account where that ARN names none (S3).", why="Without them any account's resource of that service could invoke "
         "the function (confused deputy).", fix="Set source_arn and source_account on aws.lambda_.Permission.",
         anchors="FSBP Lambda.1; checkov CKV_AWS_364", types=(PERMISSION,), check=_permission),
    Rule(id="lambda-url-authenticated", description="Function URLs require IAM authorization.",
         why="A URL with authorization NONE is a public endpoint that bypasses the load balancer and its WAF.",
         fix="authorization_type='AWS_IAM', or serve it through the load balancer.",
         anchors="checkov CKV_AWS_258; FSBP Lambda.1", types=(FUNCTION_URL,), check=_function_url),
    Rule(id="step-functions-observable", description="State machines log (at least the configured level), are "
         "traced, and their ECS tasks get no public IP and have Retry and Catch.",
         why="A failed batch must be diagnosable, and must fail visibly rather than half-run.",
         fix="Use the CronBatch component.", anchors="cdk-nag AwsSolutions-SF1, SF2; FSBP StepFunctions.1",
         types=(STATE_MACHINE,), check=_state_machine,
         config={"minimumLogLevel": {"type": "string", "enum": ["ERROR", "ALL"], "default": "ALL"}}),
    Rule(id="schedules-valid", description="Schedules have a valid expression, an explicit time zone, a retry "
         "policy and a dead-letter queue.", why="An invalid schedule fails at deploy; one without a DLQ loses "
         "failed starts silently.", fix="Use the CronBatch component; check platform:batches.*.schedule.",
         anchors="platform", types=(SCHEDULE,), check=_schedule),
]  # fmt: skip
