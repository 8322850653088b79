"""One policy pack process per test session, spoken to through the Analyzer interface."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.policy_eval import PolicyPackServer


@pytest.fixture(scope="session")
def pack() -> Iterator[PolicyPackServer]:
    server = PolicyPackServer()
    try:
        yield server
    finally:
        server.close()
