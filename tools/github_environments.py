"""The repository's GitHub environments, as the code declares them (platform_lib/github.py).

GitHub gives a job the OIDC subject `repo:<repository>:environment:<name>` only after the
environment's rules passed, so those rules are what keeps a branch from the prd deploy role or the
plan and drift roles. They live in GitHub's settings; this module keeps them in code:

    python -m tools.github_environments check --repo OWNER/REPO    differences, exit 1 if any (nightly)
    python -m tools.github_environments apply --repo OWNER/REPO    write them (an SRE, admin token)

Both read `GH_TOKEN` (and `GITHUB_API_URL`). REST endpoints (API version 2022-11-28):
GET/PUT /repos/{repo}/environments/{name} (`protection_rules` of type `required_reviewers`, with
`reviewers[].reviewer.slug` for teams, and `deployment_branch_policy` {protected_branches,
custom_branch_policies} or null), GET/POST /repos/{repo}/environments/{name}/deployment-branch-policies
and DELETE .../deployment-branch-policies/{id}, GET /orgs/{org}/teams/{slug} (a reviewer is given by
id). Listing needs `actions: read`; writing needs repository administration. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from platform_lib.github import Environment, environments
from tools.github_comment import DEFAULT_API, GitHubError, Request, github

STACKS = ("stg", "prd")


def declared() -> list[Environment]:
    return [e for stack in STACKS for e in environments(stack)]


def differences(request: Request, repo: str, wanted: list[Environment]) -> list[str]:
    """What GitHub's settings lack of the declared rules (an environment may be stricter: more reviewers)."""
    found: list[str] = []
    for environment in wanted:
        try:
            actual = request("GET", f"/repos/{repo}/environments/{environment.name}", None)
        except GitHubError as error:
            if error.status == 404:
                found.append(f"{environment.name}: missing (jobs using it would create it unprotected)")
                continue
            raise
        found += [f"{environment.name}: {problem}" for problem in _compare(request, repo, environment, actual)]
    return found


def _compare(request: Request, repo: str, environment: Environment, actual: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    rules = actual.get("protection_rules") or []
    reviewing = [r for r in rules if r.get("type") == "required_reviewers"]
    teams = {str((r.get("reviewer") or {}).get("slug")) for rule in reviewing for r in rule.get("reviewers") or []
             if r.get("type") == "Team"}  # fmt: skip
    for team in environment.reviewers:
        if team not in teams:
            problems.append(f"the team {team} is not a required reviewer")
    if environment.prevent_self_review and not any(r.get("prevent_self_review") for r in reviewing):
        problems.append("self-review is not prevented")
    if environment.branches:
        policy = actual.get("deployment_branch_policy") or {}
        if not policy.get("custom_branch_policies"):
            what = "protected branches" if policy.get("protected_branches") else "every branch"
            problems.append(f"{what} may deploy; only {', '.join(environment.branches)} should")
        else:
            listed = request("GET", f"/repos/{repo}/environments/{environment.name}/deployment-branch-policies"
                             "?per_page=100", None)  # fmt: skip
            names = {(p.get("name"), p.get("type", "branch")) for p in listed.get("branch_policies") or []}
            extra = sorted(str(n) for n, kind in names if kind != "branch" or n not in environment.branches)
            if extra:
                problems.append(f"more than {', '.join(environment.branches)} may deploy: {', '.join(extra)}")
            missing = [b for b in environment.branches if (b, "branch") not in names]
            if missing:
                problems.append(f"{', '.join(missing)} may not deploy")
    return problems


def apply(request: Request, repo: str, wanted: list[Environment]) -> list[str]:
    """Create or update each environment to exactly the declared rules; what was done, one line each."""
    org = repo.partition("/")[0].partition("@")[0]
    done: list[str] = []
    for environment in wanted:
        reviewers = [{"type": "Team", "id": request("GET", f"/orgs/{org}/teams/{slug}", None)["id"]}
                     for slug in environment.reviewers]  # fmt: skip
        branch_policy = {"protected_branches": False, "custom_branch_policies": True} if environment.branches else None
        request("PUT", f"/repos/{repo}/environments/{environment.name}", {
            "prevent_self_review": environment.prevent_self_review, "reviewers": reviewers,
            "deployment_branch_policy": branch_policy,
        })  # fmt: skip
        if environment.branches:
            path = f"/repos/{repo}/environments/{environment.name}/deployment-branch-policies"
            listed = request("GET", f"{path}?per_page=100", None).get("branch_policies") or []
            for policy in listed:
                if policy.get("type", "branch") != "branch" or policy.get("name") not in environment.branches:
                    request("DELETE", f"{path}/{policy['id']}", None)
            have = {p.get("name") for p in listed if p.get("type", "branch") == "branch"}
            for branch in environment.branches:
                if branch not in have:
                    request("POST", path, {"name": branch, "type": "branch"})
        done.append(f"{environment.name}: set")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.github_environments", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["check", "apply"])
    parser.add_argument("--repo", default=os.environ.get("GITHUB_REPOSITORY", ""), help="OWNER/REPO")
    args = parser.parse_args(argv)
    token = os.environ.get("GH_TOKEN", "")
    if not args.repo or not token:
        print("error: --repo (or GITHUB_REPOSITORY) and GH_TOKEN must be set", file=sys.stderr)
        return 2
    request = github(token, os.environ.get("GITHUB_API_URL") or DEFAULT_API)
    try:
        if args.command == "apply":
            print("\n".join(apply(request, args.repo, declared())))
            return 0
        found = differences(request, args.repo, declared())
    except GitHubError as error:
        print(f"::error::{error}", file=sys.stderr)
        return 1
    for line in found:
        print(f"::error::GitHub environment {line} (platform_lib/github.py; `python -m tools.github_environments "
              "apply`)", file=sys.stderr)  # fmt: skip
    if not found:
        print(f"{len(declared())} environments match platform_lib/github.py")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
