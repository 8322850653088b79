"""Offline preview: `python -m tools.preview --stack stg [--json]` (also `make preview STACK=stg`).

Runs the real program with the stack's config on Pulumi's mock runtime, prints the resources as a
tree of components with counts per type, writes `build/<stack>.json`, then evaluates the policy pack
(`policies/`, with `policies/config/<stack>.json`) through the Analyzer interface and prints the
violations by enforcement level (and writes `build/<stack>.policy.json`).

Exit codes: 0 preview done, no unsuppressed mandatory violation; 1 the stack file or the program
failed (a YAML error, a config error, an unmocked invoke, a bug: the message is printed without a
traceback; `--debug` shows it);
2 bad usage (unknown stack); 3 the policy pack reported a mandatory violation.

After the tree it prints the change summary (`+` create, `~` update, `+-` replace, `-` delete) against
the base of the last `make pr-comment`, or else against `origin/main` when it exists. The base is built
from its own tree in a second process while this one runs the head, and kept per commit.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from tools.offline import PROJECT_DIR, run_stack, with_declared_secrets
from tools.policy_eval import PACK_DIR, PolicyReport, evaluate, policy_config_path
from tools.snapshot import build_snapshot, dumps
from tools.stack_config import NoSuchStackError, StackFileError, load_stack_config

EXIT_OK, EXIT_PROGRAM_FAILED, EXIT_USAGE, EXIT_POLICY = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preview", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: Pulumi.<stack>.yaml must exist")
    parser.add_argument("--json", action="store_true", help="print the snapshot JSON instead of the tree")
    parser.add_argument("--out-dir", type=Path, default=PROJECT_DIR / "build", help="where <stack>.json goes")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument("--debug", action="store_true", help="show the traceback when the program fails")
    parser.add_argument("--no-policy", action="store_true", help="skip the policy pack")
    parser.add_argument("--no-base-diff", action="store_true", help="skip the change summary against a base")
    args = parser.parse_args(argv)
    err = Console(stderr=True, highlight=False)

    try:
        stack_config = load_stack_config(args.project_dir, args.stack)
    except NoSuchStackError as error:
        err.print(f"[red]error:[/] {error}")
        return EXIT_USAGE
    except StackFileError as error:
        err.print(f"[red]error:[/] the stack file of {args.stack} cannot be read")
        sys.stderr.write(f"{error}\n")  # unwrapped: `Pulumi.stg.yaml:12:5: ...` stays clickable
        return EXIT_PROGRAM_FAILED
    stack_config, placeholders = with_declared_secrets(stack_config)
    _note_placeholders(err, args.stack, placeholders)
    # The change summary is the platform's; another project of the repository (bootstrap/) has none.
    base = None if args.no_base_diff or args.project_dir.resolve() != PROJECT_DIR else start_base(args.stack)
    try:
        run = run_stack(args.stack, project_dir=args.project_dir, config=stack_config)
    except Exception as error:
        import pulumi

        if args.debug:
            traceback.print_exc()
        err.print(f"[red]error:[/] the program failed for stack {args.stack}")
        # RunError: the program's own clean failure (a config rejection), printed as the CLI prints it.
        detail = str(error) if isinstance(error, pulumi.RunError) else f"{type(error).__name__}: {error}"
        sys.stderr.write(detail + "\n")  # unwrapped: key paths stay greppable
        return EXIT_PROGRAM_FAILED

    snapshot = build_snapshot(run)
    text = dumps(snapshot)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{args.stack}.json").write_text(text)
    # A tree judged by its own pack and policy config (the base of a PR); bootstrap/ uses the repository's.
    pack_dir = args.project_dir / "policies" if (args.project_dir / "policies").is_dir() else PACK_DIR
    report = None if args.no_policy else evaluate(run, pack_dir=pack_dir)
    if report is not None:
        (args.out_dir / f"{args.stack}.policy.json").write_text(
            json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"
        )
    if args.json:
        sys.stdout.write(
            json.dumps({"snapshot": snapshot, "policy": report.to_json() if report else None}, indent=2, sort_keys=True)
            + "\n"
        )
    else:
        out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
        out.print(render_tree(snapshot))
        out.print(render_counts(snapshot))
        out.print(f"snapshot: {args.out_dir / f'{args.stack}.json'}")
        if base is not None:
            render_base_diff(out, base, snapshot)
        if report is not None:
            render_policy(out, report, args.stack, project=run.project)
    if report is not None and report.mandatory:
        return EXIT_POLICY
    return EXIT_OK


@dataclass
class Base:
    label: str
    snapshot: dict[str, Any] | None = None
    run: Any = None
    """A `tools.pr.TreeRun` building the base, when it was not cached."""


def start_base(stack: str) -> Base | None:
    """The base to summarise against: the last `make pr-comment` base, else origin/main (None: neither).

    `tools.pr` is imported here, not at the top: a run of another tree (tools.run_tree) must import
    nothing but the runner before the program, which comes from that tree."""
    from tools.pr import BUILD_DIR, GitError, TreeRun, materialise

    recorded = BUILD_DIR / "base.json"
    last = BUILD_DIR / "runs" / stack / "base" / f"{stack}.json"
    if recorded.is_file() and last.is_file():
        ref = json.loads(recorded.read_text())
        return Base(f"the last `make pr-comment` base ({ref['ref']}, {ref['sha'][:12]})", json.loads(last.read_text()))
    try:
        sha, tree = materialise("origin/main")
    except GitError:
        return None
    cached = BUILD_DIR / "cache" / sha / f"{stack}.json"
    label = f"origin/main ({sha[:12]})"
    if cached.is_file():
        return Base(label, json.loads(cached.read_text()))
    return Base(label, run=TreeRun(tree, stack, cached.parent, policy=False).start())


def render_base_diff(out: Console, base: Base, snapshot: dict[str, Any]) -> None:
    from tools.pr_comment import change_summary, from_snapshots

    if base.run is not None:
        base.snapshot = base.run.wait().snapshot
        if base.snapshot is None:
            out.print(f"\n[yellow]changes against {base.label}: the base could not be built[/]")
            out.print(base.run.error_text(), markup=False, highlight=False)
            return
    out.print(f"\n[bold]changes against {base.label}[/]")
    for line in change_summary(from_snapshots(base.snapshot, snapshot)):
        out.print(line, markup=False, highlight=False)


def _note_placeholders(err: Console, stack: str, placeholders: list[str]) -> None:
    """One line for every secret the offline run stands in for (a real run needs each set)."""
    if placeholders:
        names = ", ".join(key.split(":", 1)[1] for key in placeholders)
        err.print(
            f"[yellow]note:[/] placeholders for the secrets not in Pulumi.{stack}.yaml ({names}); "
            "a real run needs each set with `pulumi config set --secret`",
            soft_wrap=True,
        )


def suppression_snippet(policy: str, urn: str) -> str:
    """What to add to `policies/config/<stack>.json` to suppress one finding (README, "Suppressing a
    finding"): the rule, an fnmatch pattern of exactly this resource, and the fields an auditor needs."""
    head, _, name = urn.rpartition("::")
    parts = head.split("::")  # urn:pulumi:<stack>, <project>, <parent types>$<type>
    pattern = f"{parts[0]}::{parts[1]}::*{parts[2].rsplit('$', 1)[-1]}::{name}" if len(parts) == 3 else urn
    entry = {"resource": pattern, "reason": "<why this is acceptable, for an auditor>", "expires": "<YYYY-MM-DD>"}
    return json.dumps({policy: {"suppressions": [entry]}})


def render_policy(out: Console, report: PolicyReport, stack: str = "", *, project: str = "platform") -> None:
    """Violations by level, each with its resource, rule, message and fix; suppressions with reasons."""
    out.print(
        f"\n[bold]policy pack {report.pack}[/] ({report.policies} policies): "
        f"{len(report.mandatory)} mandatory, {len(report.advisory)} advisory, {len(report.suppressed)} suppressed"
    )
    for title, violations, style in (("mandatory", report.mandatory, "red"), ("advisory", report.advisory, "yellow")):
        if not violations:
            continue
        out.print(f"[{style}]{title}[/]")
        for violation in violations:
            resource = violation.urn.rsplit("::", 1)[-1] or "(stack)"
            detail = "\n      ".join(violation.message.splitlines()[1:] or [violation.message])
            out.print(f"  [{style}]{violation.policy}[/] {resource}\n      {detail}", markup=True)
            if title == "mandatory" and violation.urn:
                config = policy_config_path(stack or "<stack>", Path("policies"), project)
                out.print(f"      [dim]to suppress, add to {config}:[/]")
                out.print(f"      {suppression_snippet(violation.policy, violation.urn)}", markup=False, soft_wrap=True)
    groups: dict[tuple[str, str], list[str]] = {}
    for violation in report.suppressed:
        lines = violation.message.splitlines()
        marker = next((line for line in lines if line.startswith("SUPPRESSED ")), lines[0])
        rule = marker.removeprefix("SUPPRESSED ").split(":", 1)[0]
        groups.setdefault((rule, lines[-1]), []).append(violation.urn.rsplit("::", 1)[-1])
    if groups:
        out.print("[dim]suppressed (by the stack's policy config)[/]")
    for (rule, reason), resources in sorted(groups.items()):
        out.print(
            f"  [dim]{rule}[/]: {len(resources)} finding(s) on {', '.join(sorted(set(resources)))}\n      {reason}"
        )


def render_tree(snapshot: dict[str, Any]) -> Tree:
    """Components as a tree; under each, its own custom resources counted by type."""
    resources = snapshot["resources"]
    children: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        children.setdefault(resource["parent"], []).append(resource)
    roots = [r for r in resources if r["parent"] not in {x["urn"] for x in resources}]
    tree = Tree(f"[bold]{snapshot['project']}-{snapshot['stack']}[/] ({snapshot['resourceCount']} resources)")

    def add(node: Tree, members: list[dict[str, Any]]) -> None:
        components = [m for m in members if not m["custom"]]
        custom = Counter(m["type"] for m in members if m["custom"])
        for component in components:
            below = children.get(component["urn"], [])
            branch = node.add(
                f"[bold cyan]{component['name']}[/] [dim]{component['type']}[/] ({_count(component, children)})"
            )
            add(branch, below)
        for type_token, count in sorted(custom.items()):
            node.add(f"{count:>3} × {type_token}")

    add(tree, roots)
    return tree


def _count(component: dict[str, Any], children: dict[str, list[dict[str, Any]]]) -> int:
    total = 0
    for child in children.get(component["urn"], []):
        total += 1 + (_count(child, children) if not child["custom"] else 0)
    return total


def render_counts(snapshot: dict[str, Any]) -> Table:
    table = Table(title=f"resources by type ({snapshot['stack']})", show_footer=True)
    counts = Counter(r["type"] for r in snapshot["resources"])
    table.add_column("type", footer="total")
    table.add_column("count", justify="right", footer=str(sum(counts.values())))
    for type_token, count in sorted(counts.items()):
        table.add_row(type_token, str(count))
    return table


if __name__ == "__main__":
    sys.exit(main())
