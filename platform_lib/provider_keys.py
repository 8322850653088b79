"""Config keys the stack file may set outside the `platform:` namespace.

`AWS_PROVIDER_KEYS` is the AWS provider's configuration schema: the `__config__.get('...')` keys of
`pulumi_aws/config/vars.py` in pulumi-aws 7.51.1 (taken 2026-12-06; `tests/test_stack_file.py`
compares it with the installed SDK, so an upgrade that adds a key fails until this list has it).
A key the provider does not know is ignored by it without a word, so `aws:regoin` would deploy to
the default region: the config check refuses it instead.
"""

from __future__ import annotations

AWS_PROVIDER_KEYS: frozenset[str] = frozenset({
    "accessKey", "allowedAccountIds", "assumeRoleWithWebIdentity", "assumeRoles", "customCaBundle",
    "defaultTags", "ec2MetadataServiceEndpoint", "ec2MetadataServiceEndpointMode", "endpoints",
    "forbiddenAccountIds", "httpProxy", "httpsProxy", "ignoreTags", "insecure", "maxRetries", "noProxy",
    "profile", "region", "retryMode", "s3UsEast1RegionalEndpoint", "s3UsePathStyle", "secretKey",
    "sharedConfigFiles", "sharedCredentialsFiles", "skipCredentialsValidation", "skipMetadataApiCheck",
    "skipRegionValidation", "skipRequestingAccountId", "stsRegion", "tagPolicyCompliance", "token",
    "tokenBucketRateLimiterCapacity", "useDualstackEndpoint", "useFipsEndpoint", "userAgents",
})  # fmt: skip

NAMESPACES: frozenset[str] = frozenset({"platform", "aws", "pulumi"})
"""The program's own, the AWS provider's, and the engine's (`pulumi:disable-default-providers`, ...).
The other providers (postgresql, datadog, pagerduty) are configured in code, never by the stack file."""
