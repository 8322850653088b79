"""Run a Pulumi program on the mock runtime the way the language host runs it, recording everything.

Mirrors `pulumi-language-python-exec`: `set_all_config`, then `runpy.run_path(<project dir>)` inside
the stack. A recording monitor keeps each raw RegisterResourceRequest, because parent, provider and
options (protect, ignoreChanges, dependencies, aliases) are only visible there.
"""

from __future__ import annotations

import logging
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import ROOT, get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class RecordedResource:
    """One registration as the engine would see it. `inputs` has secrets unwrapped; their top-level
    keys are in `secret_inputs`."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    inputs: dict[str, Any]
    secret_inputs: list[str]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    replace_on_changes: list[str]
    additional_secret_outputs: list[str]
    dependencies: list[str]
    aliases: list[dict[str, str]]
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """Input property -> URNs of the resources whose outputs it uses (what stack policies join on)."""
    read: bool = False


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    secret_outputs: list[str] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def children_of(self, urn: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == urn]


class RecordingMonitor(MockMonitor):
    """The SDK's MockMonitor, plus a record of every request and engine-style URNs.

    The Python mock builds URNs from the parent's last type only and prefixes top-level resources
    with the stack type; the engine uses the full type chain without the stack. Policies and diffs
    match on URNs, so the recording uses the engine's form.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks, *, project: str, stack: str) -> None:
        super().__init__(mocks)
        self.project = project
        self.stack = stack
        self.recorded: list[RecordedResource] = []
        self._engine_urn: dict[str, str] = {}
        self._qualified_type: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self._record(request, response.urn, read=False)
        return response

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self._record(request, response.urn, read=True)
        return response

    def _engine(self, mock_urn: str) -> str:
        return self._engine_urn.get(mock_urn, mock_urn)

    def _record(self, request: Any, mock_urn: str, *, read: bool) -> None:
        parent_qualified = self._qualified_type.get(request.parent, "")
        if request.type == STACK_TYPE or not parent_qualified or parent_qualified == STACK_TYPE:
            qualified = request.type
        else:
            qualified = f"{parent_qualified}${request.type}"
        urn = f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{request.name}"
        self._engine_urn[mock_urn] = urn
        self._qualified_type[mock_urn] = qualified
        if request.type == STACK_TYPE:
            return
        properties = request.properties if read else request.object
        raw_inputs = rpc.deserialize_properties(properties, keep_unknowns=True)
        secret_inputs = sorted(k for k, v in raw_inputs.items() if _contains_secret(v))
        provider_urn, _, provider_id = request.provider.rpartition("::") if request.provider else ("", "", "")
        self.recorded.append(
            RecordedResource(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=self._engine(request.parent) if request.parent else "",
                custom=bool(getattr(request, "custom", True)),
                provider=f"{self._engine(provider_urn)}::{provider_id}" if provider_urn else "",
                inputs={k: _unwrap(v) for k, v in raw_inputs.items()},
                secret_inputs=secret_inputs,
                protect=bool(getattr(request, "protect", False)),
                retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                delete_before_replace=bool(getattr(request, "deleteBeforeReplace", False)),
                ignore_changes=sorted(getattr(request, "ignoreChanges", [])),
                replace_on_changes=sorted(getattr(request, "replaceOnChanges", [])),
                additional_secret_outputs=sorted(getattr(request, "additionalSecretOutputs", [])),
                dependencies=sorted({self._engine(d) for d in getattr(request, "dependencies", [])}),
                aliases=_aliases(request),
                property_dependencies={
                    prop: sorted({self._engine(u) for u in deps.urns})
                    for prop, deps in sorted(getattr(request, "propertyDependencies", {}).items())
                },
                read=read,
            )
        )


def _contains_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


def _unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _aliases(request: Any) -> list[dict[str, str]]:
    found = []
    for alias in getattr(request, "aliases", []):
        if alias.HasField("urn"):
            found.append({"urn": alias.urn})
        else:
            spec = alias.spec
            found.append({k: v for k, v in (("name", spec.name), ("type", spec.type)) if v})
    return found


Program = Path | Callable[[], None]


def run_program(
    program: Program,
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    mocks: pulumi.runtime.Mocks,
    preview: bool = True,
    record: list[RecordedResource] | None = None,
) -> ProgramRun:
    """Run `program` (a project directory, or a callable for component tests) and return what it registered.

    Exceptions raised by the program (a config error, an unmocked invoke) propagate unchanged; pass
    `record` to see what was registered before the failure.
    """
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    ROOT.set(None)
    monitor = RecordingMonitor(mocks, project=project, stack=stack)
    if record is not None:
        monitor.recorded = record
    quiet = logging.getLogger("platform.offline")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor, logger=quiet)
    root = get_root_resource()
    if root is not None:
        # set_mocks registered the root stack before our monitor could see its request.
        root_urn = f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"
        mock_root = monitor.make_urn("", STACK_TYPE, f"{project}-{stack}")
        monitor._engine_urn[mock_root] = root_urn
        monitor._qualified_type[mock_root] = STACK_TYPE

    def body() -> None:
        if callable(program):
            program()
        else:
            runpy.run_path(str(program), run_name="__main__")

    _sync_await(run_pulumi_func(body))
    outputs, secret_outputs = _stack_outputs()
    return ProgramRun(
        project=project,
        stack=stack,
        resources=monitor.recorded,
        outputs=outputs,
        secret_outputs=secret_outputs,
    )


def _stack_outputs() -> tuple[dict[str, Any], list[str]]:
    root = get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {}) or {}
    outputs: dict[str, Any] = {}
    secret: list[str] = []
    for key, value in exported.items():
        output = pulumi.Output.from_input(value)
        outputs[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            secret.append(key)
    return outputs, sorted(secret)
