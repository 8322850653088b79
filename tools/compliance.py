"""The PCI DSS v4 evidence report of one stack: `make compliance STACK=<stack>`.

Runs the stack's program offline (as `make preview` does), evaluates the policy pack on it through
the Analyzer interface, and writes `build/compliance/<stack>.md` and `.json`: for each PCI DSS v4.0.1
requirement the platform addresses (policies/platform_policies/pci.py), the rules that enforce it
with their enforcement level and verdict on this stack, every suppression with its reason and
expiry, what is not yet declared, and the controls outside this repository, stated as such.

The verdicts are those of the offline run: the desired state this commit declares for the stack,
not a scan of the deployed account (nightly drift detection compares the two).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.offline import PROJECT_DIR, run_stack, with_declared_secrets
from tools.policy_docs import enforcement_level
from tools.policy_eval import SUPPRESSED_POLICY, PolicyReport, Violation, evaluate, load_policy_config
from tools.pr_comment import NOT_IN_PACK, EvidenceChange
from tools.stack_config import NoSuchStackError, StackFileError, load_stack_config

SUPPRESSED = re.compile(
    r"^SUPPRESSED (?P<rule>[a-z0-9-]+): (?P<finding>[^\n]*)\nReason(?: \(until (?P<until>[^)]+)\))?: (?P<reason>.*)",
    re.MULTILINE | re.DOTALL,
)
"""The suppressed-findings report's message (after the engine's description line)."""


@dataclass(frozen=True)
class Suppression:
    resource: str
    finding: str
    reason: str
    expires: str | None


@dataclass
class RuleVerdict:
    rule: str
    description: str
    level: str
    verdict: str
    """passes, passes with suppressions, fails, advisory findings, disabled"""
    findings: list[dict[str, str]] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)


@dataclass
class RequirementVerdict:
    id: str
    title: str
    verdict: str
    """met, met in part, not met, not declared"""
    rules: list[RuleVerdict]
    gap: str


def rule_verdict(level: str, violations: list[Violation], suppressed: int) -> str:
    """One rule's verdict on a stack, from its level and what it reported there."""
    if level == "disabled":
        return "disabled"
    if any(v.level == "mandatory" for v in violations):
        return "fails"
    if violations:
        return "advisory findings"
    return "passes with suppressions" if suppressed else "passes"


def suppressions_of(report: PolicyReport) -> dict[str, list[Suppression]]:
    """The suppressed findings by rule (the suppressed-findings report names the rule in its message)."""
    found: dict[str, list[Suppression]] = {}
    for violation in report.suppressed:
        match = SUPPRESSED.search(violation.message)
        if match:
            found.setdefault(match["rule"], []).append(
                Suppression(violation.urn, match["finding"], match["reason"], match["until"])
            )
    return found


def verdicts_by_rule(report: PolicyReport) -> dict[str, str]:
    """Every rule of the pack that ran, with its verdict (needs a report that records `levels`)."""
    suppressions = suppressions_of(report)
    return {
        rule: rule_verdict(level, [v for v in report.violations if v.policy == rule], len(suppressions.get(rule, [])))
        for rule, level in report.levels.items()
        if rule != SUPPRESSED_POLICY
    }


def verdict_changes(base: PolicyReport, head: PolicyReport) -> list[EvidenceChange]:
    """The rules whose verdict on the stack differs between base and head, with the PCI DSS requirements each
    one evidences: what the PR comment calls out, with a link to the head's report."""
    sys.path[:0] = [str(PROJECT_DIR / "policies")]
    from platform_policies import pci

    requirements: dict[str, list[str]] = {}
    for requirement in pci.REQUIREMENTS:
        for rule in requirement.rules:
            requirements.setdefault(rule, []).append(requirement.id)
    before, after = verdicts_by_rule(base), verdicts_by_rule(head)
    return [
        EvidenceChange(
            rule, before.get(rule, NOT_IN_PACK), after.get(rule, NOT_IN_PACK), tuple(requirements.get(rule, ()))
        )
        for rule in sorted(before.keys() | after.keys())
        if before.get(rule, NOT_IN_PACK) != after.get(rule, NOT_IN_PACK)
    ]


def _requirement_verdict(rules: list[RuleVerdict], gap: str) -> str:
    if not rules:
        return "not declared"
    if any(r.verdict in {"fails", "disabled"} for r in rules):
        return "not met"
    return "met in part" if gap or any(r.verdict == "advisory findings" for r in rules) else "met"


