"""The PR comment for one stack: from `pulumi preview --json`, or from the offline base-versus-head diff.

`python -m tools.pr_comment --stack stg --base build/base/stg.json --head build/stg.json
     [--policy build/stg.policy.json] > comment.md`          (offline desired-state diff, no credentials)
`python -m tools.pr_comment --stack stg --preview-json preview.json [--policy ...]`   (the real engine)
`python -m tools.pr_comment --stack stg --failed preview.log`                          (a failed preview)

The comment leads with what a reviewer must see: a table of counts, a warning when a stateful
resource (database, bucket, table, key, queue, secret) would be replaced or deleted, and the policy
verdict with each violation's rule and fix. The per-resource details follow, folded, and are trimmed
(never the summary) to stay under GitHub's 65,536-character limit. Its first line is a marker by
which the workflow finds and updates the same comment on every push.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GITHUB_LIMIT = 65_536
BUDGET = GITHUB_LIMIT - 1_000
"""Room left for the trimming note and GitHub's own overhead."""
OPS = ("create", "update", "replace", "delete")
STATEFUL = {
    "aws:rds/instance:Instance", "aws:rds/cluster:Cluster", "aws:s3/bucket:Bucket", "aws:dynamodb/table:Table",
    "aws:kms/key:Key", "aws:sqs/queue:Queue", "aws:secretsmanager/secret:Secret", "aws:ecr/repository:Repository",
    "postgresql:index/database:Database",
}  # fmt: skip
"""Types whose replacement or deletion loses data (or the ability to read it)."""


@dataclass(frozen=True)
class Change:
    op: str
    urn: str
    keys: tuple[str, ...] = ()
    """Properties that differ (replace: those forcing the replacement)."""

    @property
    def type(self) -> str:
        return self.urn.split("::")[-2].split("$")[-1]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def destroys_data(self) -> bool:
        return self.type in STATEFUL and self.op in {"replace", "delete"}


@dataclass
class Preview:
    stack: str
    source: str
    """`pulumi preview` (the engine) or `offline desired state` (snapshot diff)."""
    changes: list[Change] = field(default_factory=list)
    same: int = 0
    errors: list[str] = field(default_factory=list)


def marker(stack: str, source: str) -> str:
    """Identifies the comment of one stack and one source, so each push updates the same comment."""
    kind = "offline" if source.startswith("offline") else "engine"
    return f"<!-- platform-preview:{stack}:{kind} -->"


def from_preview_json(text: str, stack: str) -> Preview:
    """The engine's digest. Lines before the JSON (policy pack installation messages) are skipped."""
    document = json.loads(text[text.index("{") :])
    changes = []
    for step in document.get("steps") or []:
        op = {"create-replacement": "replace", "delete-replaced": "delete"}.get(step["op"], step["op"])
        if op not in OPS:
            continue
        keys = step.get("replaceReasons") if op == "replace" else step.get("diffReasons")
        changes.append(Change(op, step["urn"], tuple(sorted(keys or []))))
    summary = document.get("changeSummary") or {}
    errors = [d["message"].strip() for d in document.get("diagnostics") or [] if d.get("severity") == "error"]
    return Preview(stack, "pulumi preview", _sorted(changes), int(summary.get("same", 0)), errors)


def from_snapshots(base: dict[str, Any], head: dict[str, Any]) -> Preview:
    """The desired-state change between two offline snapshots (the base branch's and the PR's)."""
    before = {r["urn"]: r for r in base["resources"]}
    after = {r["urn"]: r for r in head["resources"]}
    changes, same = [], 0
    for urn in sorted(before.keys() | after.keys()):
        if urn not in before:
            changes.append(Change("create", urn))
        elif urn not in after:
            changes.append(Change("delete", urn))
        else:
            keys = _changed(before[urn], after[urn])
            if keys:
                changes.append(Change("update", urn, keys))
            else:
                same += 1
    return Preview(head["stack"], "offline desired state", _sorted(changes), same)


