"""Fixtures shared by the workflow-step tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workflows.repo import copy_of_this_tree
from tests.workflows.standins.github_api import FakeGitHub


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose first commit is this working tree as it is (committed or not)."""
    return copy_of_this_tree(tmp_path_factory.mktemp("origin"))


@pytest.fixture
def api() -> Iterator[tuple[FakeGitHub, str]]:
    github = FakeGitHub()
    server, url = github.serve()
    yield github, url
    server.shutdown()
