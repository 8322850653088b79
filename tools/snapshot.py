"""The deterministic snapshot of one offline run: what a preview would ask the engine to create.

Byte-identical across runs and PYTHONHASHSEED values: resources sorted by URN, keys sorted, whole
floats written as integers, secret values replaced by a marker (even offline placeholders never
appear). Base and head snapshots of a pull request diff into the desired-state change.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pulumi

from tools.mock_runtime import ProgramRun, RecordedResource

SECRET_MARKER = "[secret]"  # noqa: S105 - the marker that replaces secrets
SCHEMA_VERSION = 1


def build_snapshot(run: ProgramRun) -> dict[str, Any]:
    resources = sorted(run.resources, key=lambda r: r.urn)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "project": run.project,
        "stack": run.stack,
        "resourceCount": len(resources),
        "resources": [resource_entry(r) for r in resources],
        "outputs": {
            key: SECRET_MARKER if key in run.secret_outputs else _normalise(value)
            for key, value in sorted(run.outputs.items())
        },
    }


def resource_entry(resource: RecordedResource) -> dict[str, Any]:
    inputs = {
        key: SECRET_MARKER if key in resource.secret_inputs else _normalise(value)
        for key, value in resource.inputs.items()
    }
    entry: dict[str, Any] = {
        "urn": resource.urn,
        "type": resource.type,
        "name": resource.name,
        "parent": resource.parent,
        "custom": resource.custom,
        "provider": resource.provider,
        "inputs": inputs,
        "secretInputs": resource.secret_inputs,
        "dependencies": resource.dependencies,
        "propertyDependencies": resource.property_dependencies,
    }
    options = {
        "protect": resource.protect,
        "retainOnDelete": resource.retain_on_delete,
        "deleteBeforeReplace": resource.delete_before_replace,
        "ignoreChanges": resource.ignore_changes,
        "replaceOnChanges": resource.replace_on_changes,
        "additionalSecretOutputs": resource.additional_secret_outputs,
        "aliases": resource.aliases,
    }
    entry["options"] = {k: v for k, v in options.items() if v}
    return entry


def dumps(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _normalise(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {name: _normalise(asset) for name, asset in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset):
        # Content, not the absolute path: the same code hashes the same in every clone.
        digest = hashlib.sha256(Path(value.path).read_bytes()).hexdigest()
        return {"file": Path(value.path).name, "sha256": digest}
    if isinstance(value, pulumi.StringAsset):
        return {"sha256": hashlib.sha256(value.text.encode()).hexdigest()}
    # Unknowns and resource references: a stable textual form rather than a repr with an address.
    return f"[{type(value).__name__}]"
