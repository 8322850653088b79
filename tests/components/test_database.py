"""Databases on the mock runtime: the instance, its protection and encryption, and the Postgres users."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.database import Database, DatabaseArgs
from platform_config.context import StackContext
from platform_lib.scram import verifier_from_base64_salt
from tests.conftest import assert_rejected, config_of, platform_config, policy_of, run_component
from tools.mock_runtime import ProgramRun, RecordedResource

DATABASES = ("app", "card")


def instance(run: ProgramRun, db: str) -> RecordedResource:
    return run.named(f"{db}-instance")


def test_prd_databases_are_multi_az_protected_and_keep_a_final_snapshot(prd: ProgramRun) -> None:
    for db in DATABASES:
        inputs = instance(prd, db).inputs
        assert inputs["multiAz"] is True
        assert inputs["deletionProtection"] is True
        assert inputs["skipFinalSnapshot"] is False
        assert inputs["finalSnapshotIdentifier"] == f"platform-prd-{db}-final"
        assert inputs["backupRetentionPeriod"] >= 14
        assert instance(prd, db).protect is True
        assert prd.named(f"{db}-key").protect is True


def test_stg_databases_are_single_az_and_unprotected(stg: ProgramRun) -> None:
    for db in DATABASES:
        inputs = instance(stg, db).inputs
        assert inputs["multiAz"] is False
        assert inputs["deletionProtection"] is False
        assert instance(stg, db).protect is False
        # Even staging keeps a final snapshot: destroying a database should never lose its data silently.
        assert inputs["finalSnapshotIdentifier"] == f"platform-stg-{db}-final"


def test_storage_secrets_and_insights_are_encrypted_with_the_components_key(platform: ProgramRun) -> None:
    for db in DATABASES:
        inputs = instance(platform, db).inputs
        key_arn = f"arn:aws:kms:ap-northeast-1:{_account(platform)}:key/mock-{db}-key"
        assert inputs["storageEncrypted"] is True
        assert inputs["kmsKeyId"] == key_arn
        assert inputs["masterUserSecretKmsKeyId"] == key_arn
        assert inputs["performanceInsightsKmsKeyId"] == key_arn
        assert platform.named(f"{db}-key").inputs["enableKeyRotation"] is True
        for secret in platform.of_type("aws:secretsmanager/secret:Secret"):
            if secret.name.startswith(f"{db}-pg-"):
                assert secret.inputs["kmsKeyId"] == key_arn


def test_instances_are_private_and_hardened(platform: ProgramRun) -> None:
    for db in DATABASES:
        inputs = instance(platform, db).inputs
        assert inputs["publiclyAccessible"] is False
        assert inputs["manageMasterUserPassword"] is True
        assert "password" not in inputs
        assert inputs["username"] not in {"postgres", "admin", "root"}
        assert inputs["iamDatabaseAuthenticationEnabled"] is True
        assert inputs["engine"] == "postgres"
        assert inputs["engineVersion"].startswith("16")
        assert inputs["storageType"] == "gp3"
        assert inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
        assert inputs["autoMinorVersionUpgrade"] is True
        assert inputs["copyTagsToSnapshot"] is True
        assert inputs["performanceInsightsEnabled"] is True
        assert inputs["monitoringInterval"] == 60
        assert inputs["monitoringRoleArn"].endswith(f"role/{db}-monitoring-role")
        assert inputs["caCertIdentifier"] == "rds-ca-rsa2048-g1"
        assert inputs["dbSubnetGroupName"] == f"platform-{platform.stack}-{db}"


def test_subnet_group_uses_the_isolated_db_subnets(platform: ProgramRun) -> None:
    for db in DATABASES:
        group = platform.named(f"{db}-subnets")
        assert sorted(group.inputs["subnetIds"]) == sorted(platform.outputs["dbSubnetIds"])


def test_parameter_group_forces_tls_and_logs(platform: ProgramRun) -> None:
    for db in DATABASES:
        group = platform.named(f"{db}-params")
        assert group.inputs["family"] == "postgres16"
        parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
        assert parameters["rds.force_ssl"] == "1"
        assert parameters["log_connections"] == "1"
        assert parameters["log_min_duration_statement"] == "1000"
        assert instance(platform, db).inputs["parameterGroupName"] == f"platform-{platform.stack}-{db}"


def test_no_bind_parameter_value_is_logged_and_passwords_are_scram(platform: ProgramRun) -> None:
    for key in config_of(platform).databases:
        parameters = {p["name"]: p["value"] for p in platform.named(f"{key}-params").inputs["parameters"]}
        assert parameters["log_parameter_max_length"] == "0"
        assert parameters["log_parameter_max_length_on_error"] == "0"
        assert parameters["password_encryption"] == "scram-sha-256"


def test_roles_get_a_scram_verifier_of_the_stored_password_never_the_password(platform: ProgramRun) -> None:
    for key, settings in config_of(platform).databases.items():
        for user in settings.users:
            password = json.loads(platform.named(f"{key}-pg-{user.name}-secret-value").inputs["secretString"])[
                "password"
            ]
            sent = platform.named(f"{key}-pg-role-{user.name}").inputs["password"]
            salt = sent.split("$")[1].split(":")[1]
            assert sent == verifier_from_base64_salt(password, salt)
            assert password not in sent


def test_exported_logs_go_to_declared_encrypted_groups_kept_the_environments_retention(platform: ProgramRun) -> None:
    retention = config_of(platform).profile.log_retention_days
    for key in config_of(platform).databases:
        db = instance(platform, key)
        identifier = db.inputs["identifier"]
        key_arn = f"arn:aws:kms:ap-northeast-1:{_account(platform)}:key/mock-{key}-key"
        groups = {g.inputs["name"]: g for g in platform.of_type("aws:cloudwatch/logGroup:LogGroup")}
        for log in db.inputs["enabledCloudwatchLogsExports"]:
            group = groups[f"/aws/rds/instance/{identifier}/{log}"]
            assert group.inputs["kmsKeyId"] == key_arn
            assert group.inputs["retentionInDays"] == retention
            assert group.urn in db.dependencies, "RDS would create the group itself (no key, kept forever)"
        (logs,) = [
            s for s in policy_of(platform.named(f"{key}-key").inputs)["Statement"]
            if s.get("Principal", {}).get("Service", "").startswith("logs.")
        ]  # fmt: skip
        prefix = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
        assert prefix.endswith(f":log-group:/aws/rds/instance/{identifier}/*")


SCHEMA_GRANT_TYPES = {"postgresql:index/grant:Grant", "postgresql:index/defaultPrivileges:DefaultPrivileges"}


def test_grants_on_one_schema_never_run_at_the_same_time(platform: ProgramRun) -> None:
    """The provider locks the grantee, not the schema: two grants on one schema in parallel can fail with
    `tuple concurrently updated`. Every two of them must be ordered by dependencies."""
    by_urn = {r.urn: r for r in platform.resources}

    def ancestors(urn: str, seen: set[str]) -> set[str]:
        for dependency in by_urn[urn].dependencies:
            if dependency not in seen and dependency in by_urn:
                seen.add(dependency)
                ancestors(dependency, seen)
        return seen

    on_schema: dict[tuple[str, str, str], list[str]] = {}
    for resource in platform.resources:
        if resource.type in SCHEMA_GRANT_TYPES and resource.inputs.get("schema"):
            place = (resource.provider, resource.inputs["database"], resource.inputs["schema"])
            on_schema.setdefault(place, []).append(resource.urn)
    assert on_schema
    for place, urns in on_schema.items():
        for i, first in enumerate(urns):
            for second in urns[i + 1 :]:
                assert first in ancestors(second, set()) or second in ancestors(first, set()), (place, first, second)


def test_enhanced_monitoring_role_trusts_rds_monitoring(platform: ProgramRun) -> None:
    trust = policy_of(platform.named("app-monitoring-role").inputs, "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    attachment = platform.named("app-monitoring-policy")
    assert attachment.inputs["policyArn"].endswith("service-role/AmazonRDSEnhancedMonitoringRole")


def test_security_group_has_no_inline_rules(platform: ProgramRun) -> None:
    for db in DATABASES:
        group = platform.named(f"{db}-sg")
        assert "ingress" not in group.inputs
        assert "egress" not in group.inputs


def test_postgres_provider_uses_tls_and_is_not_superuser(platform: ProgramRun) -> None:
    for db in DATABASES:
        provider = platform.named(f"{db}-pg-provider")
        assert provider.type == "pulumi:providers:postgresql"
        assert provider.inputs["sslmode"] == "require"
        assert provider.inputs["superuser"] == "false"
        assert provider.inputs["host"] == f"platform-{platform.stack}-{db}.cxmockdb.ap-northeast-1.rds.amazonaws.com"
        assert provider.inputs["username"] == "platform_admin"
        assert provider.inputs["connectTimeout"] == "15"
        assert "password" in provider.secret_inputs
        pg_resources = [
            r for r in platform.resources if r.type.startswith("postgresql:index") and r.name.startswith(f"{db}-pg-")
        ]
        assert pg_resources
        assert {r.provider.split("::")[-2] for r in pg_resources} == {f"{db}-pg-provider"}


# The specification, stated here rather than read from the component.
TABLES = {"readwrite": ("DELETE", "INSERT", "SELECT", "UPDATE"), "readonly": ("SELECT",)}
SEQUENCES = {"readwrite": ("SELECT", "USAGE")}


def _expected_grants(config: Any, db: str) -> set[tuple[str, str, str, str, tuple[str, ...]]]:
    """(role, object type, schema, kind, privileges) for every grant and default privilege config implies."""
    settings = config.databases[db]
    expected: set[tuple[str, str, str, str, tuple[str, ...]]] = {
        ("public", "database", "", "grant", ()),
        ("public", "schema", "public", "grant", ()),
    }
    for user in settings.users:
        if user.role == "owner":
            continue
        expected.add((user.name, "database", "", "grant", ("CONNECT",)))
        for schema in user.schemas:
            expected.add((user.name, "schema", schema, "grant", ("USAGE",)))
            expected.add((user.name, "table", schema, "grant", TABLES[user.role]))
            expected.add((user.name, "table", schema, "default", TABLES[user.role]))
            if user.role in SEQUENCES:
                expected.add((user.name, "sequence", schema, "grant", SEQUENCES[user.role]))
                expected.add((user.name, "sequence", schema, "default", SEQUENCES[user.role]))
    return expected


def test_each_role_has_exactly_the_privileges_of_its_kind(platform: ProgramRun) -> None:
    config = config_of(platform)
    for db in DATABASES:
        found = set()
        for resource in platform.resources:
            if not resource.name.startswith(f"{db}-pg-"):
                continue
            if resource.type == "postgresql:index/grant:Grant":
                kind = "grant"
            elif resource.type == "postgresql:index/defaultPrivileges:DefaultPrivileges":
                kind = "default"
                assert resource.inputs["owner"] == config.databases[db].owner().name
            else:
                continue
            i = resource.inputs
            found.add((i["role"], i["objectType"], i.get("schema", ""), kind, tuple(sorted(i["privileges"]))))
        assert found == _expected_grants(config, db)


def test_readonly_users_cannot_write(platform: ProgramRun) -> None:
    analyst_grants = [r for r in platform.of_type("postgresql:index/grant:Grant") if r.inputs["role"] == "analyst"]
    assert analyst_grants
    for grant in analyst_grants:
        assert not {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "CREATE"} & set(grant.inputs["privileges"])


def test_no_role_is_superuser_or_can_create_roles(platform: ProgramRun) -> None:
    roles = platform.of_type("postgresql:index/role:Role")
    assert len(roles) == sum(len(database.users) for database in config_of(platform).databases.values())
    for role in roles:
        assert role.inputs["superuser"] is False
        assert role.inputs["createRole"] is False
        assert role.inputs["createDatabase"] is False
        assert role.inputs["login"] is True


def test_database_is_owned_by_the_migrator_which_the_master_belongs_to(platform: ProgramRun) -> None:
    for db, owner in (("app", "app_migrator"), ("card", "card_migrator")):
        database = platform.named(f"{db}-pg-database")
        assert database.inputs["owner"] == owner
        membership = platform.named(f"{db}-pg-master-in-{owner}")
        assert membership.inputs == {"grantRole": owner, "role": "platform_admin"}
        assert membership.urn in database.dependencies
        for schema in platform.of_type("postgresql:index/schema:Schema"):
            if schema.name.startswith(f"{db}-pg-"):
                assert schema.inputs["owner"] == owner


def _all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _all_strings(v)]
    return []


def test_passwords_are_secret_and_never_in_plain_inputs(platform: ProgramRun) -> None:
    passwords = platform.of_type("random:index/randomPassword:RandomPassword")
    assert len(passwords) == sum(len(database.users) for database in config_of(platform).databases.values())
    for password in passwords:
        assert password.inputs["length"] >= 32
        assert password.inputs["special"] is False
    for resource in platform.resources:
        plain = {k: v for k, v in resource.inputs.items() if k not in resource.secret_inputs}
        leaked = [s for s in _all_strings(plain) if "OfflinePassword" in s or "offline-master-password" in s]
        assert leaked == [], f"{resource.name} carries a password in plain inputs"
    for role in platform.of_type("postgresql:index/role:Role"):
        assert role.secret_inputs == ["password"]


def test_user_secret_holds_the_connection_as_json(platform: ProgramRun) -> None:
    version = platform.named("card-pg-api-secret-value")
    assert version.secret_inputs == ["secretString"]
    document = json.loads(version.inputs["secretString"])
    assert document == {
        "engine": "postgres",
        "host": f"platform-{platform.stack}-card.cxmockdb.ap-northeast-1.rds.amazonaws.com",
        "port": 5432,
        "dbname": "card",
        "username": "api",
        "password": "OfflinePasswordcardpgapipassword",
    }
    secret = platform.named("card-pg-api-secret")
    assert secret.inputs["name"] == f"platform/{platform.stack}/db/card/api"


def test_database_secrets_are_exported_per_user(platform: ProgramRun) -> None:
    exported = platform.outputs["databases"]
    databases = config_of(platform).databases
    assert sorted(exported) == sorted(databases)
    for key, settings in databases.items():
        assert sorted(exported[key]["secrets"]) == sorted(user.name for user in settings.users)


def _account(run: ProgramRun) -> str:
    return {"stg": "210987654321", "prd": "123456789012"}[run.stack]


def _build_database(grant: Callable[[Database, aws.iam.Role], None]) -> ProgramRun:
    config = platform_config("stg")

    def build() -> None:
        ctx = StackContext.from_config(config)
        db = Database(
            "card",
            DatabaseArgs(context=ctx, settings=config.databases["card"], vpc_id="vpc-1", db_subnet_ids=["s-1", "s-2"]),
            opts=pulumi.ResourceOptions(),
        )
        role = aws.iam.Role("consumer", assume_role_policy="{}")
        grant(db, role)

    return run_component(build)


def test_a_connected_client_gets_only_the_database_port_from_its_security_group() -> None:
    from components.connections import Endpoint, connect

    def connect_client(db: Database, role: aws.iam.Role) -> None:
        client = SimpleNamespace(
            endpoint=Endpoint(name="api", rule_prefix="api", security_group_id="sg-api", owner=role)
        )
        connect(client, db)

    run = _build_database(connect_client)
    (rule,) = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rule.inputs == {
        "description": "PostgreSQL from api",
        "fromPort": 5432,
        "ipProtocol": "tcp",
        "referencedSecurityGroupId": "sg-api",
        "securityGroupId": "card-sg-id",
        "toPort": 5432,
    }


def test_grant_read_secret_reads_exactly_that_secret_and_decrypts_through_secrets_manager() -> None:
    run = _build_database(lambda db, role: (db.grant_read_secret("api", role, "api"), None)[1])
    policy = policy_of(run.named("card-api-secret-read-api").inputs)
    read, decrypt = policy["Statement"]
    assert read["Action"] == ["secretsmanager:GetSecretValue"]
    assert read["Resource"] == [
        "arn:aws:secretsmanager:ap-northeast-1:210987654321:secret:platform/stg/db/card/api-Mock01"
    ]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Resource"] == ["arn:aws:kms:ap-northeast-1:210987654321:key/mock-card-key"]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.ap-northeast-1.amazonaws.com"}}


def test_secret_ref_of_an_unknown_user_fails() -> None:
    with pytest.raises(KeyError):
        _build_database(lambda db, _: (db.secret_ref("nobody"), None)[1])


def test_alert_specs_cover_the_instance(platform: ProgramRun) -> None:
    from platform_config.alert_catalog import database_alerts

    config = config_of(platform)
    specs = database_alerts("card", f"platform-{platform.stack}-card", config.databases["card"])
    keys = {spec.key for spec in specs}
    assert keys >= {
        f"database.card.{k}"
        for k in ("cpu", "free-storage", "freeable-memory", "connections", "read-latency", "write-latency")
    }
    cpu = next(s for s in specs if s.key == "database.card.cpu")
    assert (
        cpu.query()
        == f"avg(last_10m):avg:aws.rds.cpuutilization{{dbinstanceidentifier:platform-{platform.stack}-card}} > 90"
    )
    storage = next(s for s in specs if s.key == "database.card.free-storage")
    assert storage.comparator == "<"
    assert storage.critical == pytest.approx(0.1 * config.databases["card"].allocated_storage_gb * 1024**3)
    assert all(spec.resource == f"platform-{platform.stack}-card" and spec.runbook for spec in specs)


def _users(db: dict[str, Any]) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = db["users"]
    return users


BAD_DATABASES = [
    pytest.param(
        lambda d: _users(d["card"])[1].update(role="admin"),
        "platform:databases.card.users[1].role: must be 'owner', 'readwrite' or 'readonly' (got \"admin\")",
        id="unknown-role-kind",
    ),
    pytest.param(
        lambda d: _users(d["card"]).append({"name": "api", "role": "readonly", "schemas": ["clearing"]}),
        "platform:databases.card.users[5].name: user 'api' is defined twice (also users[1])",
        id="user-defined-twice",
    ),
    pytest.param(
        lambda d: _users(d["app"])[1].update(schemas=["billing"]),
        "platform:databases.app.users[1].schemas: unknown schema 'billing'; "
        "platform:databases.app.schemas has: app, public",
        id="unknown-schema",
    ),
    pytest.param(
        lambda d: d["app"].update(engineVersion="15.4"),
        "platform:databases.app.engineVersion: '15.4' is outside PostgreSQL 16.x",
        id="engine-outside-16",
    ),
    pytest.param(
        lambda d: d["app"].update(maxAllocatedStorageGb=100),
        "platform:databases.app.maxAllocatedStorageGb: 100 is below allocatedStorageGb 200",
        id="max-storage-below-allocation",
    ),
    pytest.param(
        lambda d: d["card"].update(backupRetentionDays=0),
        "platform:databases.card.backupRetentionDays: 0 days is below the prd minimum of 14; "
        "production databases must keep",
        id="prd-without-backups",
    ),
    pytest.param(
        lambda d: _users(d["card"])[0].update(role="readwrite"),
        "platform:databases.card.users: needs exactly one user with role 'owner' (the migrator), found none",
        id="no-owner",
    ),
    pytest.param(
        lambda d: d["card"].update(monitoringIntervalSeconds=20),
        "platform:databases.card.monitoringIntervalSeconds: 20 is not an enhanced monitoring interval",
        id="bad-monitoring-interval",
    ),
    pytest.param(
        lambda d: d["card"].update(backupWindow="25:00-26:00"),
        "platform:databases.card.backupWindow: '25:00-26:00' is not a backup window",
        id="bad-backup-window",
    ),
    pytest.param(
        lambda d: d["card"].update(storageSize=10),
        "platform:databases.card.storageSize: unknown key; allowed keys: adminHost, adminPort, allocatedStorageGb,",
        id="unknown-key",
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD_DATABASES)
def test_bad_database_config_is_rejected_with_its_key(
    stack_values: Callable[[str], dict[str, str]], change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    assert_rejected(stack_values("prd"), "platform:databases", change, expected, stack="prd")


def test_a_card_database_tags_its_resources_as_card_data_scope(platform: ProgramRun) -> None:
    """`cardData: true` marks the cardholder data environment on the resources themselves (PCI DSS scope)."""
    config = config_of(platform)
    for name, settings in config.databases.items():
        for resource_name in (f"{name}-instance", f"{name}-key", f"{name}-sg", f"{name}-params"):
            tags = platform.named(resource_name).inputs.get("tags") or {}
            assert (tags.get("DataScope") == "card") is settings.card_data, resource_name


@pytest.mark.parametrize(
    ("action", "context", "allowed"),
    [
        ("kms:Decrypt", {}, False),  # calling KMS directly: never, whatever IAM grants
        ("kms:GenerateDataKey", {}, False),
        ("kms:Decrypt", {"kms:ViaService": "secretsmanager.ap-northeast-1.amazonaws.com"}, True),
        ("kms:Decrypt", {"kms:ViaService": "rds.ap-northeast-1.amazonaws.com"}, True),  # Performance Insights
        ("kms:Decrypt", {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"}, False),
        ("kms:Decrypt", {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}, False),
        (
            "kms:CreateGrant",
            {"kms:ViaService": "rds.ap-northeast-1.amazonaws.com", "kms:GrantIsForAWSResource": "true"},
            True,
        ),
        (
            "kms:CreateGrant",
            {"kms:ViaService": "rds.ap-northeast-1.amazonaws.com", "kms:GrantIsForAWSResource": "false"},
            False,
        ),
        ("kms:CreateGrant", {}, False),
        ("kms:PutKeyPolicy", {}, True),  # the account still administers it (the deploy role re-policies it)
        ("kms:ScheduleKeyDeletion", {}, True),
    ],
)
def test_database_keys_are_used_only_through_rds_and_secrets_manager(
    platform: ProgramRun, action: str, context: dict[str, str], allowed: bool
) -> None:
    """The worst case: an account principal whose IAM policy allows kms:* on every key."""
    from tests.iam_eval import Request, key_allows

    account = _account(platform)
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    for key in config_of(platform).databases:
        key_resource = platform.named(f"{key}-key")
        request = Request(
            principal=f"arn:aws:iam::{account}:role/anyone",
            action=action,
            resource=f"arn:aws:kms:ap-northeast-1:{account}:key/mock-{key}-key",
            context={"kms:CallerAccount": account, **context},
        )
        assert key_allows(request, key_resource.inputs["policy"], [everything]) is allowed, (key, action, context)
