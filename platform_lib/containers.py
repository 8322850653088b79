"""ECS container definitions as pure functions: the app, the Datadog agent, the FireLens log router.

Like the jsonnet libraries of the platform this one follows: apps, batches and the mail task build
their task definitions from these, so every task ships logs and metrics the same way. Each function
returns a plain dict (values may be Outputs); `container_definitions_json` renders the list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

DATADOG_AGENT_IMAGE = "datadog/agent:7.60.0"
LOG_ROUTER_IMAGE = "aws-observability/aws-for-fluent-bit:2.32.4"
"""The sidecars' images on ECR Public, pulled through this account's registry (the cluster's pull-through
cache rule): image pulls stay on the VPC endpoints, so no task needs the internet to start."""
SIDECAR_CACHE_PREFIX = "ecr-public"
SIDECAR_UPSTREAM = "public.ecr.aws"


def sidecar_image(registry: pulumi.Input[str], image: str) -> pulumi.Output[str]:
    """`<registry>/<image>`, where `registry` is `<account>.dkr.ecr.<region>.amazonaws.com/ecr-public`."""
    return pulumi.Output.concat(registry, "/", image)


"""Pinned versions: a sidecar that changes under a running service is a deploy nobody reviewed."""
APP_CONTAINER = "app"
AGENT_CONTAINER = "datadog-agent"
ROUTER_CONTAINER = "log-router"
DOGSTATSD_PORT = 8125
APM_PORT = 8126

Container = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class DatadogTags:
    """Unified service tagging: the same env/service/version on metrics, traces and logs."""

    env: str
    service: str
    version: str
    team: str

    def as_list(self) -> str:
        return f"env:{self.env},service:{self.service},version:{self.version},team:{self.team}"


@dataclass(frozen=True, kw_only=True)
class DatadogSettings:
    site: str
    api_key_secret_arn: pulumi.Input[str]


def name_value(values: Mapping[str, pulumi.Input[str]]) -> list[dict[str, pulumi.Input[str]]]:
    """ECS's `[{name, value}]` form, sorted by name so the JSON is stable."""
    return [{"name": name, "value": values[name]} for name in sorted(values)]


def name_value_from(secrets: Mapping[str, pulumi.Input[str]]) -> list[dict[str, pulumi.Input[str]]]:
    """ECS's `[{name, valueFrom}]` form for `secrets`: the value never appears in the task definition."""
    return [{"name": name, "valueFrom": secrets[name]} for name in sorted(secrets)]


def firelens_datadog_logs(datadog: DatadogSettings, tags: DatadogTags, *, source: str) -> Container:
    """The app's logConfiguration: FireLens to Datadog's HTTP intake over TLS, API key as a secret."""
    return {
        "logDriver": "awsfirelens",
        "options": {
            "Name": "datadog",
            "Host": f"http-intake.logs.{datadog.site}",
            "TLS": "on",
            "compress": "gzip",
            "provider": "ecs",
            "dd_service": tags.service,
            "dd_source": source,
            "dd_message_key": "log",
            "dd_tags": tags.as_list(),
        },
        "secretOptions": [{"name": "apikey", "valueFrom": datadog.api_key_secret_arn}],
    }


def awslogs(log_group: pulumi.Input[str], region: str, prefix: str) -> Container:
    return {
        "logDriver": "awslogs",
        "options": {"awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": prefix},
    }


def app_container(
    *,
    image: pulumi.Input[str],
    tags: DatadogTags,
    datadog: DatadogSettings,
    environment: Mapping[str, pulumi.Input[str]],
    secrets: Mapping[str, pulumi.Input[str]],
    port: int | None = None,
    command: Sequence[str] | None = None,
    log_source: str = "app",
) -> Container:
    """The application container. Plain settings in `environment`; anything secret only by reference."""
    container: Container = {
        "name": APP_CONTAINER,
        "image": image,
        "essential": True,
        "environment": name_value(
            {**environment, "DD_ENV": tags.env, "DD_SERVICE": tags.service, "DD_VERSION": tags.version}
        ),
        "secrets": name_value_from(secrets),
        "logConfiguration": firelens_datadog_logs(datadog, tags, source=log_source),
        "dockerLabels": {
            "com.datadoghq.tags.env": tags.env,
            "com.datadoghq.tags.service": tags.service,
            "com.datadoghq.tags.version": tags.version,
        },
        "dependsOn": [{"containerName": ROUTER_CONTAINER, "condition": "START"}],
        "readonlyRootFilesystem": False,  # ECS Exec needs a writable root filesystem
        "stopTimeout": 30,  # Spot interruptions give two minutes; drain within this
    }
    if port is not None:
        container["portMappings"] = [{"containerPort": port, "protocol": "tcp"}]
    if command is not None:
        container["command"] = list(command)
    return container


