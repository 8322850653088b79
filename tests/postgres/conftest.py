"""One initdb per test session; each test copies it into a cluster of its own (tests/postgres/server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres.server import Template, template


@pytest.fixture(scope="session")
def pg_template() -> Iterator[Template]:
    with template() as made:
        yield made
