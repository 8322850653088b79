"""Step Functions definitions as pure functions (Amazon States Language, JSONPath)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pulumi

from platform_lib.containers import APP_CONTAINER

RUN_TASK = "arn:aws:states:::ecs:runTask.sync"
RUN_STATE = "Run ECS Task"
FAIL_STATE = "Failed"
ECS_API_ERRORS = ["AmazonECS.Unknown", "ECS.AmazonECSException"]
"""RunTask answered with `failures` (capacity, throttling) or the ECS API failed: safe to retry."""
TASK_FAILED = "States.TaskFailed"
"""The task ran and stopped badly (non-zero exit, failed to start): retried as configured."""


class Retry(Protocol):
    """How a failed task is retried (the config's `retry` block satisfies it)."""

    @property
    def max_attempts(self) -> int: ...
    @property
    def interval_seconds(self) -> int: ...
    @property
    def backoff_rate(self) -> float: ...


def run_task_definition(
    *,
    comment: str,
    cluster_arn: pulumi.Input[str],
    task_definition_arn: pulumi.Input[str],
    subnets: pulumi.Input[Sequence[str]],
    security_groups: Sequence[pulumi.Input[str]],
    command: Sequence[str],
    input_keys: Sequence[str],
    retry: Retry,
    task_timeout_seconds: int,
) -> dict[str, Any]:
    """One task state running the batch's container with the command and input-driven environment."""
    retries: list[dict[str, Any]] = [
        {"ErrorEquals": ECS_API_ERRORS, "IntervalSeconds": 10, "MaxAttempts": 3, "BackoffRate": 2.0},
    ]
    if retry.max_attempts:
        retries.append(
            {
                "ErrorEquals": [TASK_FAILED],
                "IntervalSeconds": retry.interval_seconds,
                "MaxAttempts": retry.max_attempts,
                "BackoffRate": retry.backoff_rate,
            }
        )
    attempts = 1 + retry.max_attempts
    return {
        "Comment": comment,
        "StartAt": RUN_STATE,
        # The whole execution: every attempt at full length plus the waits between them.
        "TimeoutSeconds": attempts * task_timeout_seconds + 600,
        "States": {
            RUN_STATE: {
                "Type": "Task",
                "Resource": RUN_TASK,
                "Parameters": {
                    "Cluster": cluster_arn,
                    "TaskDefinition": task_definition_arn,
                    "LaunchType": "FARGATE",
                    "PlatformVersion": "LATEST",
                    "EnableExecuteCommand": True,
                    "PropagateTags": "TASK_DEFINITION",
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {
                            "Subnets": subnets,
                            "SecurityGroups": list(security_groups),
                            "AssignPublicIp": "DISABLED",
                        }
                    },
                    "Overrides": {
                        "ContainerOverrides": [
                            {
                                "Name": APP_CONTAINER,
                                "Command": list(command),
                                "Environment": input_environment(input_keys),
                            }
                        ]
                    },
                },
                "TimeoutSeconds": task_timeout_seconds,
                "Retry": retries,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAIL_STATE}],
                "End": True,
            },
            FAIL_STATE: {
                "Type": "Fail",
                "Error": "BatchFailed",
                "Cause": "The ECS task failed after its retries; the execution's history has the task's stop reason.",
            },
        },
    }


def input_environment(keys: Sequence[str]) -> list[dict[str, str]]:
    """`[{Name: KEY, "Value.$": "$.KEY"}]`: each input key read from the execution input."""
    return [{"Name": key, "Value.$": f"$.{key}"} for key in sorted(keys)]


def definition_paths(definition: Mapping[str, Any]) -> list[str]:
    """Every `Value.$` JSONPath in the container overrides (tests check they name input keys)."""
    state = definition["States"][RUN_STATE]
    overrides = state["Parameters"]["Overrides"]["ContainerOverrides"]
    return [entry["Value.$"] for override in overrides for entry in override.get("Environment", [])]
