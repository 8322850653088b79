"""The policy pack: only builds the PolicyPack (which serves the Analyzer interface and never returns).

The rules live in `platform_policies/`; the repository root is put on the path so that rules can
share the platform's dependency-free validators (schedule expressions, SES regions).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from platform_policies import PACK_NAME, build_policies  # noqa: E402
from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.MANDATORY)
