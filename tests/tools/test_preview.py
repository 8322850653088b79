"""The offline preview tool: exit codes, determinism, snapshot contents, refusal of unmocked invokes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from tools import preview
from tools.mock_runtime import run_program
from tools.mocks import PlatformMocks, UnmockedInvokeError
from tools.offline import PROJECT_DIR
from tools.snapshot import SECRET_MARKER, build_snapshot, dumps
from tools.stack_config import load_stack_config, secret_placeholder


def run_cli(*args: str, hash_seed: str = "0", cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-m", "tools.preview", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_snapshot_is_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    first = run_cli("--stack", "prd", "--json", "--out-dir", str(tmp_path / "one"), hash_seed="1")
    second = run_cli("--stack", "prd", "--json", "--out-dir", str(tmp_path / "two"), hash_seed="4242")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    assert (tmp_path / "one" / "prd.json").read_bytes() == (tmp_path / "two" / "prd.json").read_bytes()
    output = json.loads(first.stdout)
    assert output["snapshot"]["stack"] == "prd"
    assert output["policy"]["mandatory"] == []
    assert len(output["policy"]["suppressed"]) > 0


def test_tree_output_and_snapshot_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert preview.main(["--stack", "stg", "--out-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    notes = [line for line in captured.err.splitlines() if line.startswith("note:")]
    assert len(notes) <= 1  # the secret placeholders (none once every secret is set): one line at most
    assert "platform-stg" in out
    assert "network platform:network:Network" in out
    assert " × aws:ec2/subnet:Subnet" in out
    snapshot = json.loads((tmp_path / "stg.json").read_text())
    assert snapshot["resourceCount"] == len(snapshot["resources"])
    assert [r["urn"] for r in snapshot["resources"]] == sorted(r["urn"] for r in snapshot["resources"])


def test_unknown_stack_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert preview.main(["--stack", "qa", "--out-dir", str(tmp_path)]) == preview.EXIT_USAGE
    assert "no stack file Pulumi.qa.yaml; stacks here: prd, stg" in capsys.readouterr().err


def test_bad_config_exits_1_with_the_message_and_no_traceback(project_copy: Path, tmp_path: Path) -> None:
    stack_file = project_copy / "Pulumi.stg.yaml"
    stack_file.write_text(stack_file.read_text().replace("vpcCidr: 10.50.0.0/16", "vpcCidr: 10.50.0.0/33"))
    result = run_cli("--stack", "stg", "--project-dir", str(project_copy), "--out-dir", str(tmp_path))
    assert result.returncode == preview.EXIT_PROGRAM_FAILED
    assert (
        'platform:network.vpcCidr: must be an IPv4 CIDR block such as 10.0.0.0/16, got "10.50.0.0/33"' in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "stg.json").exists()


def test_a_mandatory_violation_exits_3_naming_rule_and_resource(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real pack, with stg's suppression of ecs-readonly-root taken away."""
    from tools import policy_eval

    config = policy_eval.load_policy_config("stg")
    del config["ecs-readonly-root"]
    monkeypatch.setattr(
        preview, "evaluate", lambda run, **options: policy_eval.evaluate(run, policy_config=config, **options)
    )
    assert preview.main(["--stack", "stg", "--out-dir", str(tmp_path)]) == preview.EXIT_POLICY
    out = capsys.readouterr().out
    assert "mandatory" in out
    assert "ecs-readonly-root api-task" in out
    report = json.loads((tmp_path / "stg.policy.json").read_text())
    assert {v["policy"] for v in report["mandatory"]} == {"ecs-readonly-root"}
    # Each finding prints the suppression to paste; pasted (with a reason) it suppresses exactly that.
    assert "to suppress, add to policies/config/stg.json:" in out
    snippets = [json.loads(line) for line in out.splitlines() if line.strip().startswith('{"ecs-readonly-root"')]
    assert len(snippets) == len(report["mandatory"])
    suppressions = [entry for snippet in snippets for entry in snippet["ecs-readonly-root"]["suppressions"]]
    for entry in suppressions:
        entry.update(reason="Exec needs a writable root; compensating controls documented.", expires="2099-01-01")
    config["ecs-readonly-root"] = {"suppressions": suppressions}
    assert preview.main(["--stack", "stg", "--out-dir", str(tmp_path), "--no-base-diff"]) == preview.EXIT_OK


def test_unmocked_invoke_fails_naming_the_token() -> None:
    mocks = PlatformMocks(account_id="123456789012", default_region="ap-northeast-1")

    def program() -> None:
        identity = aws.get_caller_identity()
        pulumi.export("account", identity.account_id)

    with pytest.raises(UnmockedInvokeError, match=r"aws:index/getCallerIdentity:getCallerIdentity"):
        run_program(program, project="platform", stack="stg", config={}, secret_keys=[], mocks=mocks)


def test_secure_values_stay_secret_and_never_reach_the_snapshot(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n"
        "  demo:token:\n    secure: AAAA\n"
        "  demo:nested:\n    plain: 1\n    key:\n      secure: BBBB\n"
        "  aws:region: ap-northeast-1\n"
    )
    config = load_stack_config(tmp_path, "dev")
    assert config.secret_keys == ["demo:nested", "demo:token"]
    assert config.values["demo:token"] == secret_placeholder("demo:token")
    assert json.loads(config.values["demo:nested"]) == {
        "key": secret_placeholder("demo:nested.key"),
        "plain": 1,
    }

    mocks = PlatformMocks(account_id="123456789012", default_region="ap-northeast-1")

    def program() -> None:
        token = pulumi.Config().require_secret("token")
        aws.ssm.Parameter("param", type="SecureString", value=token)
        pulumi.export("token", token)

    run = run_program(
        program,
        project="demo",
        stack="dev",
        config=config.values,
        secret_keys=config.secret_keys,
        mocks=mocks,
    )
    (param,) = run.of_type("aws:ssm/parameter:Parameter")
    assert param.secret_inputs == ["value"]
    text = dumps(build_snapshot(run))
    assert secret_placeholder("demo:token") not in text
    snapshot = json.loads(text)
    assert snapshot["outputs"]["token"] == SECRET_MARKER
    assert snapshot["resources"][0]["inputs"]["value"] == SECRET_MARKER


def test_readme_lists_the_rules_of_the_pack() -> None:
    from tools import policy_docs

    assert policy_docs.updated(policy_docs.README.read_text()) == policy_docs.README.read_text(), (
        "README.md's rule table is stale: run `python -m tools.policy_docs`"
    )


def test_make_preview_json_is_json_and_a_failure_names_the_tools_code(tmp_path: Path) -> None:
    """The README's `make preview ARGS=--json > f`: no make echo and no set-up output on stdout."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    result = subprocess.run(
        ["make", "preview", "STACK=stg", "ARGS=--json --no-base-diff --no-policy --out-dir " + str(tmp_path)],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"snapshot", "policy"}
    failed = subprocess.run(
        ["make", "preview", "STACK=qa"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    assert failed.returncode != 0
    assert "make preview: tools.preview exited 2" in failed.stderr


def test_the_secret_placeholders_are_one_line() -> None:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    keys = ["platform:datadogApiKey", "platform:datadogAppKey", "platform:datadogExternalId"]
    preview._note_placeholders(Console(file=buffer, width=80), "stg", keys)
    (line,) = buffer.getvalue().splitlines()
    assert line.startswith("note: placeholders for the secrets not in Pulumi.stg.yaml (datadogApiKey, datadogAppKey,")
