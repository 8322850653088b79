"""Evaluate the policy pack against an offline run, speaking the Analyzer gRPC interface as the engine does.

The engine starts a Python pack by running its `__main__.py`, which serves the Analyzer on a local port
it prints; then it calls `GetAnalyzerInfo`, `Configure` (each policy's enforcement level and config
properties, from `--policy-pack-config` over the schema defaults), `ConfigureStack`, `Analyze` for each
resource and `AnalyzeStack` once. This module does the same with the resources of a ProgramRun, so a
preview with no engine and no cloud is checked by exactly the code that gates `pulumi up`.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tools.mock_runtime import ProgramRun, RecordedResource

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACK_DIR = PROJECT_DIR / "policies"
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
LEVELS = {0: "advisory", 1: "mandatory", 2: "disabled", 3: "remediate"}
SUPPRESSED_POLICY = "suppressed-findings"


@dataclass(frozen=True, order=True)
class Violation:
    level: str
    policy: str
    urn: str
    message: str


@dataclass
class PolicyReport:
    stack: str
    pack: str
    policies: int
    violations: list[Violation] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)
    """Every policy of the pack with its enforcement level on this stack, as `Configure` was given it: a
    rule that reports nothing still shows here, so two reports can be compared rule by rule."""

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory" and v.policy != SUPPRESSED_POLICY]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "advisory" and v.policy != SUPPRESSED_POLICY]

    @property
    def suppressed(self) -> list[Violation]:
        return [v for v in self.violations if v.policy == SUPPRESSED_POLICY]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "pack": self.pack,
            "policies": self.policies,
            "mandatory": [asdict(v) for v in self.mandatory],
            "advisory": [asdict(v) for v in self.advisory],
            "suppressed": [asdict(v) for v in self.suppressed],
            "levels": dict(sorted(self.levels.items())),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyReport:
        """The inverse of `to_json` (a report written by an older runner has no `levels`)."""
        violations = [Violation(**v) for key in ("mandatory", "advisory", "suppressed") for v in data.get(key, [])]
        levels = {str(k): str(v) for k, v in dict(data.get("levels") or {}).items()}
        return cls(str(data.get("stack", "")), str(data.get("pack", "")), int(data.get("policies", 0)),
                   sorted(violations), levels)  # fmt: skip


class PolicyPackServer:
    """The pack process, started the way the engine starts a Python pack.

    `python -u`, as Pulumi's language host runs packs: the pack prints its port and then sleeps, so a
    block-buffered stdout would hold the port line forever wherever PYTHONUNBUFFERED is not set (most
    machines, GitHub's runners). A pack that prints no port within `start_timeout` seconds is an error,
    never a hang.
    """

    def __init__(
        self,
        pack_dir: Path = PACK_DIR,
        *,
        project: str = "platform",
        stack: str = "stack",
        start_timeout: float = 60.0,
    ) -> None:
        env = {**os.environ, "PULUMI_PROJECT": project, "PULUMI_STACK": stack, "PULUMI_DRY_RUN": "true"}
        pack_dir = pack_dir.resolve()  # the pack runs in its own directory: a relative path would not be found
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(pack_dir / "__main__.py")],
            cwd=pack_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        line = self._port_line(start_timeout)
        if not line.isdigit():
            self.process.kill()
            _, error = self.process.communicate()
            raise RuntimeError(f"the policy pack did not start: {line!r}\n{error.decode(errors='replace')}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def _port_line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return f"(no port within {timeout:g} s)"
        return self.process.stdout.readline().decode().strip()

    def close(self) -> None:
        self.channel.close()
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> PolicyPackServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def info(self) -> Any:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, policy_config: dict[str, Any], *, stack: str, project: str = "platform") -> dict[str, str]:
        """As the engine reconciles `--policy-pack-config`: per-policy > `all` > the policy's default level;
        properties are the schema defaults overlaid with the configured values. Returns each policy's level."""
        info = self.info()
        requests = {}
        everything = policy_config.get("all")
        for policy in info.policies:
            configured = policy_config.get(policy.name)
            level = LEVELS.get(policy.enforcementLevel, "advisory")
            properties: dict[str, Any] = {}
            schema = json_format.MessageToDict(policy.configSchema.properties) if policy.configSchema else {}
            for key, spec in schema.items():
                if isinstance(spec, dict) and "default" in spec:
                    properties[key] = spec["default"]
            if isinstance(everything, str):
                level = everything
            if isinstance(configured, str):
                level = configured
            elif isinstance(configured, dict):
                level = configured.get("enforcementLevel", level)
                properties.update({k: v for k, v in configured.items() if k != "enforcementLevel"})
            struct = struct_pb2.Struct()
            struct.update(properties)
            requests[policy.name] = analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.EnforcementLevel.Value(level.upper()), properties=struct
            )
        self.stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=requests))
        self.stub.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack, project=project, dry_run=True))
        return {name: analyzer_pb2.EnforcementLevel.Name(c.enforcementLevel).lower() for name, c in requests.items()}

    def analyze(self, resources: list[RecordedResource]) -> list[Violation]:
        by_urn = {r.urn: r for r in resources}
        diagnostics = []
        for resource in resources:
            response = self.stub.Analyze(
                analyzer_pb2.AnalyzeRequest(
                    type=resource.type,
                    properties=_struct(resource),
                    urn=resource.urn,
                    name=resource.name,
                    options=_options(resource),
                    provider=_provider(resource, by_urn),
                )
            )
            # Resource policies report without a URN: the engine attributes them to the analyzed resource.
            diagnostics += [_attributed(d, resource.urn) for d in response.diagnostics]
        stack_request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=r.type,
                    properties=_struct(r),
                    urn=r.urn,
                    name=r.name,
                    options=_options(r),
                    provider=_provider(r, by_urn),
                    parent=r.parent,
                    dependencies=r.dependencies,
                    propertyDependencies={
                        prop: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
                        for prop, urns in r.property_dependencies.items()
                    },
                )
                for r in resources
            ]
        )
        diagnostics += self.stub.AnalyzeStack(stack_request).diagnostics
        return sorted(
            {Violation(LEVELS.get(d.enforcementLevel, "advisory"), d.policyName, d.urn, d.message) for d in diagnostics}
        )


