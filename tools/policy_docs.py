"""The README's table of policy rules, generated from the pack so that it cannot drift.

`python -m tools.policy_docs` rewrites the section between the markers; `--check` exits 1 if the
README is stale (a test runs the check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
README = PROJECT_DIR / "README.md"
START, END = "<!-- policy-rules:start -->", "<!-- policy-rules:end -->"


def enforcement_level(config: dict[str, object], policy: str, default: str) -> str:
    setting = config.get(policy, config.get("all", default))
    if isinstance(setting, dict):
        setting = setting.get("enforcementLevel", config.get("all", default))
    return str(setting)


def sdk_names(types: tuple[str, ...], most: int = 8) -> str:
    """`aws:s3/bucket:Bucket` as a reader knows it, `aws.s3.Bucket`; the `aws.alb` aliases of `aws.lb`
    types are left out, and a long list is counted."""
    if not types:
        return "every resource"
    names = []
    for token in types:
        package, module, name = token.split(":")
        part = module.split("/", 1)[0]
        if package == "aws" and part == "alb" and token.replace("aws:alb/", "aws:lb/") in types:
            continue
        names.append(
            f"{package}.{name}" if part == "index" else f"{package}.{part.replace('lambda', 'lambda_')}.{name}"
        )
    names = sorted(set(names))
    return f"{len(names)} resource types" if len(names) > most else ", ".join(names)


def render() -> str:
    sys.path[:0] = [str(PROJECT_DIR / "policies")]
    from platform_policies import RULES

    from tools.policy_eval import load_policy_config

    configs = {stack: load_policy_config(stack) for stack in ("stg", "prd")}
    lines = [
        "| rule | stg | prd | requires | reads | anchors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rule in sorted(RULES, key=lambda r: r.id):
        levels = [enforcement_level(configs[stack], rule.id, rule.level.value) for stack in ("stg", "prd")]
        suppressed = [
            stack
            for stack in ("stg", "prd")
            if isinstance(configs[stack].get(rule.id), dict) and configs[stack][rule.id].get("suppressions")
        ]
        note = f" (suppressions: {', '.join(suppressed)})" if suppressed else ""
        reads = sdk_names(rule.types)
        lines.append(
            f"| `{rule.id}` | {levels[0]} | {levels[1]} | {rule.description}{note} | {reads} | {rule.anchors} |"
        )
    return "\n".join(lines)


def updated(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{render()}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = README.read_text()
    if START not in text:
        print(f"README.md has no {START} marker", file=sys.stderr)
        return 1
    new = updated(text)
    if args.check:
        if new != text:
            print(
                "README.md's policy rule table is stale (a rule, a level or a suppression changed): run `make docs`",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
