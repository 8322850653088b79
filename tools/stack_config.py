"""Read `Pulumi.<stack>.yaml` into the config map the engine would hand the program.

The engine passes config as `"namespace:key" -> str` with objects JSON-encoded; secure values arrive
decrypted. Offline there is no secrets provider, so every `secure:` value becomes a placeholder that
stays marked secret (the whole key, as the CLI does for an object with a secure leaf).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (ten times faster), else the pure-Python one."""


class StackFileError(ValueError):
    """The stack file is missing or is not a Pulumi stack file."""


class NoSuchStackError(StackFileError):
    """There is no `Pulumi.<stack>.yaml`: a usage error, not a config error."""


class KeyLines(dict[Any, Any]):
    """A mapping that remembers the line (1-based) of each of its keys, for error messages."""

    lines: dict[Any, int]


class _StrictLoader(_BASE_LOADER):  # type: ignore[misc]  # PyYAML's loaders are untyped
    """Reads YAML as the Pulumi CLI does, and refuses what it would silently lose.

    - A key given twice in one mapping is an error: PyYAML, like most parsers, keeps the last one, so
      a second `api:` under `services` would replace the first without a word.
    - Booleans are YAML 1.2's `true`/`false` only, as the CLI's Go parser reads them: YAML 1.1 makes
      `yes`, `no`, `on`, `off` booleans, which then pass as 1 or 0 for a number.
    """

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
    }


_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> KeyLines:
    first: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in first:
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r} (first at line {first[key]}); a key may appear once",
                problem_mark=key_node.start_mark,
            )
        first[key] = line
    mapping = KeyLines(loader.construct_mapping(node, deep=True))
    mapping.lines = first
    return mapping


_StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def read_yaml(path: Path) -> Any:
    """The YAML document at `path`, strictly; errors as `Pulumi.stg.yaml:12:5: problem`, no traceback."""
    try:
        return yaml.load(path.read_text(), Loader=_StrictLoader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path.name
        problem = " ".join(part for part in (error.context, error.problem) if part)
        raise StackFileError(f"{where}: {problem}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path.name}: {error}") from None


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
    data = read_yaml(project_dir / "Pulumi.yaml")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise StackFileError("Pulumi.yaml: `name` (the project name) is required")
    return str(data["name"])


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    project = project_name(project_dir)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))
        raise NoSuchStackError(f"no stack file {path.name}; stacks here: {', '.join(known)}")
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: a stack file is a mapping with a `config` key")
    raw_config = data.get("config") or {}
    if not isinstance(raw_config, dict):
        raise StackFileError(f"{path.name}: `config` must be a mapping")
    lines = getattr(raw_config, "lines", {})
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    written_as: dict[str, str] = {}
    for key, value in raw_config.items():
        if not isinstance(key, str):
            raise StackFileError(f"{path.name}:{lines.get(key, '?')}: config key {key!r} must be a string")
        full_key = key if ":" in key else f"{project}:{key}"
        if full_key in written_as:
            first = written_as[full_key]
            raise StackFileError(
                f"{path.name}:{lines.get(key, '?')}: `{key}` is `{full_key}`, already set as `{first}` at line "
                f"{lines.get(first, '?')}; a key without a namespace is in the project's ({project})"
            )
        written_as[full_key] = key
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
