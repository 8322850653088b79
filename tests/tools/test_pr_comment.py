"""PR comments from the engine's event stream, its digest and offline snapshot diffs.

Fixtures are in the pinned CLI's formats (fixtures/README.md). Regenerate the golden files after an
intended change with `UPDATE_GOLDEN=1 make test`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from platform_lib.stateful import STATEFUL, replacement_keys
from tools.pr_comment import (
    BUDGET,
    GITHUB_LIMIT,
    Change,
    Finding,
    Preview,
    RunInfo,
    Verdict,
    change_summary,
    from_engine_events,
    from_preview_digest,
    from_snapshots,
    marker,
    render,
)

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
RUN = RunInfo(commit="1234567890abcdef1234567890abcdef12345678", run_url="https://github.com/o/r/actions/runs/7")


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert text == path.read_text()


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def resource(urn: str, inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"urn": urn, "type": urn.split("::")[-2].rsplit("$", maxsplit=1)[-1], "inputs": inputs, "options": options,
            "provider": "urn:pulumi:stg::platform::pulumi:providers:aws::aws::id"}  # fmt: skip


def snapshot(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"stack": "stg", "resources": list(resources)}


DB = "urn:pulumi:stg::platform::platform:database:Database$aws:rds/instance:Instance::card-instance"
SCHEMA = "urn:pulumi:stg::platform::platform:database:PostgresUsers$postgresql:index/schema:Schema::card-clearing"
QUEUE = "urn:pulumi:stg::platform::platform:mail:MailPipeline$aws:sqs/queue:Queue::mail-queue"
ROLE = "urn:pulumi:stg::platform::platform:apps:EcsApp$aws:iam/role:Role::api-task"


# ------------------------------------------------------------------------------------------ engine events


def test_engine_events_clean_preview() -> None:
    preview = from_engine_events(fixture("engine_clean.jsonl"), "stg")
    assert [(c.op, c.name, c.keys) for c in preview.changes] == [
        ("create", "api-logs", ()),
        ("update", "api-service", ("desiredCount",)),
    ]
    assert preview.same == 1
    assert not preview.errors
    assert not preview.unreadable
    assert preview.verdict is not None
    assert preview.verdict.pack == "platform-standards"
    assert [f.level for f in preview.verdict.findings] == ["suppressed"]
    text = render(preview, RUN)
    assert text.startswith("<!-- platform-preview:stg:engine -->\n")
    assert "commit `1234567890ab`" in text
    assert "(https://github.com/o/r/actions/runs/7)" in text
    assert "CAUTION" not in text
    assert ":white_check_mark: passes: 0 mandatory, 0 advisory, 1 suppressed" in text
    golden("engine_clean.md", text)


def test_engine_replacement_counts_once_and_opens_with_a_caution() -> None:
    preview = from_engine_events(fixture("engine_replace.jsonl"), "stg")
    assert [(c.op, c.name, c.keys) for c in preview.changes] == [
        ("replace", "card-instance", ("kmsKeyId",)),
        ("delete", "card-pg-schema-clearing", ()),
    ]
    text = render(preview, RUN)
    caution = text.split("> [!CAUTION]")[1].split("\n\n")[0]
    assert "**replace** `aws:rds/instance:Instance` `card-instance` because of `kmsKeyId`" in caution
    assert "**delete** `postgresql:index/schema:Schema` `card-pg-schema-clearing`" in caution
    golden("engine_replace.md", text)


def test_engine_mandatory_violation_names_rule_resource_and_fix() -> None:
    preview = from_engine_events(fixture("engine_mandatory.jsonl"), "stg")
    assert preview.failed
    text = render(preview, RUN)
    assert ":x: fails: 1 mandatory, 0 advisory, 0 suppressed" in text
    row = next(line for line in text.splitlines() if line.startswith("| mandatory |"))
    assert "`s3-versioning`" in row
    assert "`mail-bucket`" in row
    assert "BucketVersioning" in row
    golden("engine_mandatory.md", text)


def test_engine_program_error_is_shown_with_its_message() -> None:
    preview = from_engine_events(fixture("engine_program_error.jsonl"), "stg")
    assert preview.failed
    assert not preview.changes
    text = render(preview, RUN)
    assert ":x: **The preview failed.**" in text
    assert "platform:apps.services.api.memory: memory=3000 does not fit cpu=1024" in text
    assert "No changes." not in text
    golden("engine_program_error.md", text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "printed no engine events at all"),
        ("Installing policy pack...\n" + fixture("engine_clean.jsonl") + "trailing text\n", "2 line(s)"),
        (fixture("engine_clean.jsonl").rsplit("\n", 2)[0] + "\n", "no summary event"),
        ("[1, 2]\nnull\n", "were not engine events"),
    ],
)
def test_engine_output_that_cannot_be_read_is_said_not_crashed(text: str, says: str) -> None:
    preview = from_engine_events(text, "stg")
    assert any(says in note for note in preview.unreadable), preview.unreadable
    assert "could not be read" in render(preview)


def test_preview_digest_with_install_lines_and_trailing_text() -> None:
    preview = from_preview_digest(fixture("preview_digest.txt") + "\nwarning: something\n", "stg")
    assert [(c.op, c.name) for c in preview.changes] == [("replace", "card-instance")]
    assert preview.same == 455
    assert preview.unreadable == ["text before or after the preview document was skipped"]


@pytest.mark.parametrize("text", ["", "error: no stack named 'stg' found\n", "{not json"])
def test_preview_digest_that_is_not_a_document(text: str) -> None:
    preview = from_preview_digest(text, "stg")
    assert preview.unreadable
    assert not preview.changes


# --------------------------------------------------------------------------------------- offline diffs


def test_offline_replacement_is_known_from_the_stateful_facts() -> None:
    base = snapshot(resource(DB, {"kmsKeyId": "k1", "instanceClass": "db.t4g.small"}))
    head = snapshot(resource(DB, {"kmsKeyId": "k2", "instanceClass": "db.t4g.medium"}))
    (change,) = from_snapshots(base, head).changes
    assert (change.op, change.keys) == ("replace", ("kmsKeyId",))
    assert change.destroys_data


def test_offline_in_place_update_of_a_stateful_type_is_an_update() -> None:
    base = snapshot(resource(DB, {"instanceClass": "db.t4g.small"}))
    head = snapshot(resource(DB, {"instanceClass": "db.t4g.medium"}))
    (change,) = from_snapshots(base, head).changes
    assert (change.op, change.keys) == ("update", ("instanceClass",))
    assert not change.destroys_data


def test_offline_replace_on_changes_option_applies_to_any_type() -> None:
    base = snapshot(resource(ROLE, {"name": "a"}, replaceOnChanges=["name"]))
    head = snapshot(resource(ROLE, {"name": "b"}, replaceOnChanges=["name"]))
    assert from_snapshots(base, head).changes[0].op == "replace"


def test_offline_deleting_a_postgres_schema_is_a_caution() -> None:
    base = snapshot(resource(SCHEMA, {"name": "clearing", "database": "card"}), resource(QUEUE, {"name": "q"}))
    head = snapshot(resource(QUEUE, {"name": "q"}))
    preview = from_snapshots(base, head)
    assert [(c.op, c.name) for c in preview.changes] == [("delete", "card-clearing")]
    assert "**delete** `postgresql:index/schema:Schema` `card-clearing`" in render(preview)


def test_offline_base_missing_means_everything_is_new() -> None:
    preview = from_snapshots(None, snapshot(resource(QUEUE, {"name": "q"})))
    assert [c.op for c in preview.changes] == ["create"]
    assert preview.same == 0


def test_change_summary_for_the_terminal() -> None:
    base = snapshot(resource(DB, {"kmsKeyId": "k1"}), resource(QUEUE, {"name": "q"}))
    head = snapshot(resource(DB, {"kmsKeyId": "k2"}), resource(ROLE, {"name": "r"}))
    lines = change_summary(from_snapshots(base, head))
    assert lines[0] == "+1 create, ~0 update, +-1 replace, -1 delete, 0 unchanged"
    assert "  +- aws:rds/instance:Instance card-instance  (kmsKeyId)" in lines
    assert "   - aws:sqs/queue:Queue mail-queue" in lines


@pytest.mark.parametrize("type_token", sorted(STATEFUL))
def test_every_stateful_type_names_its_source_and_what_is_lost(type_token: str) -> None:
    facts = STATEFUL[type_token]
    assert facts.source
    assert facts.what
    assert all(key[0].islower() and "_" not in key for key in facts.replace_on), "engine names are camelCase"


def test_replacement_keys_count_nested_paths_for_their_top_level_property() -> None:
    assert replacement_keys("aws:rds/instance:Instance", ["kmsKeyId", "tags.Env"]) == ["kmsKeyId"]
    assert replacement_keys("aws:ecr/repository:Repository", ["encryptionConfigurations[0].kmsKey"]) == [
        "encryptionConfigurations[0].kmsKey"
    ]
    assert replacement_keys("aws:iam/role:Role", ["name"]) == []


# ------------------------------------------------------------------------------------------------ size


def test_the_whole_body_fits_and_keeps_summary_caution_and_every_mandatory_violation() -> None:
    stateful = [Change("delete", f"urn:pulumi:stg::platform::aws:s3/bucket:Bucket::bucket-{i:03d}") for i in range(40)]
    noise = [Change("create", f"urn:pulumi:stg::platform::aws:ec2/subnet:Subnet::subnet-{i:05d}") for i in range(4000)]
    findings = [
        Finding("mandatory", "s3-versioning", f"urn:x::bucket-{i:03d}", "no versioning\nFix: enable") for i in range(60)
    ]
    findings += [Finding("advisory", "tags", f"urn:x::r-{i}", "a long advisory finding " * 20) for i in range(350)]
    preview = Preview("prd", "offline", changes=stateful + noise, verdict=Verdict("platform-standards", findings))
    text = render(preview, RUN)
    assert len(text) <= GITHUB_LIMIT
    assert "| 4000 | 0 | 0 | 40 |" in text
    assert all(f"`bucket-{i:03d}`" in text.split("> [!CAUTION]")[1].split("\n\n")[0] for i in range(40))
    assert sum(line.startswith("| mandatory |") for line in text.splitlines()) == 60
    assert "more rows left out" in text


def test_an_enormous_failure_log_is_trimmed_not_the_error() -> None:
    preview = Preview("stg", "offline", errors=["platform:apps.api.cpu: cpu=384 is not a Fargate size"])
    preview.log_tail = "\n".join(f"line {i} " + "x" * 2000 for i in range(200))
    text = render(preview)
    assert len(text) <= BUDGET + 1
    assert "cpu=384 is not a Fargate size" in text


def test_the_marker_is_one_per_stack_and_source() -> None:
    assert marker("stg", "offline") != marker("stg", "engine") != marker("prd", "engine")
    assert render(Preview("prd", "engine")).splitlines()[0] == marker("prd", "engine")


def test_offline_verdict_golden(tmp_path: Path) -> None:
    from tools.pr_comment import offline_verdict

    report = {
        "pack": "platform-standards",
        "mandatory": [{"policy": "rds-storage-encrypted", "urn": DB, "message": "card stores data unencrypted\nWhy: x\nFix: Set storage_encrypted=True"}],
        "advisory": [],
        "suppressed": [{"policy": "suppressed-findings", "urn": ROLE, "message": "SUPPRESSED ecs-readonly-root: ...\nreason"}],
    }  # fmt: skip
    base = snapshot(resource(DB, {"kmsKeyId": "k1"}))
    head = snapshot(resource(DB, {"kmsKeyId": "k2"}), resource(QUEUE, {"name": "q"}))
    preview = from_snapshots(base, head)
    preview.verdict = offline_verdict(json.loads(json.dumps(report)))
    preview.base_failure = "error: the program failed for stack stg\nplatform:network.cidr: not a /16"
    golden("offline_replace_with_policy.md", render(preview, RUN))


def test_the_comment_and_verdict_entry_points_need_only_the_standard_library() -> None:
    """They run with the runner's python3 even when `make setup` failed, to say so in the comment."""
    import subprocess
    import sys

    code = (
        "import sys, tools.ci; "
        "print(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - "
        "{'tools', 'platform_lib', '__main__', '_distutils_hack', 'certifi'}))"
    )
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert result.stdout.strip() == "[]"


