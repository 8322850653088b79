"""RDS PostgreSQL, the Postgres users inside it (pulumi-postgresql), and DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from platform_policies.framework import Resource, Rule, Stack
from platform_policies.helpers import number, obj, objs, related, strings

RDS = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
TABLE = "aws:dynamodb/table:Table"
PG_ROLE = "postgresql:index/role:Role"
PG_GRANT = "postgresql:index/grant:Grant"
PG_TYPES = (
    PG_ROLE, PG_GRANT, "postgresql:index/grantRole:GrantRole", "postgresql:index/defaultPrivileges:DefaultPrivileges",
    "postgresql:index/database:Database", "postgresql:index/schema:Schema",
)  # fmt: skip
CURRENT_CA = {"rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"}
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SCRAM_PREFIX = "SCRAM-SHA-256$"
NO_VALUE_LOGGING = ("log_parameter_max_length", "log_parameter_max_length_on_error")


def _instance(check: Any) -> Any:
    def run(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
        if resource.get("replicateSourceDb"):
            return
        yield from check(resource, config)

    return run


def _encrypted(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("storageEncrypted") is not True:
        yield f"{r.get('identifier')} stores data unencrypted"
    elif not r.get("kmsKeyId"):
        yield f"{r.get('identifier')} is encrypted with the AWS-managed key, not a customer-managed one"


def _private(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("publiclyAccessible") is True:
        yield f"{r.get('identifier')} is publicly accessible"


def _backups(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    minimum = number(config.get("minimumRetentionDays"), 7)
    kept = number(r.get("backupRetentionPeriod"), 0)
    if kept < minimum:
        yield f"{r.get('identifier')} keeps automated backups {kept} days; at least {minimum}"


def _deletion_protection(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("deletionProtection") is not True:
        yield f"{r.get('identifier')} can be deleted (deletion protection off)"
    if r.get("skipFinalSnapshot") is True or not r.get("finalSnapshotIdentifier"):
        yield f"{r.get('identifier')} would be deleted without a final snapshot"


def _multi_az(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("multiAz") is not True:
        yield f"{r.get('identifier')} runs in one availability zone"


def _hardening(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    ident = r.get("identifier")
    if r.get("iamDatabaseAuthenticationEnabled") is not True:
        yield f"{ident}: IAM database authentication is off"
    if not r.get("monitoringInterval"):
        yield f"{ident}: enhanced monitoring is off"
    if not {"postgresql", "upgrade"} <= set(strings(r.get("enabledCloudwatchLogsExports"))):
        yield f"{ident}: the postgresql and upgrade logs are not exported to CloudWatch"
    if r.get("autoMinorVersionUpgrade") is False:
        yield f"{ident}: automatic minor version upgrades are off"
    if r.get("copyTagsToSnapshot") is not True:
        yield f"{ident}: snapshots do not carry the instance's tags"
    if r.get("performanceInsightsEnabled") and not r.get("performanceInsightsKmsKeyId"):
        yield f"{ident}: Performance Insights data is not encrypted with a customer-managed key"
    if r.get("caCertIdentifier") not in CURRENT_CA:
        yield f"{ident}: CA certificate {r.get('caCertIdentifier')!r} is not a current RDS CA"


def _managed_credentials(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("manageMasterUserPassword") is not True or r.get("password"):
        yield f"{r.get('identifier')}: the master password is in the program instead of managed by RDS in Secrets Manager"
    if str(r.get("username", "")).lower() in {"postgres", "admin", "root", "master"}:
        yield f"{r.get('identifier')}: the master user has a default name ({r.get('username')})"


def _default_port(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if number(r.get("port"), 5432) == 5432:
        yield f"{r.get('identifier')} listens on PostgreSQL's default port 5432"


def _force_ssl(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for instance in stack.of_type(RDS):
        with stack.deciding(instance):
            groups = related(stack, PARAMS, "name", instance, instance.get("parameterGroupName"))
            groups = groups or [
                g
                for g in stack.of_type(PARAMS)
                if g.urn in instance.property_dependencies.get("parameterGroupName", ())
            ]
            forced = any(
                p.get("name") == "rds.force_ssl" and str(p.get("value")) == "1"
                for g in groups
                for p in objs(g.get("parameters"))
            )
            if not forced:
                yield instance.urn, f"{instance.get('identifier')}'s parameter group does not set rds.force_ssl=1"


def _pg_provider_tls(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    mode = str(r.provider.get("sslmode") or r.provider.get("sslMode") or "prefer")
    if mode not in {"require", "verify-ca", "verify-full"}:
        yield f"the postgresql provider connects with sslmode={mode}"
    if str(r.provider.get("superuser", "true")).lower() != "false":
        yield "the postgresql provider assumes a superuser (RDS's master is rds_superuser: set superuser=false)"


def _pg_role(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for flag in ("superuser", "createRole", "createDatabase", "replication", "bypassRowLevelSecurity"):
        if r.get(flag) is True:
            yield f"role {r.get('name')} has {flag}"


def _pg_password(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for key in ("password", "passwordWo"):
        value = r.get(key)
        if value and not str(value).startswith(SCRAM_PREFIX):
            yield f"role {r.get('name')} is given a cleartext {key}, which the server logs with the statement"


def _no_logged_values(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if not str(r.get("family") or "").startswith("postgres"):
        return
    values = {str(p.get("name")): str(p.get("value")) for p in objs(r.get("parameters"))}
    for name in NO_VALUE_LOGGING:
        if values.get(name) != "0":
            yield f"parameter group {r.get('name')} does not set {name}=0: logged statements carry bind values"


def _declared_log_groups(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    groups = {str(g.props.known("name")): g for g in stack.of_type(LOG_GROUP)}
    for instance in stack.of_type(RDS):
        with stack.deciding(instance):
            identifier = instance.get("identifier")
            for log in strings(instance.get("enabledCloudwatchLogsExports")):
                name = f"/aws/rds/instance/{identifier}/{log}"
                group = groups.get(name)
                if group is None:
                    yield instance.urn, f"{identifier} exports {log} to {name}, which the program does not declare"
                elif group.urn not in instance.dependencies:
                    yield instance.urn, f"{identifier} does not depend on {name}: RDS may create it first, unencrypted"
                elif not group.get("kmsKeyId") or not group.get("retentionInDays"):
                    yield group.urn, f"{name} has no customer-managed key or no retention"


def _pg_grant(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    privileges = set(strings(r.get("privileges")))
    if "ALL" in privileges:
        yield f"grant to {r.get('role')} gives ALL privileges"
    if r.get("withGrantOption") is True:
        yield f"grant to {r.get('role')} lets it grant further"
    if r.get("role") == "public" and privileges:
        yield f"grant gives PUBLIC {sorted(privileges)}"


def _table(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if obj(r.get("pointInTimeRecovery")).get("enabled") is not True:
        yield f"table {r.get('name')} has no point-in-time recovery"
    sse = obj(r.get("serverSideEncryption"))
    if sse.get("enabled") is not True or not sse.get("kmsKeyArn"):
        yield f"table {r.get('name')} is not encrypted with a customer-managed key"


def _table_deletion(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("deletionProtectionEnabled") is not True:
        yield f"table {r.get('name')} can be deleted (deletion protection off)"


RULES = [
    Rule(id="rds-storage-encrypted", description="RDS instances encrypt storage with a customer-managed KMS key.",
         why="Card and customer data at rest must be unreadable without the key.",
         fix="Set storage_encrypted=True and kms_key_id to the database's key (replaces the instance).",
         anchors="cdk-nag AwsSolutions-RDS2; FSBP RDS.3", types=(RDS,), check=_instance(_encrypted)),
    Rule(id="rds-not-public", description="RDS instances are not publicly accessible.",
         why="A public endpoint exposes the database to credential attacks from the internet.",
         fix="Set publicly_accessible=False and keep the instance in the isolated db subnets.",
         anchors="FSBP RDS.2; checkov CKV_AWS_17", types=(RDS,), check=_instance(_private)),
    Rule(id="rds-backups", description="RDS instances keep automated backups for the stack's minimum days.",
         why="Backups are the recovery from corruption and mistakes; production needs two weeks.",
         fix="Raise backupRetentionDays in platform:databases.",
         anchors="cdk-nag AwsSolutions-RDS13; FSBP RDS.11", types=(RDS,), check=_instance(_backups),
         config={"minimumRetentionDays": {"type": "integer", "default": 7}}),
    Rule(id="rds-deletion-protection", description="RDS instances are deletion-protected and keep a final snapshot.",
         why="A deleted production database is the worst outage there is.",
         fix="Set deletion_protection=True and a final_snapshot_identifier (the prd profile does).",
         anchors="cdk-nag AwsSolutions-RDS10; FSBP RDS.8", types=(RDS,), check=_instance(_deletion_protection)),
    Rule(id="rds-multi-az", description="RDS instances are multi-AZ.",
         why="A single-AZ instance is down for the length of an AZ failure or a host replacement.",
         fix="Set multi_az=True (the prd profile does).",
         anchors="cdk-nag AwsSolutions-RDS3; FSBP RDS.5", types=(RDS,), check=_instance(_multi_az)),
    Rule(id="rds-hardening", description="RDS instances use IAM auth, enhanced monitoring, log exports, minor "
         "upgrades, tagged snapshots, encrypted Performance Insights and a current CA.",
         why="Each is a Security Hub control: authentication, visibility, patching and auditability.",
         fix="Use the Database component, which sets all of them.",
         anchors="FSBP RDS.6, RDS.9, RDS.10, RDS.13, RDS.17, RDS.36; checkov CKV_AWS_211, CKV_AWS_354",
         types=(RDS,), check=_instance(_hardening)),
    Rule(id="rds-managed-credentials", description="RDS master passwords are managed by RDS; the master user "
         "name is not a default.", why="A password in the program ends up in state and history; default names are "
         "guessed first.", fix="Set manage_master_user_password=True without password, and a non-default username.",
         anchors="FSBP RDS.25", types=(RDS,), check=_instance(_managed_credentials)),
    Rule(id="rds-non-default-port", description="RDS instances do not listen on the engine's default port.",
         why="Scanners probe default ports first.", fix="Set a non-default port in platform:databases.",
         anchors="cdk-nag AwsSolutions-RDS11; FSBP RDS.23", severity=Severity.LOW, types=(RDS,),
         check=_instance(_default_port)),
    Rule(id="rds-force-ssl", description="RDS instances use a parameter group with rds.force_ssl=1.",
         why="Without it a client can connect in plain text and expose credentials and data.",
         fix="Use a parameter group that sets rds.force_ssl=1 (the Database component does).",
         anchors="Security Hub RDS.38; checkov CKV2_AWS_69", types=(RDS, PARAMS), stack_check=_force_ssl),
    Rule(id="postgres-provider-tls", description="The postgresql provider connects with TLS and does not assume a "
         "superuser.", why="User passwords are sent when roles are managed; RDS masters are not superusers.",
         fix="Give postgresql.Provider sslmode='require' (or verify-full) and superuser=False.",
         anchors="platform", types=PG_TYPES, check=_pg_provider_tls),
    Rule(id="postgres-role-least-privilege", description="No Postgres role is superuser or may create roles, "
         "databases or replicate.", why="Application roles with those rights can escalate past every grant.",
         fix="Grant only table and sequence privileges (PostgresUsers does).", anchors="platform", types=(PG_ROLE,),
         check=_pg_role),
    Rule(id="postgres-password-verifier", description="Postgres roles get a SCRAM-SHA-256 verifier, never a "
         "cleartext password.", why="The provider writes the password into the statement text, which the server "
         "logs (DDL logging, a retried deploy's failing statement) and CloudWatch keeps.",
         fix="Give the role platform_lib.scram.verifier(...) of the password (PostgresUsers does).",
         anchors="PCI DSS v4 8.3.2, 10.3.2; platform", types=(PG_ROLE,), check=_pg_password),
    Rule(id="rds-logs-no-parameter-values", description="PostgreSQL parameter groups log no bind-parameter "
         "values (log_parameter_max_length and ..._on_error 0).", why="A slow or failing statement is logged "
         "with its parameters in full: card numbers, tokens, passwords.",
         fix="Set both parameters to 0 (components/database.py parameter_settings).",
         anchors="PCI DSS v4 3.3.1, 3.5.1", types=(PARAMS,), check=_no_logged_values),
    Rule(id="rds-log-groups-declared", description="Every log an RDS instance exports goes to a log group the "
         "program declares first, with a customer-managed key and a retention.", why="Otherwise RDS creates "
         "the group itself, unencrypted and kept forever, outside the program's control.",
         fix="Declare /aws/rds/instance/<id>/<log> and make the instance depend on it (the Database component does).",
         anchors="PCI DSS v4 10.3.2, 10.5.1; checkov CKV_AWS_158", types=(RDS, LOG_GROUP), stack_check=_declared_log_groups),
    Rule(id="postgres-grants-scoped", description="Postgres grants give no ALL, no grant option, nothing to PUBLIC.",
         why="Broad grants make every role as powerful as the owner.", fix="List the privileges the role kind needs.",
         anchors="platform", types=(PG_GRANT,), check=_pg_grant),
    Rule(id="dynamodb-recovery-and-encryption", description="DynamoDB tables have point-in-time recovery and a "
         "customer-managed key.", why="A bad write or a bug must be recoverable; stored mail metadata is customer data.",
         fix="Enable point_in_time_recovery and server_side_encryption with the area's key.",
         anchors="cdk-nag AwsSolutions-DDB3; FSBP DynamoDB.2; checkov CKV_AWS_119", types=(TABLE,), check=_table),
    Rule(id="dynamodb-deletion-protection", description="DynamoDB tables are deletion-protected.",
         why="Deleting the table loses the de-duplication state and its history.",
         fix="Set deletion_protection_enabled=True (the prd profile does).", anchors="FSBP DynamoDB.6",
         level=EnforcementLevel.MANDATORY, types=(TABLE,), check=_table_deletion),
]  # fmt: skip
