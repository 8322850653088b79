"""The architecture diagram: Mermaid drawn from the desired state, whole or as a pull request's change.

    python -m tools.diagram --stack prd               build/diagram/prd.md (runs the program offline)
    python -m tools.diagram --stack prd --snapshot build/prd.json   from a snapshot already built
    python -m tools.diagram docs [--check]            README (stg) and docs/architecture.md (both stacks)

GitHub renders Mermaid in Markdown files and PR comments, so nothing is hosted. Layout rules that keep
it readable as the platform grows: areas are nested groups (region, VPC, tier; apps, batches), every
edge says what it carries (port, route, action), and a group with more than `COLLAPSE_AT` members
merges members wired identically into one node that names them. PCI DSS scope (the card database and
whatever holds its credentials) is coloured and says so in its label, for readers without colour.
`change_diagram` draws only what a pull request adds, changes or removes, with direct neighbours.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tools.architecture import Architecture, Edge, Group, Node, read

PROJECT_DIR = Path(__file__).resolve().parent.parent
README = PROJECT_DIR / "README.md"
DOCS = PROJECT_DIR / "docs" / "architecture.md"
README_START, README_END = "<!-- architecture-diagram:start -->", "<!-- architecture-diagram:end -->"
DOC_STACKS = ("stg", "prd")
COLLAPSE_AT = 8
"""A group with more members than this merges identically wired members into one node."""
NAMES_PER_LINE = 4
CARD_LINE = "PCI DSS scope"

SHAPES = {
    "box": ('["', '"]'),
    "database": ('[("', '")]'),
    "stadium": ('(["', '"])'),
    "queue": ('[["', '"]]'),
    "topic": ('>"', '"]'),
    "function": ('{{"', '"}}'),
    "bucket": ('[/"', '"/]'),
}
CLASSES = {
    "card": "fill:#fdecea,stroke:#c62828,stroke-width:2px,color:#000",
    "added": "fill:#dafbe1,stroke:#1a7f37,stroke-width:2px,color:#000",
    "changed": "fill:#fff8c5,stroke:#9a6700,stroke-width:2px,color:#000",
    "removed": "fill:#ffebe9,stroke:#cf222e,stroke-width:2px,stroke-dasharray:5 3,color:#000",
}
EDGE_STYLES = {
    "added": "stroke:#1a7f37,stroke-width:3px",
    "changed": "stroke:#9a6700,stroke-width:3px",
    "removed": "stroke:#cf222e,stroke-width:2px,stroke-dasharray:5 3",
}


# ------------------------------------------------------------------------------------------ whole diagram


def mermaid(arch: Architecture) -> str:
    """The whole platform, collapsed where groups are large."""
    collapsed = collapse(arch)
    classes = {node.id: "card" for node in collapsed.nodes.values() if node.card}
    legend = [Node("legend_card", (CARD_LINE, "card data or its credentials"), "box", "legend", card=True)]
    if classes:
        collapsed.add_group(Group("legend", "legend"))
        for node in legend:
            collapsed.add_node(node)
            classes[node.id] = "card"
    return _render(collapsed, classes, {})


def collapse(arch: Architecture, *, limit: int = COLLAPSE_AT) -> Architecture:
    """Merge the members of a large group that have the same neighbours, kind and scope into one node."""
    members: dict[str, list[Node]] = defaultdict(list)
    for node in arch.nodes.values():
        members[node.group].append(node)
    merged: dict[str, str] = {}
    out = Architecture(arch.stack, dict(arch.groups))
    for group, nodes in sorted(members.items()):
        if len(nodes) <= limit:
            continue
        by_wiring: dict[tuple[object, ...], list[Node]] = defaultdict(list)
        for node in nodes:
            by_wiring[_wiring(arch, node)].append(node)
        for index, (_, alike) in enumerate(sorted(by_wiring.items(), key=lambda item: item[1][0].id)):
            if len(alike) < 2:
                continue
            names = sorted(node.label[0] for node in alike)
            rows = [", ".join(names[i : i + NAMES_PER_LINE]) for i in range(0, len(names), NAMES_PER_LINE)]
            kind = alike[0].kind or " ".join(alike[0].label[1:2])
            combined = Node(
                f"{group}_alike_{index}",
                (f"{len(alike)} × {kind}", *rows),
                alike[0].shape,
                group,
                card=alike[0].card,
                kind=kind,
            )
            out.add_node(combined)
            merged |= {node.id: combined.id for node in alike}
    for node in arch.nodes.values():
        if node.id not in merged:
            out.add_node(node)
    bundled: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for edge in arch.edges.values():
        bundled[(merged.get(edge.source, edge.source), merged.get(edge.target, edge.target))].append(edge)
    for (source, target), edges in bundled.items():
        out.edges[(source, target)] = Edge(source, target, _bundle_label(edges))
    return out


def _wiring(arch: Architecture, node: Node) -> tuple[object, ...]:
    """What makes two members interchangeable on the picture: kind, scope and neighbours (not labels)."""
    outgoing = sorted(target for source, target in arch.edges if source == node.id)
    incoming = sorted(source for source, target in arch.edges if target == node.id)
    return (node.shape, node.card, node.kind or node.label[1:2], tuple(outgoing), tuple(incoming))


def _bundle_label(edges: list[Edge]) -> str:
    """Merged edges keep a label they share, or say how many they are."""
    labels = sorted({edge.label for edge in edges if edge.label})
    if len(labels) <= 1:
        return " · ".join(labels)
    return f"{len(edges)} connections"


# ------------------------------------------------------------------------------------------ change diagram


@dataclass(frozen=True)
class DiagramChange:
    summary: str
    """One line: what the PR changes on the picture; empty when nothing."""
    mermaid: str


def change_diagram(base: Architecture, head: Architecture) -> DiagramChange:
    """What `head` adds, changes or removes against `base`, drawn with the direct neighbours only."""
    added = head.nodes.keys() - base.nodes.keys()
    removed = base.nodes.keys() - head.nodes.keys()
    changed = {key for key in head.nodes.keys() & base.nodes.keys() if head.nodes[key] != base.nodes[key]}
    edges_added = head.edges.keys() - base.edges.keys()
    edges_removed = base.edges.keys() - head.edges.keys()
    edges_changed = {key for key in head.edges.keys() & base.edges.keys() if head.edges[key] != base.edges[key]}
    if not (added or removed or changed or edges_added or edges_removed or edges_changed):
        return DiagramChange("", "")
    focus = added | removed | changed
    changed_edges = edges_added | edges_removed | edges_changed
    shown = focus | {end for key in changed_edges for end in key}
    edges: dict[tuple[str, str], Edge] = {}
    for pair, edge in sorted({**base.edges, **head.edges}.items()):
        if pair in changed_edges or pair[0] in focus or pair[1] in focus:
            edges[pair] = edge
            shown |= set(pair)
    view = Architecture(head.stack)
    for name in sorted(shown):
        node = head.nodes.get(name) or base.nodes[name]
        view.add_node(node)
        for group in _ancestors(head, node.group) or _ancestors(base, node.group):
            view.add_group(group)
    view.edges = edges
    classes = dict.fromkeys(added, "added") | dict.fromkeys(removed, "removed") | dict.fromkeys(changed, "changed")
    edge_classes = dict.fromkeys(edges_added, "added") | dict.fromkeys(edges_removed, "removed")
    edge_classes |= dict.fromkeys(edges_changed, "changed")
    parts = [
        _count(len(added), "component", "added"),
        _count(len(changed), "component", "changed"),
        _count(len(removed), "component", "removed"),
        _count(len(edges_added), "connection", "added"),
        _count(len(edges_changed), "connection", "changed"),
        _count(len(edges_removed), "connection", "removed"),
    ]
    return DiagramChange(", ".join(p for p in parts if p), _render(view, classes, edge_classes, keep_all_groups=False))


def _ancestors(arch: Architecture, group_id: str) -> list[Group]:
    chain: list[Group] = []
    while group_id in arch.groups:
        group = arch.groups[group_id]
        chain.append(group)
        group_id = group.parent or ""
    return chain


def _count(n: int, noun: str, verb: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'} {verb}" if n else ""


# ------------------------------------------------------------------------------------------------ render


def _render(
    arch: Architecture,
    classes: dict[str, str],
    edge_classes: dict[tuple[str, str], str],
    *,
    keep_all_groups: bool = True,
) -> str:
    """Mermaid text, byte-stable: groups nested, nodes and edges sorted by id."""
    lines = ["flowchart LR"]
    children: dict[str | None, list[Group]] = defaultdict(list)
    for group in arch.groups.values():
        children[group.parent if group.parent in arch.groups else None].append(group)
    members: dict[str | None, list[Node]] = defaultdict(list)
    for node in arch.nodes.values():
        members[node.group if node.group in arch.groups else None].append(node)

    def occupied(group: Group) -> bool:
        return bool(members.get(group.id)) or any(occupied(child) for child in children.get(group.id, []))

    def emit(group_id: str | None, depth: int) -> None:
        pad = "  " * depth
        for node in sorted(members.get(group_id, []), key=lambda n: n.id):
            lines.append(pad + _node(node))
        for group in sorted(children.get(group_id, []), key=lambda g: g.id):
            if not keep_all_groups and not occupied(group):
                continue
            if not occupied(group):
                continue
            lines.append(f'{pad}subgraph {group.id}["{_text(group.label)}"]')
            emit(group.id, depth + 1)
            lines.append(pad + "end")

    emit(None, 1)
    styles: list[str] = []
    for index, (key, edge) in enumerate(sorted(arch.edges.items())):
        arrow = "-.->" if edge_classes.get(key) == "removed" else "-->"
        label = f'|"{_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
        if key in edge_classes:
            styles.append(f"  linkStyle {index} {EDGE_STYLES[edge_classes[key]]}")
    lines += styles
    used = sorted(set(classes.values()))
    for name in used:
        lines.append(f"  classDef {name} {CLASSES[name]}")
    for name in used:
        lines.append(f"  class {','.join(sorted(k for k, v in classes.items() if v == name))} {name}")
    return "\n".join(lines) + "\n"


def _node(node: Node) -> str:
    opening, closing = SHAPES.get(node.shape, SHAPES["box"])
    label = [line for line in node.label if line]
    if node.card and CARD_LINE not in label:
        label.append(CARD_LINE)
    return f"{node.id}{opening}{'<br/>'.join(_text(line) for line in label)}{closing}"


def _text(text: str) -> str:
    """Text inside a quoted Mermaid label: quotes and markup characters as entities."""
    return text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


# ------------------------------------------------------------------------------------------ files and CLI


def markdown(arch: Architecture) -> str:
    return f"## Architecture of `{arch.stack}`\n\n```mermaid\n{mermaid(arch)}```\n"


def docs_text(archs: dict[str, Architecture]) -> str:
    parts = [
        "# Architecture, drawn from the program",
        "",
        "Generated by `make docs` (`python -m tools.diagram docs`) from each stack's offline desired state;",
        "`make test` fails when it is stale. Do not edit by hand.",
        "",
    ]
    for stack in DOC_STACKS:
        parts += [f"## `{stack}`", "", "```mermaid", mermaid(archs[stack]).rstrip("\n"), "```", ""]
    return "\n".join(parts)


def with_readme_diagram(readme: str, arch: Architecture) -> str:
    """The README with the diagram between its markers replaced by this one."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md lacks the markers {README_START} ... {README_END}")
    block = f"{README_START}\n\n```mermaid\n{mermaid(arch)}```\n\n"
    return readme[:start] + block + readme[end:]


