"""Read `Pulumi.<stack>.yaml` into the config map the engine would hand the program.

The engine passes config as `"namespace:key" -> str` with objects JSON-encoded; secure values arrive
decrypted. Offline there is no secrets provider, so every `secure:` value becomes a placeholder that
stays marked secret (the whole key, as the CLI does for an object with a secure leaf).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (ten times faster), else the pure-Python one."""


class StackFileError(ValueError):
    """The stack file is missing or is not a Pulumi stack file."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, str]
    secret_keys: list[str] = field(default_factory=list)

    def config_value(self, key: str) -> Any:
        """A value decoded from JSON where it is JSON (objects, lists), else the string."""
        raw = self.values.get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw


def project_name(project_dir: Path) -> str:
    data = yaml.load((project_dir / "Pulumi.yaml").read_text(), Loader=_LOADER)  # noqa: S506 - a safe loader
    return str(data["name"])


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    project = project_name(project_dir)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(f"no stack file {path.name}; stacks here: {', '.join(known)}")
    data = yaml.load(path.read_text(), Loader=_LOADER) or {}  # noqa: S506 - a safe loader
    raw_config = data.get("config") or {}
    if not isinstance(raw_config, dict):
        raise StackFileError(f"{path.name}: `config` must be a mapping")
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw_config.items():
        full_key = key if ":" in key else f"{project}:{key}"
        encoded, secret = _encode(full_key, value)
        values[full_key] = encoded
        if secret:
            secret_keys.append(full_key)
    return StackConfig(project=project, stack=stack, values=values, secret_keys=sorted(secret_keys))


def secret_placeholder(key: str) -> str:
    return f"offline-secret:{key}"


def _encode(key: str, value: Any) -> tuple[str, bool]:
    replaced, secret = _replace_secure(key, value)
    if isinstance(replaced, str):
        return replaced, secret
    if isinstance(replaced, bool):
        return ("true" if replaced else "false"), secret
    if isinstance(replaced, int | float):
        return str(replaced), secret
    return json.dumps(replaced, sort_keys=True), secret


def _replace_secure(path: str, value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return secret_placeholder(path), True
        pairs = {k: _replace_secure(f"{path}.{k}", v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_replace_secure(f"{path}[{i}]", v) for i, v in enumerate(value)]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def tunnel_targets(config: StackConfig) -> list[tuple[str, str]]:
    """Each database and the app service whose task the deploy tunnels through to reach it: the first of
    its clients (in the order the stack file lists them) that is a long-running app, not a batch."""
    databases = config.config_value(f"{config.project}:databases") or {}
    apps = (config.config_value(f"{config.project}:apps") or {}).get("services") or {}
    targets = []
    for key, database in sorted(databases.items()):
        clients = [c for c in (database or {}).get("clients", []) if c in apps]
        if not clients:
            raise StackFileError(f"databases.{key}.clients: no app among them, so no task can reach {key}")
        targets.append((key, clients[0]))
    return targets


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.stack_config tunnels <stack>`: `<database> <app>` lines for scripts/db-tunnels.sh."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "tunnels":
        print("usage: python -m tools.stack_config tunnels <stack>", file=sys.stderr)
        return 2
    try:
        targets = tunnel_targets(load_stack_config(Path.cwd(), args[1]))
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for database, app in targets:
        print(database, app)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
