"""Alert specs: what to watch, declared by the component that owns the watched resource.

Plain values, testable as strings. The monitoring component turns each spec into a Datadog monitor
and routes it by environment; nothing here imports pulumi_datadog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Comparator = Literal[">", ">=", "<", "<="]


@dataclass(frozen=True, kw_only=True)
class AlertSpec:
    key: str
    """Stable id (`database.app.cpu`): config overrides thresholds by it, and monitors are named from it."""
    service: str
    """The on-call service that owns the alert (`database`, `api`, `batch`, `mail`)."""
    resource: str
    """The watched resource's physical name (DB identifier, queue name, ...)."""
    title: str
    metric: str
    """The metric part of the query with its scope: `avg:aws.rds.cpuutilization{dbinstanceidentifier:x}`."""
    window: str = "last_10m"
    aggregation: Literal["avg", "max", "min", "sum"] = "avg"
    comparator: Comparator
    critical: float
    warning: float | None = None
    priority: Literal[1, 2, 3, 4, 5] = 3
    runbook: str
    """What to check first, in one or two sentences; the monitoring component links the full runbook."""
    notify_no_data: bool = False
    cloudwatch: bool = True
    """Metrics crawled from CloudWatch arrive late; monitors on them need an evaluation delay."""

    def query(self, critical: float | None = None) -> str:
        """The Datadog metric-monitor query with the critical threshold (or an override) in it."""
        threshold = self.critical if critical is None else critical
        return f"{self.aggregation}({self.window}):{self.metric} {self.comparator} {_number(threshold)}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