def _changed(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    keys = {k for k in old["inputs"].keys() | new["inputs"].keys() if old["inputs"].get(k) != new["inputs"].get(k)}
    keys |= {f"({k})" for k in old.get("options", {}).keys() | new.get("options", {}).keys()
             if old.get("options", {}).get(k) != new.get("options", {}).get(k)}  # fmt: skip
    return tuple(sorted(keys))


def _sorted(changes: list[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: (OPS.index(c.op), c.type, c.name))


def render(preview: Preview, policy: dict[str, Any] | None = None) -> str:
    counts = {op: sum(1 for c in preview.changes if c.op == op) for op in OPS}
    head = [
        marker(preview.stack, preview.source),
        f"### Pulumi preview of `{preview.stack}` ({preview.source})",
        "",
        "| " + " | ".join(OPS) + " | unchanged |",
        "| " + " | ".join("---:" for _ in (*OPS, "same")) + " |",
        "| " + " | ".join(str(counts[op]) for op in OPS) + f" | {preview.same} |",
        "",
    ]
    destructive = [c for c in preview.changes if c.destroys_data]
    if destructive:
        head += [
            "> [!CAUTION]",
            f"> **{len(destructive)} stateful resource(s) would be replaced or deleted.** Their data goes with them "
            "unless protected; confirm this is intended and that backups or snapshots exist.",
        ]
        head += [
            f"> - **{c.op}** `{c.type}` `{c.name}`" + (f" (because of {', '.join(c.keys)})" if c.keys else "")
            for c in destructive
        ]
        head.append("")
    if not preview.changes:
        head += ["No changes.", ""]
    head += _policy_section(policy)
    body = [
        f"<details><summary>Changes ({len(preview.changes)})</summary>",
        "",
        "| op | type | name | properties |",
        "| --- | --- | --- | --- |",
    ]
    rows = [f"| {c.op} | `{c.type}` | `{c.name}` | {', '.join(f'`{k}`' for k in c.keys)} |" for c in preview.changes]
    tail = ["", "</details>", ""]
    return _fit(head, body, rows, tail)


def _policy_section(policy: dict[str, Any] | None) -> list[str]:
    if policy is None:
        return []
    mandatory, advisory, suppressed = policy["mandatory"], policy["advisory"], policy["suppressed"]
    verdict = ":x: fails" if mandatory else ":white_check_mark: passes"
    lines = [
        f"**Policy pack** `{policy['pack']}` {verdict}: {len(mandatory)} mandatory, {len(advisory)} advisory, "
        f"{len(suppressed)} suppressed.",
        "",
    ]
    violations = [("mandatory", v) for v in mandatory] + [("advisory", v) for v in advisory]
    if violations:
        lines += ["| level | rule | resource | finding | fix |", "| --- | --- | --- | --- | --- |"]
        for level, violation in violations:
            finding, fix = _finding_and_fix(violation["message"])
            resource = violation["urn"].rsplit("::", 1)[-1] or "(stack)"
            lines.append(f"| {level} | `{violation['policy']}` | `{resource}` | {_cell(finding)} | {_cell(fix)} |")
        lines.append("")
    return lines


def _finding_and_fix(message: str) -> tuple[str, str]:
    lines = message.splitlines()
    fix = next((line.removeprefix("Fix: ") for line in lines if line.startswith("Fix: ")), "")
    details = [line for line in lines[1:] if not line.startswith(("Why: ", "Fix: "))]
    return (" ".join(details) or lines[0]), fix


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fit(head: list[str], body: list[str], rows: list[str], tail: list[str]) -> str:
    """Everything if it fits; otherwise the summary whole and as many detail rows as fit."""
    summary = "\n".join(head)
    full = "\n".join([summary, *body, *rows, *tail])
    if len(full) <= BUDGET:
        return full
    used = len(summary) + sum(len(line) + 1 for line in body + tail) + 200
    kept = []
    for row in rows:
        if used + len(row) + 1 > BUDGET:
            break
        kept.append(row)
        used += len(row) + 1
    note = (
        f"\n_{len(rows) - len(kept)} more changes not shown (GitHub limits comments to {GITHUB_LIMIT:,} "
        "characters); the full list is in the run's artifacts._"
    )
    return "\n".join([summary, *body, *kept, note, *tail])


def render_failure(stack: str, source: str, log: str) -> str:
    """A preview that failed still gets a comment: what failed, and the end of its output."""
    lines = [line for line in log.strip().splitlines() if line.strip()][-60:]
    text = "\n".join(lines).replace("```", "'''")[-(BUDGET // 2) :]
    return "\n".join(
        [
            marker(stack, source),
            f"### Pulumi preview of `{stack}` ({source})",
            "",
            ":x: **The preview failed**, so nothing about this change is known yet. The end of its output:",
            "",
            "```text",
            text,
            "```",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pr_comment", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--base", type=Path, help="offline snapshot of the base branch")
    parser.add_argument("--head", type=Path, help="offline snapshot of the pull request")
    parser.add_argument("--preview-json", type=Path, help="output of `pulumi preview --json`")
    parser.add_argument("--policy", type=Path, help="policy report (build/<stack>.policy.json)")
    parser.add_argument("--failed", type=Path, help="log of a preview that failed")
    parser.add_argument("--source", default=None, help="label for the failed preview")
    args = parser.parse_args(argv)
    policy = json.loads(args.policy.read_text()) if args.policy and args.policy.exists() else None
    if args.failed is not None:
        text = render_failure(args.stack, args.source or "pulumi preview", args.failed.read_text())
    elif args.preview_json is not None:
        text = render(from_preview_json(args.preview_json.read_text(), args.stack), policy)
    elif args.base is not None and args.head is not None:
        base = json.loads(args.base.read_text()) if args.base.exists() else {"stack": args.stack, "resources": []}
        text = render(from_snapshots(base, json.loads(args.head.read_text())), policy)
    else:
        parser.error("give --failed, --preview-json, or --base and --head")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
