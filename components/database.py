"""An RDS PostgreSQL instance with its KMS key, network access, parameters and Postgres users.

Production protection is decided here from the environment profile: `protect` on the instance and
its key, deletion protection, a final snapshot and multi-AZ come with `prd`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from components.connections import Endpoint
from components.postgres_users import PostgresUsers, PostgresUsersArgs, master_password
from components.secrets import SecretRef, secret_read_statements
from platform_config.context import StackContext
from platform_config.databases import DatabaseConfig
from platform_config.tags import CARD_DATA_SCOPE, component_tags
from platform_lib.iam import logs_may_encrypt, policy_document, service_only_key_policy, service_trust_policy

MASTER_USERNAME = "platform_admin"
"""Not `postgres`: a default admin name is the first guess of any credential-stuffing attempt."""
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
ENHANCED_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
EXPORTED_LOGS = ("postgresql", "upgrade")
"""The logs the instance exports to CloudWatch Logs, each to `/aws/rds/instance/<identifier>/<log>`."""


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    context: StackContext
    settings: DatabaseConfig
    vpc_id: pulumi.Input[str]
    db_subnet_ids: pulumi.Input[Sequence[str]]


class Database(Component, token="platform:database:Database"):
    """One RDS PostgreSQL instance with its key, security group, and the users inside it.

    Connectable (`endpoint`); grants: `secret_ref`, `grant_read_secret`."""

    identifier: Out[str]
    address: Out[pulumi.Output[str]]
    port: Out[int]
    security_group_id: Out[pulumi.Output[str]]
    kms_key_arn: Out[pulumi.Output[str]]
    secret_arns: Out[dict[str, pulumi.Output[str]]]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        ctx = args.context
        protect = ctx.profile.protect_stateful
        super().__init__(name, opts)
        self._region = ctx.region
        self._settings = settings = args.settings
        self.identifier = ctx.physical_name(name)
        self.tags = component_tags(
            service="database",
            component=f"database-{name}",
            data_scope=CARD_DATA_SCOPE if settings.card_data else None,
        )

        log_prefix = f"/aws/rds/instance/{self.identifier}"
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"RDS {self.identifier}: storage, master secret, Performance Insights, user secrets",
            enable_key_rotation=True,
            deletion_window_in_days=ctx.profile.kms_deletion_window_days,
            # Storage, backups, Performance Insights (rds) and the user and master secrets (secretsmanager).
            policy=service_only_key_policy(
                ctx.account_id,
                ctx.region,
                ["rds", "secretsmanager"],
                logs_may_encrypt(
                    "LogsEncryptsTheDatabaseLogs", ctx.region, ctx.arn("logs", f"log-group:{log_prefix}/*")
                ),
            ),
            tags=self.tags,
            opts=self.child(protect=protect),
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/{self.identifier}", target_key_id=self.key.key_id, opts=self.child()
        )
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=self.identifier,
            description=f"Isolated db subnets for {self.identifier}",
            subnet_ids=args.db_subnet_ids,
            tags=self.tags,
            opts=self.child(),
        )
        # No inline rules: Pulumi removes AWS's default allow-all egress, and ingress comes only from
        # `connect(client, database)` (components/connections.py) for the clients named in config.
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"PostgreSQL {self.identifier}: port {settings.port} from granted clients only",
            tags={**self.tags, "Name": self.identifier},
            opts=self.child(),
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            name=self.identifier,
            family="postgres16",
            description=f"PostgreSQL 16 settings for {self.identifier}",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name=key, value=value)
                for key, value in sorted(parameter_settings(settings).items())
            ],
            tags=self.tags,
            opts=self.child(),
        )
        monitoring_role = aws.iam.Role(
            f"{name}-monitoring-role",
            permissions_boundary=ctx.permissions_boundary_arn,
            assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com", source_account=ctx.account_id),
            tags=self.tags,
            opts=self.child(),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-policy",
            role=monitoring_role.name,
            policy_arn=ENHANCED_MONITORING_POLICY,
            opts=self.child(),
        )
        # Declared before the instance exports to them: RDS would otherwise create them itself, without a
        # key and kept forever. The server log holds who connected and every DDL statement (audit trail).
        self.log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}-logs",
                name=f"{log_prefix}/{log}",
                retention_in_days=ctx.profile.log_retention_days,
                kms_key_id=self.key.arn,
                tags=self.tags,
                opts=self.child(protect=protect),
            )
            for log in EXPORTED_LOGS
        ]
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=self.identifier,
            engine="postgres",
            engine_version=settings.engine_version,
            instance_class=settings.instance_class,
            allocated_storage=settings.allocated_storage_gb,
            max_allocated_storage=settings.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=self.key.arn,
            port=settings.port,
            username=MASTER_USERNAME,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=self.key.arn,
            iam_database_authentication_enabled=True,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            ca_cert_identifier=CA_CERTIFICATE,
            multi_az=settings.multi_az,
            deletion_protection=settings.deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{self.identifier}-final",
            delete_automated_backups=not protect,
            backup_retention_period=settings.backup_retention_days,
            backup_window=settings.backup_window,
            maintenance_window=settings.maintenance_window,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            copy_tags_to_snapshot=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=self.key.arn,
            performance_insights_retention_period=settings.performance_insights_retention_days,
            monitoring_interval=settings.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role.arn if settings.monitoring_interval_seconds else None,
            enabled_cloudwatch_logs_exports=list(EXPORTED_LOGS),
            apply_immediately=False,
            tags=self.tags,
            opts=self.child(protect=protect, depends_on=self.log_groups),
        )
        master_secret_arn = self.instance.master_user_secrets.apply(_master_secret_arn)
        self.users = PostgresUsers(
            f"{name}-pg",
            PostgresUsersArgs(
                context=ctx,
                database_key=name,
                settings=settings,
                instance=self.instance,
                master_username=MASTER_USERNAME,
                master_password=master_password(master_secret_arn, parent=self),
                kms_key_arn=self.key.arn,
            ),
            opts=self.child(),
        )

        self.address = self.instance.address
        self.port = settings.port
        self.security_group_id = self.security_group.id
        self.kms_key_arn = self.key.arn
        self.secret_arns = self.users.secret_arns
        self.finish()

    @property
    def endpoint(self) -> Endpoint:
        """The database as the server of `components.connections.connect`: PostgreSQL on its port."""
        return Endpoint(
            name=f"database-{self._name}",
            rule_prefix=self._name,
            security_group_id=self.security_group.id,
            owner=self,
            port=self._settings.port,
            protocol="PostgreSQL",
        )

    def secret_ref(self, user: str) -> SecretRef:
        """The secret of `user` and the key that decrypts it, for roles that must read it."""
        self._settings.user(user)  # KeyError for an unknown user: config validation names it first
        return SecretRef(arn=self.secret_arns[user], kms_key_arn=self.kms_key_arn)

    def grant_read_secret(self, grantee: str, role: aws.iam.Role, user: str) -> aws.iam.RolePolicy:
        """Let `role` read exactly `user`'s secret and decrypt it with this database's key."""
        return aws.iam.RolePolicy(
            f"{self._name}-{user}-secret-read-{grantee}",
            role=role.id,
            policy=policy_document(*secret_read_statements([self.secret_ref(user)], region=self._region)),
            opts=self.child(),
        )


def _master_secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret]) -> str:
    arn = secrets[0].secret_arn if secrets else None
    if arn is None:
        raise ValueError("RDS returned no master user secret; manage_master_user_password must be on")
    return arn


def parameter_settings(settings: DatabaseConfig) -> dict[str, str]:
    """The instance parameters: TLS only, and enough logging to investigate slow or failed sessions, but
    no bind parameter values (card numbers, tokens) in any logged statement, failing ones included.
    Passwords never reach the server in clear (components/postgres_users.py sends SCRAM verifiers)."""
    return {
        "rds.force_ssl": "1",
        "password_encryption": "scram-sha-256",
        "log_parameter_max_length": "0",
        "log_parameter_max_length_on_error": "0",
        "log_min_duration_statement": str(settings.log_min_duration_statement_ms),
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
        "log_temp_files": "0",
        "log_statement": "ddl",
        "idle_in_transaction_session_timeout": "600000",
    }
