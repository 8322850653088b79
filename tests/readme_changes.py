"""The README's "Adding a batch" and "Adding an app" steps, applied to a stack's config as a developer would.

Each ```yaml block of those sections is one edit: mappings merge into the stack file's, lists add their
entries, and a block whose first line is `# Pulumi.prd.yaml only` applies to prd alone. For prd, `stg`
in host and secret names becomes `prd`, as the README says.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tools.offline import PROJECT_DIR
from tools.stack_config import StackConfig

SECTIONS = ("### Adding a batch", "### Adding an app")
PRD_ONLY = "# Pulumi.prd.yaml only"


def readme_edits(readme: Path = PROJECT_DIR / "README.md") -> list[tuple[str | None, dict[str, Any]]]:
    """(stack or None for every stack, snippet) for each yaml block of the adding sections, in order."""
    text = readme.read_text()
    edits: list[tuple[str | None, dict[str, Any]]] = []
    for heading in SECTIONS:
        start = text.index(heading + "\n")
        end = text.find("\n### ", start + len(heading))
        section = text[start : end if end != -1 else len(text)]
        for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL):
            only = "prd" if block.lstrip().startswith(PRD_ONLY) else None
            edits.append((only, yaml.safe_load(block)))
    return edits


def apply_readme_edits(config: StackConfig, readme: Path = PROJECT_DIR / "README.md") -> StackConfig:
    values = dict(config.values)
    for only, snippet in readme_edits(readme):
        if only is not None and only != config.stack:
            continue
        named = snippet if config.stack == "stg" else json.loads(re.sub(r"\bstg\b", config.stack, json.dumps(snippet)))
        for key, change in named.items():
            current = json.loads(values[key]) if key in values else {}
            values[key] = json.dumps(_merge(current, change), sort_keys=True)
    return StackConfig(project=config.project, stack=config.stack, values=values, secret_keys=config.secret_keys)


def _merge(current: Any, change: Any) -> Any:
    if isinstance(current, dict) and isinstance(change, dict):
        return {**current, **{key: _merge(current.get(key), value) for key, value in change.items()}}
    if isinstance(current, list) and isinstance(change, list):
        return [*current, *(item for item in change if item not in current)]
    return change
