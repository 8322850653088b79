"""The policy pack process starts as the engine starts it, on a machine without PYTHONUNBUFFERED."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tools.policy_eval import PACK_DIR, PolicyPackServer


def test_the_suite_runs_without_pythonunbuffered() -> None:
    assert "PYTHONUNBUFFERED" not in os.environ, "conftest must unset it, or it hides buffering hangs"


def test_the_real_pack_starts_and_answers_without_pythonunbuffered() -> None:
    started = time.monotonic()
    with PolicyPackServer(PACK_DIR, start_timeout=30) as server:
        assert server.info().name
    assert time.monotonic() - started < 30


def test_a_pack_that_prints_its_port_without_flushing_is_still_read(tmp_path: Path) -> None:
    # What PolicyPack does: print the port (no flush), then sleep forever. Without `-u` this hangs.
    (tmp_path / "__main__.py").write_text("import time\nprint(12345)\ntime.sleep(60)\n")
    server = PolicyPackServer(tmp_path, start_timeout=10)
    try:
        assert server.process.poll() is None
    finally:
        server.close()


def test_a_pack_that_never_prints_a_port_fails_instead_of_hanging(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("import sys, time\nprint('loading', file=sys.stderr)\ntime.sleep(60)\n")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"did not start: '\(no port within 1 s\)'\n.*loading"):
        PolicyPackServer(tmp_path, start_timeout=1)
    assert time.monotonic() - started < 10