def _attributed(diagnostic: Any, urn: str) -> Any:
    if not diagnostic.urn:
        diagnostic.urn = urn
    return diagnostic


UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""How the engine sends a value it cannot know during preview to an analyzer, whatever its type
(pulumi/pulumi v3.259.0 sdk/go/common/resource/plugin/rpc.go: UnknownStringValue, MarshalPropertyValue)."""


def _wire(resource: RecordedResource) -> dict[str, Any]:
    """Inputs as the engine sends them: secret values wrapped in the secret signature."""
    return {k: {**SECRET_SIG, "value": v} if k in resource.secret_inputs else v for k, v in resource.inputs.items()}


def _struct(resource: RecordedResource) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json.loads(json.dumps(_wire(resource), default=str)))
    return struct


def _options(resource: RecordedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect,
        ignoreChanges=resource.ignore_changes,
        deleteBeforeReplace=resource.delete_before_replace,
        additionalSecretOutputs=resource.additional_secret_outputs,
        parent=resource.parent,
    )


def _provider(
    resource: RecordedResource, by_urn: dict[str, RecordedResource]
) -> analyzer_pb2.AnalyzerProviderResource | None:
    urn = resource.provider.rsplit("::", 1)[0] if resource.provider else ""
    provider = by_urn.get(urn)
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type, properties=_struct(provider), urn=provider.urn, name=provider.name
    )


def policy_config_path(stack: str, pack_dir: Path = PACK_DIR, project: str = "platform") -> Path:
    """`config/<stack>.json` for the platform, `config/<project>/<stack>.json` for another project of the
    repository (`config/bootstrap/prd.json`): what `--policy-pack-config` is given for real too."""
    if project == "platform":
        return pack_dir / "config" / f"{stack}.json"
    return pack_dir / "config" / project.removeprefix("platform-") / f"{stack}.json"


def load_policy_config(stack: str, pack_dir: Path = PACK_DIR, project: str = "platform") -> dict[str, Any]:
    path = policy_config_path(stack, pack_dir, project)
    config: dict[str, Any] = json.loads(path.read_text())
    return config


def evaluate(
    run: ProgramRun, *, pack_dir: Path = PACK_DIR, policy_config: dict[str, Any] | None = None
) -> PolicyReport:
    """The pack's verdict on one offline run, with the stack's policy config."""
    config = policy_config if policy_config is not None else load_policy_config(run.stack, pack_dir, run.project)
    with PolicyPackServer(pack_dir, project=run.project, stack=run.stack) as server:
        info = server.info()
        levels = server.configure(config, stack=run.stack, project=run.project)
        violations = server.analyze(run.resources)
    return PolicyReport(run.stack, info.name, len(info.policies), violations, levels)