def datadog_agent_container(
    *,
    datadog: DatadogSettings,
    tags: DatadogTags,
    log_group: pulumi.Input[str],
    region: str,
    sidecar_registry: pulumi.Input[str],
) -> Container:
    """The Datadog agent sidecar: metrics, APM and DogStatsD for the task (`ECS_FARGATE=true`)."""
    return {
        "name": AGENT_CONTAINER,
        "image": sidecar_image(sidecar_registry, DATADOG_AGENT_IMAGE),
        "essential": True,
        "cpu": 64,
        "memoryReservation": 256,
        "environment": name_value(
            {
                "DD_APM_ENABLED": "true",
                "DD_APM_NON_LOCAL_TRAFFIC": "true",
                "DD_DOGSTATSD_NON_LOCAL_TRAFFIC": "true",
                "DD_ENV": tags.env,
                "DD_SERVICE": tags.service,
                "DD_SITE": datadog.site,
                "DD_TAGS": tags.as_list().replace(",", " "),
                "DD_VERSION": tags.version,
                "ECS_FARGATE": "true",
            }
        ),
        "secrets": [{"name": "DD_API_KEY", "valueFrom": datadog.api_key_secret_arn}],
        "portMappings": [
            {"containerPort": DOGSTATSD_PORT, "protocol": "udp"},
            {"containerPort": APM_PORT, "protocol": "tcp"},
        ],
        "healthCheck": {
            "command": ["CMD-SHELL", "agent health"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 15,
        },
        "logConfiguration": awslogs(log_group, region, "datadog-agent"),
    }


def log_router_container(
    *, log_group: pulumi.Input[str], region: str, sidecar_registry: pulumi.Input[str]
) -> Container:
    """Fluent Bit as the FireLens router; its own logs go to CloudWatch so a broken pipeline is visible."""
    return {
        "name": ROUTER_CONTAINER,
        "image": sidecar_image(sidecar_registry, LOG_ROUTER_IMAGE),
        "essential": True,
        "cpu": 32,
        "memoryReservation": 64,
        "firelensConfiguration": {
            "type": "fluentbit",
            "options": {
                "enable-ecs-log-metadata": "true",
                "config-file-type": "file",
                "config-file-value": "/fluent-bit/configs/parse-json.conf",
            },
        },
        "user": "0",
        "logConfiguration": awslogs(log_group, region, "log-router"),
    }


def task_containers(
    *,
    image: pulumi.Input[str],
    tags: DatadogTags,
    datadog: DatadogSettings,
    environment: Mapping[str, pulumi.Input[str]],
    secrets: Mapping[str, pulumi.Input[str]],
    log_group: pulumi.Input[str],
    region: str,
    sidecar_registry: pulumi.Input[str],
    port: int | None = None,
    command: Sequence[str] | None = None,
) -> list[Container]:
    """The three containers every platform task runs: app, Datadog agent, log router."""
    return [
        app_container(
            image=image,
            tags=tags,
            datadog=datadog,
            environment=environment,
            secrets=secrets,
            port=port,
            command=command,
        ),
        datadog_agent_container(
            datadog=datadog, tags=tags, log_group=log_group, region=region, sidecar_registry=sidecar_registry
        ),
        log_router_container(log_group=log_group, region=region, sidecar_registry=sidecar_registry),
    ]


def container_definitions_json(containers: Sequence[Container]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps(list(containers), sort_keys=True)