def stack_architecture(stack: str, snapshot_path: Path | None = None) -> Architecture:
    import json

    if snapshot_path is not None:
        return read(json.loads(snapshot_path.read_text()))
    from tools.offline import run_stack
    from tools.snapshot import build_snapshot

    return read(build_snapshot(run_stack(stack)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.diagram", description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=["stack", "docs"], default="stack")
    parser.add_argument("--stack", help="the stack to draw (Pulumi.<stack>.yaml)")
    parser.add_argument("--snapshot", type=Path, help="draw this snapshot instead of running the program")
    parser.add_argument("--out-dir", type=Path, default=PROJECT_DIR / "build" / "diagram")
    parser.add_argument("--check", action="store_true", help="docs: fail if README or docs are stale")
    args = parser.parse_args(argv)
    if args.what == "docs":
        return _docs(check=args.check)
    if not args.stack:
        parser.error("--stack is required")
    if not (PROJECT_DIR / f"Pulumi.{args.stack}.yaml").exists() and args.snapshot is None:
        print(f"error: no stack file Pulumi.{args.stack}.yaml", file=sys.stderr)
        return 2
    arch = stack_architecture(args.stack, args.snapshot)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"{args.stack}.md"
    out.write_text(markdown(arch))
    print(f"wrote {out.relative_to(PROJECT_DIR) if out.is_relative_to(PROJECT_DIR) else out}")
    return 0


def _docs(*, check: bool) -> int:
    archs = {stack: stack_architecture(stack) for stack in DOC_STACKS}
    wanted = {README: with_readme_diagram(README.read_text(), archs["stg"]), DOCS: docs_text(archs)}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if check:
        for path in stale:
            print(f"{path.relative_to(PROJECT_DIR)}: the architecture diagram is stale: run make docs", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path])
        print(f"wrote {path.relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
