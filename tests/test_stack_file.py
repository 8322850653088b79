"""The stack file read strictly, as the Pulumi CLI reads it, with errors that point at a line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from platform_lib.provider_keys import AWS_PROVIDER_KEYS
from tools.offline import PROJECT_DIR
from tools.stack_config import StackFileError, load_stack_config


def _stack(tmp_path: Path, body: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: platform\nruntime: python\n")
    (tmp_path / "Pulumi.stg.yaml").write_text(body)
    return tmp_path


def test_a_key_given_twice_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    body = "config:\n  platform:apps:\n    services:\n      api: {cpu: 1}\n      worker: {}\n      api: {cpu: 2}\n"
    with pytest.raises(StackFileError, match=r"^Pulumi\.stg\.yaml:6:7: duplicate key 'api' \(first at line 4\)"):
        load_stack_config(_stack(tmp_path, body), "stg")


def test_a_key_without_namespace_that_repeats_a_namespaced_one_is_an_error(tmp_path: Path) -> None:
    body = "config:\n  platform:network: {vpcCidr: 10.0.0.0/16}\n  aws:region: ap-northeast-1\n  network: {}\n"
    with pytest.raises(
        StackFileError,
        match=r"Pulumi\.stg\.yaml:4: `network` is `platform:network`, already set as `platform:network` at line 2",
    ):
        load_stack_config(_stack(tmp_path, body), "stg")


def test_a_yaml_error_is_file_line_and_column(tmp_path: Path) -> None:
    body = "config:\n  platform:apps:\n    services: [api\n  aws:region: x\n"
    with pytest.raises(StackFileError) as raised:
        load_stack_config(_stack(tmp_path, body), "stg")
    assert re.match(r"^Pulumi\.stg\.yaml:\d+:\d+: ", str(raised.value))
    assert "<unicode string>" not in str(raised.value)


def test_booleans_are_yaml_1_2s_true_and_false_only(tmp_path: Path) -> None:
    """As the CLI's parser reads them: `yes`/`on` stay strings, so a number field refuses them."""
    body = "config:\n  platform:x: {a: yes, b: on, c: true, d: False, e: 'no'}\n"
    config = load_stack_config(_stack(tmp_path, body), "stg")
    assert config.config_value("platform:x") == {"a": "yes", "b": "on", "c": True, "d": False, "e": "no"}


def test_the_aws_key_list_is_the_installed_providers() -> None:
    vars_py = Path(__import__("pulumi_aws").__file__).parent / "config" / "vars.py"
    keys = set(re.findall(r"__config__\.get[a-z_]*\('([A-Za-z0-9]+)'\)", vars_py.read_text()))
    assert keys == AWS_PROVIDER_KEYS


def test_the_preview_prints_a_yaml_error_without_a_traceback(project_copy: Path, tmp_path: Path) -> None:
    stack_file = project_copy / "Pulumi.stg.yaml"
    text = stack_file.read_text()
    stack_file.write_text(text.replace("      api:\n", "      api:\n        cpu: 1\n      api:\n", 1))
    result = subprocess.run(
        [sys.executable, "-m", "tools.preview", "--stack", "stg", "--project-dir", str(project_copy),
         "--out-dir", str(tmp_path), "--no-base-diff"],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert re.search(r"^Pulumi\.stg\.yaml:\d+:7: duplicate key 'api' \(first at line \d+\)", result.stderr, re.M)
    assert "Traceback" not in result.stderr
