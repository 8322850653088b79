"""Bootstrap of one account (stack `stg` in the staging account, `prd` in production).

Creates what the platform stack needs before its first `pulumi up`: the S3 bucket holding Pulumi
state (versioned, KMS-encrypted, private, TLS-only), the KMS key of the stack's `awskms://` secrets
provider (only the deploy role and SREs may decrypt in prd; staging adds preview and developers), and
the GitHub OIDC provider and roles (components/access.py). Its own state is local to the SRE who
applies it and is committed nowhere; see README "Bootstrapping an account".
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
from pulumi.runtime import config as runtime_config

from components.bootstrap import Bootstrap
from platform_config.bootstrap import load_bootstrap_config

settings = load_bootstrap_config(runtime_config.CONFIG.get(), stack=pulumi.get_stack())
# The on-call endpoint of the security alarms: a secret (`pulumi config set --secret securityAlarmEndpoint`).
alarm_endpoint = pulumi.Config().get_secret("securityAlarmEndpoint")
bootstrap = Bootstrap("bootstrap", settings, alarm_endpoint)
pulumi.export("stateBucket", bootstrap.state_bucket_name)
pulumi.export("backendUrl", bootstrap.backend_url)
pulumi.export("secretsProvider", bootstrap.secrets_provider)
pulumi.export("bootstrapSecretsProvider", bootstrap.bootstrap_secrets_provider)
pulumi.export("bootstrapStateBucket", bootstrap.bootstrap_state_bucket_name)
pulumi.export("auditBucket", bootstrap.baseline.audit_bucket_name)
pulumi.export("securityAlarmTopic", bootstrap.baseline.alarm_topic_arn)
pulumi.export("roles", {key: role.arn for key, role in bootstrap.access.roles.items()})
