"""Which environment-variable names hold secrets: one pattern, for the config checks and the policy pack.

A name that matches belongs in `secrets` (Secrets Manager, resolved by ECS at start) and never in a
plain `environment`, where it would be readable by anyone who can describe the task definition.
"""

from __future__ import annotations

import re

SECRET_LIKE = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_KEY)", re.IGNORECASE)
