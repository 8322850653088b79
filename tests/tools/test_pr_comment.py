"""PR comments from real preview JSON and offline snapshot diffs, checked against golden files.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 make test`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tools.pr_comment import GITHUB_LIMIT, Change, from_preview_json, from_snapshots, marker, render, render_failure

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert text == path.read_text()


def policy() -> dict[str, object]:
    loaded: dict[str, object] = json.loads((FIXTURES / "policy_violations.json").read_text())
    return loaded


def test_create_only() -> None:
    preview = from_preview_json((FIXTURES / "preview_create_only.json").read_text(), "stg")
    assert [c.op for c in preview.changes] == ["create"] * 3
    assert preview.same == 447
    text = render(preview)
    assert text.startswith(marker("stg", "pulumi preview"))
    assert text.startswith("<!-- platform-preview:stg:engine -->")
    assert "CAUTION" not in text
    golden("create_only.md", text)


def test_mixed_with_stateful_replacements_and_deletions() -> None:
    preview = from_preview_json((FIXTURES / "preview_mixed.json").read_text(), "stg")
    text = render(preview)
    assert "> [!CAUTION]" in text
    assert "**replace** `aws:rds/instance:Instance` `card-instance` (because of kmsKeyId, storageEncrypted)" in text
    assert "**delete** `aws:s3/bucket:Bucket` `mail-bucket`" in text
    assert "api-service" not in text.split("<details>")[0]
    golden("mixed.md", text)


def test_policy_violations_with_rule_and_fix() -> None:
    preview = from_preview_json((FIXTURES / "preview_mixed.json").read_text(), "stg")
    text = render(preview, policy())
    assert ":x: fails: 2 mandatory, 1 advisory, 1 suppressed" in text
    assert (
        "| mandatory | `rds-storage-encrypted` | `card-instance` | platform-stg-card stores data unencrypted |" in text
    )
    assert "Set storage_encrypted=True" in text
    golden("policy.md", text)


def test_failed_preview_still_gets_a_comment() -> None:
    text = render_failure("stg", "offline preview", (FIXTURES / "preview_failed.log").read_text())
    assert text.startswith("<!-- platform-preview:stg:offline -->")
    assert ":x: **The preview failed**" in text
    assert "platform:apps.services.api.memory: memory=3000 does not fit cpu=1024" in text
    golden("failed.md", text)


def test_oversized_preview_is_trimmed_but_keeps_its_summary() -> None:
    steps = [
        {
            "op": "create",
            "urn": f"urn:pulumi:prd::platform::platform:index:Platform$aws:ec2/subnet:Subnet::subnet-{i:05d}",
        }
        for i in range(5000)
    ]
    steps.append(
        {
            "op": "delete",
            "urn": "urn:pulumi:prd::platform::platform:index:Platform$aws:dynamodb/table:Table::mail-table",
        }
    )
    preview = from_preview_json(json.dumps({"steps": steps, "changeSummary": {"create": 5000, "delete": 1}}), "prd")
    text = render(preview, policy())
    assert len(text) <= GITHUB_LIMIT
    assert "| 5000 | 0 | 0 | 1 | 0 |" in text
    assert "**delete** `aws:dynamodb/table:Table` `mail-table`" in text
    assert "more changes not shown" in text
    assert text.rstrip().endswith("</details>")
    golden("oversized.md", text)


def test_offline_diff_of_snapshots() -> None:
    def resource(name: str, inputs: dict[str, object], **options: object) -> dict[str, object]:
        return {"urn": f"urn:pulumi:stg::platform::aws:kms/key:Key::{name}", "inputs": inputs, "options": options}

    base = {
        "stack": "stg",
        "resources": [resource("kept", {"a": 1}), resource("changed", {"a": 1}), resource("gone", {})],
    }
    head = {
        "stack": "stg",
        "resources": [resource("kept", {"a": 1}), resource("changed", {"a": 2}, protect=True), resource("new", {})],
    }
    preview = from_snapshots(base, head)
    assert preview.same == 1
    assert [(c.op, c.name, c.keys) for c in preview.changes] == [
        ("create", "new", ()),
        ("update", "changed", ("(protect)", "a")),
        ("delete", "gone", ()),
    ]
    assert Change("delete", "urn:pulumi:stg::platform::aws:kms/key:Key::gone").destroys_data


def test_offline_diff_of_the_real_stacks_is_empty_against_itself() -> None:
    from tests.conftest import stack_run
    from tools.snapshot import build_snapshot

    snapshot = build_snapshot(stack_run("stg"))
    preview = from_snapshots(snapshot, snapshot)
    assert preview.changes == []
    assert preview.same == snapshot["resourceCount"]
    assert "No changes." in render(preview)


@pytest.mark.parametrize("argv", [["--stack", "stg"], ["--stack", "stg", "--base", "x.json"]])
def test_cli_needs_an_input(argv: list[str]) -> None:
    from tools import pr_comment

    with pytest.raises(SystemExit):
        pr_comment.main(argv)


class FakeGitHub:
    """The issue-comments API of one pull request, in memory."""

    def __init__(self, existing: list[str]) -> None:
        self.comments = [{"id": i + 1, "body": body} for i, body in enumerate(existing)]
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, body: dict[str, object] | None) -> object:
        self.calls.append((method, path))
        if method == "GET":
            page = int(path.rsplit("page=", 1)[1])
            return self.comments[(page - 1) * 100 : page * 100]
        if method == "PATCH":
            comment_id = int(path.rsplit("/", 1)[1])
            next(c for c in self.comments if c["id"] == comment_id)["body"] = str(body and body["body"])
            return {}
        self.comments.append({"id": len(self.comments) + 1, "body": str(body and body["body"])})
        return {}


def test_sticky_comment_is_updated_even_past_the_first_page() -> None:
    from tools.github_comment import upsert

    fake = FakeGitHub([f"chatter {i}" for i in range(150)] + ["<!-- platform-preview:stg:offline -->\nold"])
    assert upsert(fake, "org/repo", 7, "<!-- platform-preview:stg:offline -->\nnew") == "updated"
    assert fake.comments[-1]["body"].endswith("new")
    assert len(fake.comments) == 151
    assert upsert(fake, "org/repo", 7, "<!-- platform-preview:prd:offline -->\nfirst") == "created"
    assert len(fake.comments) == 152
