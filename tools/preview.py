"""Offline preview: `python -m tools.preview --stack stg [--json]` (also `make preview STACK=stg`).

Runs the real program with the stack's config on Pulumi's mock runtime, prints the resources as a
tree of components with counts per type, and writes `build/<stack>.json`.

Exit codes: 0 preview done; 1 the program failed (a config error, an unmocked invoke, a bug: the
message is printed without a traceback; `--debug` shows it); 2 bad usage (unknown stack).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from components.config import ConfigError
from tools.offline import PROJECT_DIR, run_stack, with_declared_secrets
from tools.snapshot import build_snapshot, dumps
from tools.stack_config import StackFileError, load_stack_config

EXIT_OK, EXIT_PROGRAM_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preview", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: Pulumi.<stack>.yaml must exist")
    parser.add_argument("--json", action="store_true", help="print the snapshot JSON instead of the tree")
    parser.add_argument("--out-dir", type=Path, default=PROJECT_DIR / "build", help="where <stack>.json goes")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument("--debug", action="store_true", help="show the traceback when the program fails")
    args = parser.parse_args(argv)
    err = Console(stderr=True, highlight=False)

    try:
        stack_config = load_stack_config(args.project_dir, args.stack)
    except StackFileError as error:
        err.print(f"[red]error:[/] {error}")
        return EXIT_USAGE
    stack_config, placeholders = with_declared_secrets(stack_config)
    for key in placeholders:
        err.print(
            f"[yellow]note:[/] {key} is not set in Pulumi.{args.stack}.yaml; the offline preview uses a placeholder "
            f"(a real run needs `pulumi config set --secret {key} ... -s {args.stack}`)"
        )
    try:
        run = run_stack(args.stack, project_dir=args.project_dir, config=stack_config)
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        err.print(f"[red]error:[/] the program failed for stack {args.stack}")
        detail = str(error) if isinstance(error, ConfigError) else f"{type(error).__name__}: {error}"
        sys.stderr.write(detail + "\n")  # unwrapped: key paths stay greppable
        return EXIT_PROGRAM_FAILED

    snapshot = build_snapshot(run)
    text = dumps(snapshot)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{args.stack}.json").write_text(text)
    if args.json:
        sys.stdout.write(text)
    else:
        out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
        out.print(render_tree(snapshot))
        out.print(render_counts(snapshot))
        out.print(f"snapshot: {args.out_dir / f'{args.stack}.json'}")
    return EXIT_OK


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
