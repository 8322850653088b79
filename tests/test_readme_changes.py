"""Following the README's "Adding a batch" and "Adding an app" leaves both stacks valid and complete.

The whole-stack tests run on the README-edited stacks as well (the `platform` fixture's `+readme`
variants), so a step the README forgets, or a test that pins today's inventory, fails here first.
"""

from __future__ import annotations

import pytest

from tests.conftest import config_of, stack_run, stack_variant
from tests.readme_changes import readme_edits

VARIANTS = ("stg+readme", "prd+readme")


def _added(kind: str) -> set[str]:
    """The names the README's snippets add under `platform:apps.services` or `platform:batches`."""
    names: set[str] = set()
    for _, snippet in readme_edits():
        if kind == "apps":
            names |= set(snippet.get("platform:apps", {}).get("services", {}))
        else:
            names |= set(snippet.get("platform:batches", {}))
    return names


def test_the_readme_adds_one_app_and_one_batch() -> None:
    assert len(_added("apps")) == 1
    assert len(_added("batches")) == 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_added_app_and_batch_are_built_and_watched(variant: str) -> None:
    run = stack_run(variant)
    config = config_of(run)
    (app,) = _added("apps")
    (batch,) = _added("batches")
    assert app in config.apps.services
    assert batch in config.batches
    names = {resource.name for resource in run.resources}
    assert {f"{app}-service", f"{batch}-state-machine", f"{batch}-schedule"} <= names
    assert any(key.startswith(f"app.{app}.") for key in run.outputs["monitors"])
    assert any(key.startswith(f"batch.{batch}.") for key in run.outputs["monitors"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_added_clients_reach_their_database(variant: str) -> None:
    run = stack_run(variant)
    ingress = {
        (r.inputs["securityGroupId"], r.inputs["referencedSecurityGroupId"])
        for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if "referencedSecurityGroupId" in r.inputs
    }
    for name in _added("apps") | _added("batches"):
        assert ("app-sg-id", f"{name}-sg-id") in ingress


def test_prd_edits_name_prd_hosts_and_secrets_only() -> None:
    apps = stack_variant("prd+readme").values["platform:apps"]
    assert ".stg." not in apps
    assert "platform/stg/" not in apps
