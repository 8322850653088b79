"""The account bootstrap previews offline with the policy pack, as `make preview PROJECT=bootstrap` runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.offline import PROJECT_DIR
from tools.preview import EXIT_OK, main


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_the_bootstrap_passes_the_pack_with_only_justified_suppressions(stack: str, tmp_path: Path) -> None:
    code = main(["--stack", stack, "--project-dir", str(PROJECT_DIR / "bootstrap"), "--out-dir", str(tmp_path)])
    assert code == EXIT_OK
    report = json.loads((tmp_path / f"{stack}.policy.json").read_text())
    assert report["mandatory"] == []
    assert report["advisory"] == []
    assert report["suppressed"]  # the justified ones below, reported as such
    config = json.loads((PROJECT_DIR / "policies" / "config" / "bootstrap" / f"{stack}.json").read_text())
    for rule, settings in config.items():
        for suppression in settings.get("suppressions", []) if isinstance(settings, dict) else []:
            assert len(suppression["reason"]) > 80, (rule, suppression["resource"])
            assert suppression["expires"] >= "2026-12-07", (rule, suppression["resource"])
    snapshot = json.loads((tmp_path / f"{stack}.json").read_text())
    assert snapshot["project"] == "platform-bootstrap"
