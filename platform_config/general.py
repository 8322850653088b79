"""`platform:general`: who owns the stack and which environment and account it is."""

from __future__ import annotations

from pydantic import Field

from platform_config.base import ConfigModel
from platform_config.profiles import Environment
from platform_lib.aws_limits import TAG_VALUE_MAX
from platform_lib.github import REPOSITORY_PATTERN


class GeneralConfig(ConfigModel):
    environment: Environment
    """`stg` or `prd`; must match the stack name, so a copied stack file cannot target the wrong account."""
    account_id: str = Field(pattern=r"^\d{12}$")
    """The AWS account of this environment (12 digits, quoted in YAML); also pinned by aws:allowedAccountIds."""
    owner: str = Field(min_length=1, max_length=TAG_VALUE_MAX, pattern=r"^[a-z0-9-]+$")
    """The owning team, tagged on every resource (`Owner`) and on every monitor (`team:`)."""
    repository: str = Field(pattern=REPOSITORY_PATTERN, max_length=TAG_VALUE_MAX)
    """`OWNER/REPO` (or GitHub's immutable `OWNER@ID/REPO@ID`) of this program, tagged on resources."""
