"""The policy pack: only builds the PolicyPack (which serves the Analyzer interface and never returns).

The rules live in `platform_policies/` (next to this file, so on the path of the pack's process);
the facts they share with the program (schedule expressions, SES regions, secret-name patterns,
stateful types) come from `platform_lib`, installed into the pack's virtualenv as a package
(`make policy-venv` / `make runtime`).
"""

from platform_policies import PACK_NAME, build_policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.MANDATORY)
