"""Regions where SES receives mail: one list, read by the config checks and by the policy pack."""

from __future__ import annotations

SES_RECEIVING_REGIONS: frozenset[str] = frozenset(
    {
        # The original three, the seven added in September 2023, and Jakarta (listed January 2024).
        "us-east-1", "us-west-2", "eu-west-1",
        "us-east-2", "ca-central-1", "eu-central-1", "eu-west-2", "ap-northeast-1", "ap-southeast-1", "ap-southeast-2",
        "ap-southeast-3",
    }
)  # fmt: skip
"""AWS adds regions: check the "Email receiving endpoints" table of the SES documentation before extending it."""
