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
from tools.policy_eval import PolicyReport, Violation, evaluate, load_policy_config
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


def _rule_verdict(rule: Any, level: str, violations: list[Violation], suppressions: list[Suppression]) -> RuleVerdict:
    mandatory = [v for v in violations if v.level == "mandatory"]
    advisory = [v for v in violations if v.level == "advisory"]
    if level == "disabled":
        verdict = "disabled"
    elif mandatory:
        verdict = "fails"
    elif advisory:
        verdict = "advisory findings"
    elif suppressions:
        verdict = "passes with suppressions"
    else:
        verdict = "passes"
    findings = [{"resource": v.urn, "level": v.level, "finding": v.message.split("\nWhy: ", 1)[0]} for v in violations]
    return RuleVerdict(rule.id, rule.description, level, verdict, findings, suppressions)


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

    suppressions: dict[str, list[Suppression]] = {}
    for violation in report.suppressed:
        match = SUPPRESSED.search(violation.message)
        if match:
            suppressions.setdefault(match["rule"], []).append(
                Suppression(violation.urn, match["finding"], match["reason"], match["until"])
            )
    verdicts = {
        rule.id: _rule_verdict(
            rule,
            enforcement_level(policy_config, rule.id, rule.level.value),
            [v for v in report.violations if v.policy == rule.id],
            suppressions.get(rule.id, []),
        )
        for rule in RULES
    }
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
    report = evaluate(run)
    content = build(report, load_policy_config(args.stack))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    markdown = args.out_dir / f"{args.stack}.md"
    markdown.write_text(render(content, commit=_commit(), today=dt.date.today()))
    (args.out_dir / f"{args.stack}.json").write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for req in content["requirements"]:
        counts[req["verdict"]] = counts.get(req["verdict"], 0) + 1
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    print(f"{markdown}: {len(content['requirements'])} PCI DSS requirements ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
