"""GitHub's environments written from code and checked against it (tools/github_environments.py), on
the stand-in of GitHub's REST API; and the drift refresh's URN globs, matched as the CLI matches them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import stack_run
from tests.workflows.standins.github_api import FakeGitHub
from tools import github_environments, pulumi_cli
from tools.github_comment import Request, github

REPO = "acme-payments/platform"


@pytest.fixture
def admin() -> Iterator[tuple[FakeGitHub, Request]]:
    fake = FakeGitHub()
    server, url = fake.serve()
    yield fake, github("sre-admin-token", url)
    server.shutdown()


def test_apply_writes_exactly_the_declared_rules_and_is_idempotent(admin: tuple[FakeGitHub, Request]) -> None:
    fake, request = admin
    wanted = github_environments.declared()
    missing = [f"{e.name}: missing (jobs using it would create it unprotected)" for e in wanted]
    assert github_environments.differences(request, REPO, wanted) == missing
    github_environments.apply(request, REPO, wanted)
    fake.branch_policies["prd"].append({"id": 99, "name": "hotfix", "type": "branch"})
    fake.branch_policies["prd-plan"].append({"id": 98, "name": "v*", "type": "tag"})
    assert github_environments.differences(request, REPO, wanted) == [
        "prd: more than main may deploy: hotfix",
        "prd-plan: more than main may deploy: v*",
    ]
    github_environments.apply(request, REPO, wanted)
    assert github_environments.differences(request, REPO, wanted) == []
    for environment in wanted:
        names = [p["name"] for p in fake.branch_policies.get(environment.name, [])]
        assert names == list(environment.branches), environment.name
    prd = fake.environments["prd"]
    (reviewing,) = [r for r in prd["protection_rules"] if r["type"] == "required_reviewers"]
    assert reviewing["prevent_self_review"] is True
    assert [r["reviewer"]["slug"] for r in reviewing["reviewers"]] == ["sre"]
    assert fake.environments["stg"]["deployment_branch_policy"] is None, "staging is self-serve from any branch"


def test_a_stricter_environment_is_not_a_difference(admin: tuple[FakeGitHub, Request]) -> None:
    fake, request = admin
    wanted = github_environments.declared()
    github_environments.apply(request, REPO, wanted)
    fake.put_environment("stg", {"reviewers": [{"type": "Team", "id": 42}],
                                 "deployment_branch_policy": None})  # fmt: skip
    assert github_environments.differences(request, REPO, wanted) == []


def pulumi_glob(glob: str) -> re.Pattern[str]:
    """deploy.UrnTargets.getMatcher (pkg/resource/deploy/deployment.go at v3.259.0): `**` is `.*`, `*` is
    `[^:]*`, everything else literal, anchored."""
    segments = ["[^:]*".join(re.escape(part) for part in segment.split("*")) for segment in glob.split("**")]
    return re.compile("^" + ".*".join(segments) + "$")


@pytest.mark.parametrize("variant", ["stg", "prd+readme"])
def test_the_look_only_refresh_leaves_out_exactly_what_needs_secret_values(variant: str) -> None:
    run = stack_run(variant)
    stack = variant.partition("+")[0]
    command = pulumi_cli.refresh_preview_command(stack)
    excludes = [pulumi_glob(command[i + 1]) for i, arg in enumerate(command) if arg == "--exclude"]
    databases = pulumi_cli.refresh_preview_command(stack, part="databases")
    targets = [pulumi_glob(databases[i + 1]) for i, arg in enumerate(databases) if arg == "--target"]
    assert "--run-program" not in command
    assert "--run-program" in databases
    left_out = {r.urn for r in run.resources if any(g.match(r.urn) for g in excludes)}
    needs_secrets = {r.urn for r in run.resources if r.custom and r.type.startswith(pulumi_cli.DRIFT_ROLE_CANNOT_READ)}
    assert left_out == needs_secrets
    assert any("postgresql:index/grant:Grant" in urn for urn in left_out)
    assert {r.urn for r in run.resources if any(g.match(r.urn) for g in targets)} == needs_secrets
