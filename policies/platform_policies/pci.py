"""Which PCI DSS v4.0.1 requirements the pack's rules serve, and which controls lie outside this repository.

Read by `make compliance STACK=<stack>` (tools/compliance.py), which puts each rule's verdict on the
stack under the requirements it serves. A rule serves a requirement when a violation of the rule
would be a gap in that requirement for the resources the rule reads; a requirement the platform
addresses only in part says what is missing (`gap`). Every rule is listed under a requirement or
under `HYGIENE` (a test checks), so a new rule cannot be left out of the report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    rules: tuple[str, ...]
    gap: str = ""
    """What this repository does not yet declare for the requirement (empty: nothing known)."""


@dataclass(frozen=True)
class OutOfScope:
    id: str
    title: str
    where: str
    """Who or what meets it, for the assessor to check there."""


REQUIREMENTS = (
    Requirement("1.2.5", "Only services, protocols and ports that are needed are allowed, and they are documented",
                ("sg-described", "vpc-default-sg-closed")),
    Requirement("1.3.1", "Inbound traffic to the cardholder data environment is restricted to what is necessary",
                ("sg-no-world-ingress", "rds-not-public", "subnet-no-public-ip", "ecs-service-private")),
    Requirement("1.3.2", "Outbound traffic from the cardholder data environment is restricted to what is necessary",
                ("vpc-egress-filtered", "vpc-endpoint-policy-scoped"), gap="Internet egress passes a Network Firewall "
                "allow-list by name and AWS services are reached through scoped VPC endpoints, but DNS queries to the "
                "VPC resolver are not filtered (no Route 53 Resolver DNS Firewall yet), a channel out of the VPC."),
    Requirement("1.4.2", "Inbound traffic from untrusted networks to trusted networks is restricted",
                ("elb-internal-apps-private", "elb-web-firewall", "s3-public-access-block", "s3-policy-not-public",
                 "s3-acls-disabled", "s3-no-public-acl", "resource-policies-scoped", "lambda-permission-scoped",
                 "lambda-url-authenticated")),
    Requirement("2.2.1", "Configuration standards address known weaknesses (tasks isolated from the host)",
                ("ecs-task-awsvpc", "ecs-task-no-host-namespaces", "ecs-container-unprivileged")),
    Requirement("2.2.2", "Vendor default accounts are managed (renamed, or their passwords changed and managed)",
                ("rds-managed-credentials",)),
    Requirement("2.2.7", "All non-console administrative access is encrypted with strong cryptography",
                ("postgres-provider-tls", "rds-force-ssl")),
    Requirement("3.3.1", "Sensitive authentication data is not kept after authorization (not in logs either)",
                ("rds-logs-no-parameter-values",)),
    Requirement("3.5.1", "PAN is rendered unreadable anywhere it is stored",
                ("rds-storage-encrypted", "rds-logs-no-parameter-values", "s3-encryption",
                 "dynamodb-recovery-and-encryption", "sqs-encrypted", "sns-encrypted", "secrets-customer-key",
                 "rds-log-groups-declared")),
    Requirement("3.6.1", "Keys that protect stored account data are protected against disclosure and misuse",
                ("kms-key-hygiene", "kms-key-policy-scoped"), gap="Every key is used only through named services "
                "or by named roles, but use through a service is open to any role of the account whose IAM policy "
                "allows it (the service's own permission, such as secretsmanager:GetSecretValue on the secret, is "
                "the second gate): the key policies do not yet name those roles."),
    Requirement("3.7.4", "Keys are changed at the end of their cryptoperiod", ("kms-key-hygiene",)),
    Requirement("4.2.1", "Strong cryptography protects account data over open, public networks",
                ("elb-tls", "s3-tls-only", "sqs-tls-only", "rds-force-ssl", "ses-receipt-rule-safe")),
    Requirement("5.2.1", "An anti-malware solution covers the components at risk (here: inbound mail)",
                ("ses-receipt-rule-safe",)),
    Requirement("6.3.1", "Security vulnerabilities are identified and managed", ("ecr-repository",)),
    Requirement("6.3.3", "Components are protected from known vulnerabilities by installing patches",
                ("lambda-function", "rds-hardening", "ecs-service-private")),
    Requirement("6.4.2", "Public-facing web applications are protected by an automated solution that detects "
                "and prevents attacks", ("elb-web-firewall", "elb-hardening")),
    Requirement("6.5.1", "Changes to system components follow a change procedure (what runs is what was reviewed)",
                ("ecs-images-pinned", "ecs-deployment-rollback")),
    Requirement("7.2.1", "Access is defined by job function and least privilege",
                ("iam-least-privilege", "iam-passrole-scoped", "iam-no-broad-managed-policies",
                 "postgres-role-least-privilege", "ecs-task-separate-roles")),
    Requirement("7.2.2", "Access is assigned on least privilege; system and application accounts only what they need",
                ("iam-trust-scoped", "postgres-grants-scoped", "postgres-role-least-privilege")),
    Requirement("8.3.2", "Strong cryptography renders authentication factors unreadable in transmission and storage",
                ("postgres-password-verifier", "secrets-customer-key", "no-plain-secrets")),
    Requirement("8.6.2", "Passwords of system and application accounts are not hard-coded",
                ("no-plain-secrets", "rds-managed-credentials")),
    Requirement("8.6.3", "Passwords of system and application accounts are protected against misuse (changed "
                "periodically)", (), gap="Database user secrets are not rotated yet (issue \"Card-data "
                "protection in the workload\"); the RDS master password is rotated by RDS."),
    Requirement("10.2.1", "Audit logs are enabled and active for all system components",
                ("vpc-flow-logs", "ecs-cluster-observable", "ecs-container-logging", "step-functions-observable", "elb-hardening",
                 "s3-access-logging", "rds-hardening", "rds-log-groups-declared", "elb-web-firewall")),
    Requirement("10.3.2", "Audit log files are protected against modification",
                ("rds-log-groups-declared", "postgres-password-verifier", "s3-versioning")),
    Requirement("10.5.1", "Audit log history is kept at least 12 months (prd: 365 days)", ("log-retention",)),
    Requirement("10.7.2", "Failures of critical security control systems are detected, alerted and addressed",
                ("monitor-coverage", "monitor-routing", "pagerduty-service-escalates", "sqs-dead-letter",
                 "lambda-async-failure-destination", "schedules-valid")),
    Requirement("12.10.1", "An incident response plan exists and can be activated at once (on-call paging)",
                ("pagerduty-service-escalates", "monitor-routing")),
)  # fmt: skip

HYGIENE = (
    "dynamodb-deletion-protection", "ecr-lifecycle", "ecs-readonly-root", "elb-deletion-protection",
    "rds-backups", "rds-deletion-protection", "rds-multi-az", "rds-non-default-port", "required-tags",
    "s3-lifecycle", "ses-receiving-region", "sqs-event-source-partial-failures", "sqs-visibility-covers-consumer",
    "stateful-protected",
)  # fmt: skip
"""Rules for availability, recovery, cost and operability: no PCI DSS requirement of their own."""

OUT_OF_SCOPE = (
    OutOfScope("8.4", "Multi-factor authentication for access into the cardholder data environment",
               "the AWS organization's IAM Identity Center and the company's identity provider"),
    OutOfScope("9", "Physical access to cardholder data", "AWS (its PCI DSS Attestation of Compliance)"),
    OutOfScope("10.4.1", "Audit logs are reviewed at least daily", "the security team's log review process"),
    OutOfScope("10.6", "Time synchronization", "AWS (Amazon Time Sync Service on every host)"),
    OutOfScope("11.3", "Internal and external vulnerability scans (quarterly, ASV)", "the security team and the ASV"),
    OutOfScope("11.4", "Penetration testing", "the security team and its testers"),
    OutOfScope("12", "Information security policies, people, training, third-party service providers",
               "the company's security program"),
    OutOfScope("5.2 (workstations)", "Anti-malware on people's machines", "IT (endpoint management)"),
)  # fmt: skip