def build(report: PolicyReport, policy_config: dict[str, Any]) -> dict[str, Any]:
    """The report's content, from the pack's verdict on the stack and the stack's policy config."""
    sys.path[:0] = [str(PROJECT_DIR / "policies")]
    from platform_policies import RULES, pci

    suppressions = suppressions_of(report)
    verdicts = {}
    for rule in RULES:
        level = report.levels.get(rule.id) or enforcement_level(policy_config, rule.id, rule.level.value)
        violations = [v for v in report.violations if v.policy == rule.id]
        mine = suppressions.get(rule.id, [])
        findings = [
            {"resource": v.urn, "level": v.level, "finding": v.message.split("\nWhy: ", 1)[0]} for v in violations
        ]
        verdicts[rule.id] = RuleVerdict(
            rule.id, rule.description, level, rule_verdict(level, violations, len(mine)), findings, mine
        )
    requirements = [
        RequirementVerdict(
            r.id,
            r.title,
            _requirement_verdict([verdicts[x] for x in r.rules], r.gap),
            [verdicts[x] for x in r.rules],
            r.gap,
        )
        for r in pci.REQUIREMENTS
    ]
    return {
        "stack": report.stack,
        "pack": report.pack,
        "policies": report.policies,
        "requirements": [asdict(r) for r in requirements],
        "hygiene": [asdict(verdicts[x]) for x in pci.HYGIENE],
        "outOfScope": [asdict(o) for o in pci.OUT_OF_SCOPE],
    }


def _commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return found.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def render(content: dict[str, Any], *, commit: str, today: dt.date) -> str:
    stack = content["stack"]
    lines = [
        f"# PCI DSS v4.0.1 evidence: stack `{stack}`",
        "",
        f"Generated {today.isoformat()} from commit {commit} by `make compliance STACK={stack}`, with the policy pack "
        f"`{content['pack']}` ({content['policies']} policies) and `policies/config/{stack}.json`.",
        "",
        "**How to read this.** Each requirement lists the rules that enforce it on the desired state this commit "
        "declares for the stack (the resources `pulumi up` would create), each with its enforcement level and its "
        "verdict. A rule *passes* when no resource violates it; *passes with suppressions* when every finding is "
        "covered by a suppression, listed with its reason and expiry. A requirement is *met* when all its rules "
        "pass; *met in part* when the repository does not yet declare all of it (the gap is stated); *not met* when "
        "a rule fails or is disabled; *not declared* when no rule covers it yet. The same rules gate every "
        "`pulumi preview` and `pulumi up`. Controls this repository cannot show are listed at the end.",
        "",
        "| requirement | verdict | rules |",
        "| --- | --- | --- |",
    ]
    for req in content["requirements"]:
        rules = ", ".join(f"`{r['rule']}` {r['verdict']}" for r in req["rules"]) or "none"
        lines.append(f"| {req['id']} {req['title']} | **{req['verdict']}** | {rules} |")
    for req in content["requirements"]:
        lines += ["", f"## {req['id']} {req['title']}", "", f"Verdict: **{req['verdict']}**."]
        if req["gap"]:
            lines += ["", f"Not yet declared: {req['gap']}"]
        lines += _rule_lines(req["rules"])
    lines += [
        "",
        "## Rules outside PCI DSS (availability, recovery, cost, operability)",
        "",
        *_rule_lines(content["hygiene"]),
        "",
        "## Outside this repository",
        "",
        "These requirements are met outside the infrastructure code; the assessor checks them where stated.",
        "",
        "| requirement | what | where |",
        "| --- | --- | --- |",
        *(f"| {o['id']} | {o['title']} | {o['where']} |" for o in content["outOfScope"]),
    ]
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def _rule_lines(rules: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for rule in rules:
        lines += ["", f"- `{rule['rule']}` ({rule['level']}): **{rule['verdict']}**. {rule['description']}"]
        lines += [f"  - finding ({f['level']}) on `{f['resource']}`: {f['finding']}" for f in rule["findings"]]
        for s in rule["suppressions"]:
            until = f"until {s['expires']}" if s["expires"] else "no expiry"
            lines.append(f"  - suppressed ({until}) on `{s['resource']}`: {s['finding']} Reason: {s['reason']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.compliance", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: Pulumi.<stack>.yaml must exist")
    parser.add_argument("--out-dir", type=Path, default=PROJECT_DIR / "build" / "compliance")
    args = parser.parse_args(argv)
    try:
        stack_config, _ = with_declared_secrets(load_stack_config(PROJECT_DIR, args.stack))
    except (NoSuchStackError, StackFileError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    run = run_stack(args.stack, project_dir=PROJECT_DIR, config=stack_config)
    markdown, content = write(evaluate(run), args.out_dir, commit=_commit())
    counts: dict[str, int] = {}
    for req in content["requirements"]:
        counts[req["verdict"]] = counts.get(req["verdict"], 0) + 1
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    print(f"{markdown}: {len(content['requirements'])} PCI DSS requirements ({summary})")
    return 0


def write(report: PolicyReport, out_dir: Path, *, commit: str) -> tuple[Path, dict[str, Any]]:
    """`<out_dir>/<stack>.md` and `.json` from the pack's verdict on the stack (also the PR's report)."""
    content = build(report, load_policy_config(report.stack))
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = out_dir / f"{report.stack}.md"
    markdown.write_text(render(content, commit=commit, today=dt.date.today()))
    (out_dir / f"{report.stack}.json").write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    return markdown, content


if __name__ == "__main__":
    sys.exit(main())