def test_a_verdict_change_is_called_out_with_its_requirements_and_where_the_report_is() -> None:
    from tools.pr_comment import EvidenceChange

    preview = Preview("prd", "offline", evidence=[EvidenceChange("elb-tls", "passes", "disabled", ("4.2.1",)),
                                                  EvidenceChange("ecs-desired-count", "passes", "fails")])  # fmt: skip
    preview.evidence_report = "build/pr/compliance/prd.md"
    body = render(preview, RUN)
    assert "**PCI DSS evidence changes**: 2 rule verdict(s) differ from the base" in body
    assert "| `elb-tls` | passes | **disabled** | 4.2.1 |" in body
    assert "| `ecs-desired-count` | passes | **fails** | none (hygiene) |" in body
    assert (
        f"`build/pr/compliance/prd.md`, kept as artifact `compliance-prd` of the [workflow run]({RUN.run_url})" in body
    )
    assert "`build/pr/compliance/prd.md`." in render(preview)  # locally: the path only
    assert "PCI DSS evidence" not in render(Preview("prd", "offline"), RUN)


def test_the_workflow_keeps_the_report_under_the_name_the_comment_gives() -> None:
    import yaml

    from tools.pr_comment import evidence_artifact

    workflow = yaml.safe_load((Path(__file__).resolve().parents[2] / ".github/workflows/pull-request.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["offline-preview"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert step["with"]["name"].replace("${{ matrix.stack }}", "prd") == evidence_artifact("prd")
    assert "build/pr/compliance/${{ matrix.stack }}.md" in step["with"]["path"]
