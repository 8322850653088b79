"""What the nightly refresh found: drift (resources whose real state differs from the recorded one, and
which properties), no drift, or a check that itself failed, never confused with one another.

Read from the JSON-lines engine events of `pulumi refresh --preview-only --run-program --json`
(tools/pulumi_cli.py says why those flags). A refreshed resource's `resOutputsEvent` carries the
refresh's result op: `update` (it drifted; `detailedDiff` or `diffs` name the properties) or `delete`
(it is gone). The check failed when the CLI exited non-zero, an error diagnostic or a failed resource
read was reported, or the stream has no summary event (the run did not finish): then nothing is said
about drift at all, because a half-read stack is not evidence of "no drift".

Standard library only (the report step runs with the runner's `python3`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DRIFT_OPS = {"update": "changed outside Pulumi", "delete": "deleted outside Pulumi"}
CLEAN, DRIFT, FAILED = "clean", "drift", "failed"


@dataclass(frozen=True)
class Drifted:
    op: str
    urn: str
    properties: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        return self.urn.split("::")[-2].split("$")[-1]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass
class DriftCheck:
    stack: str
    resources: list[Drifted] = field(default_factory=list)
    checked: int = 0
    """Resources the refresh read (its summary's count of every op)."""
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return FAILED if self.errors else DRIFT if self.resources else CLEAN

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "status": self.status,
            "checked": self.checked,
            "errors": self.errors,
            "resources": [{"op": r.op, "urn": r.urn, "properties": list(r.properties)} for r in self.resources],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DriftCheck:
        resources = [Drifted(str(r["op"]), str(r["urn"]), tuple(r.get("properties", []))) for r in data["resources"]]
        return cls(str(data["stack"]), resources, int(data.get("checked", 0)), list(data.get("errors", [])))


def from_refresh_events(text: str, stack: str, *, exit_code: int) -> DriftCheck:
    check = DriftCheck(stack)
    drifted: dict[str, Drifted] = {}
    summary: dict[str, Any] | None = None
    skipped = 0
    for line in text.splitlines():
        event = _event(line) if line.strip() else {}
        if event is None:
            skipped += 1
        elif outputs := _dict(_dict(event.get("resOutputsEvent")).get("metadata")):
            if found := _drifted(outputs):
                drifted[found.urn] = found
        elif failed := _dict(_dict(event.get("resOpFailedEvent")).get("metadata")):
            check.errors.append(f"reading {failed.get('urn', 'a resource')} failed")
        elif (diagnostic := _dict(event.get("diagnosticEvent"))) and diagnostic.get("severity") == "error":
            check.errors.append(str(diagnostic.get("message", "")).strip() or "an error diagnostic without a message")
        elif "summaryEvent" in event:
            summary = _dict(event["summaryEvent"])
    if exit_code != 0:
        check.errors.append(f"pulumi refresh exited {exit_code}")
    if summary is None:
        check.errors.append("the refresh printed no summary event: it did not finish")
    else:
        check.checked = sum(n for n in _dict(summary.get("resourceChanges")).values() if isinstance(n, int))
        if summary.get("result") == "failed" and not check.errors:
            check.errors.append("the engine reported the refresh as failed")
    if skipped and check.errors:
        check.errors.append(f"{skipped} line(s) of the output were not engine events")
    check.resources = sorted(drifted.values(), key=lambda d: (d.type, d.name))
    return check


def _event(line: str) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def _drifted(metadata: dict[str, Any]) -> Drifted | None:
    op, urn = str(metadata.get("op", "")), str(metadata.get("urn", ""))
    if op not in DRIFT_OPS or not urn:
        return None
    keys = sorted(_dict(metadata.get("detailedDiff"))) or sorted(str(k) for k in metadata.get("diffs") or [])
    return Drifted(op, urn, tuple(keys))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------------------------------------------ issue


def check_name(stack: str, *, part: str = "resources", project: str = "platform") -> str:
    """What one drift check is called in its files, issue title and marker: `prd`, `prd-databases`,
    `bootstrap-prd`."""
    name = stack if project == "platform" else f"{project.removeprefix('platform-')}-{stack}"
    return name if part == "resources" else f"{name}-{part}"


def marker(stack: str) -> str:
    return f"<!-- platform-drift:{stack} -->"


def title(stack: str) -> str:
    return f"Drift in {stack}"


def issue_body(check: DriftCheck, *, commit: str, run_url: str, limit: int = 300) -> str:
    """One issue per stack, rewritten on every run that finds drift: what drifted now, not a history."""
    lines = [
        marker(check.stack),
        f"The nightly refresh of `{check.stack}` found **{len(check.resources)} resource(s)** whose real state "
        f"differs from the Pulumi state ({check.checked} checked).",
        "",
        f"<sub>program at commit `{commit[:12]}` · [workflow run]({run_url})</sub>" if run_url else "",
        "",
        "| drift | type | name | properties |",
        "| --- | --- | --- | --- |",
    ]
    for resource in check.resources[:limit]:
        properties = ", ".join(f"`{p}`" for p in resource.properties[:20]) or "(outputs only)"
        if len(resource.properties) > 20:
            properties += f" and {len(resource.properties) - 20} more"
        lines.append(f"| {DRIFT_OPS[resource.op]} | `{resource.type}` | `{resource.name}` | {properties} |")
    if len(check.resources) > limit:
        lines.append(f"\n_{len(check.resources) - limit} more: see the workflow run's log._")
    lines += [
        "",
        "Decide per resource: **keep the change** (put it in the program and merge; the next deploy records it) or "
        "**undo it** (the next `pulumi up` puts back what the program says; a deleted resource is created again).",
        "This issue is updated by every nightly run that finds drift and closed by the first one that finds none.",
    ]
    return "\n".join(line for line in lines if line is not None) + "\n"


def resolved_comment(stack: str, *, run_url: str) -> str:
    where = f" ([workflow run]({run_url}))" if run_url else ""
    return f"The nightly refresh of `{stack}` found no drift{where}. Closing."
