"""An RDS PostgreSQL instance with its KMS key, network access, parameters and Postgres users.

Production protection is decided here from the environment profile: `protect` on the instance and
its key, deletion protection, a final snapshot and multi-AZ come with `prd`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.alerts import AlertSpec
from components.config.databases import DatabaseConfig
from components.context import StackContext
from components.iam import policy_document, service_trust_policy
from components.postgres_users import PostgresUsers, PostgresUsersArgs, master_password
from components.secrets import SecretRef, secret_read_statements
from components.tags import component_tags

MASTER_USERNAME = "platform_admin"
"""Not `postgres`: a default admin name is the first guess of any credential-stuffing attempt."""
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
ENHANCED_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    context: StackContext
    settings: DatabaseConfig
    vpc_id: pulumi.Input[str]
    db_subnet_ids: pulumi.Input[Sequence[str]]


class Database(pulumi.ComponentResource):
    """Outputs: `identifier`, `address`, `port`, `security_group_id`, `kms_key_arn`, `secret_arns`
    (user -> ARN). Grants: `allow_from`, `grant_connect`, `secret_ref`, `grant_read_secret`."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        ctx = args.context
        protect = ctx.profile.protect_stateful
        super().__init__("platform:database:Database", name, None, opts)
        self._name = name
        self._region = ctx.region
        self._settings = settings = args.settings
        self.identifier = ctx.physical_name(name)
        self.tags = component_tags(service="database", component=f"database-{name}")

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"RDS {self.identifier}: storage, master secret, Performance Insights, user secrets",
            enable_key_rotation=True,
            deletion_window_in_days=ctx.profile.kms_deletion_window_days,
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/{self.identifier}", target_key_id=self.key.key_id, opts=self._child()
        )
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=self.identifier,
            description=f"Isolated db subnets for {self.identifier}",
            subnet_ids=args.db_subnet_ids,
            tags=self.tags,
            opts=self._child(),
        )
        # No inline rules: Pulumi removes AWS's default allow-all egress, and ingress comes only from
        # allow_from() for the security groups of the clients named in config.
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"PostgreSQL {self.identifier}: port {settings.port} from granted clients only",
            tags={**self.tags, "Name": self.identifier},
            opts=self._child(),
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
            opts=self._child(),
        )
        monitoring_role = aws.iam.Role(
            f"{name}-monitoring-role",
            assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com", source_account=ctx.account_id),
            tags=self.tags,
            opts=self._child(),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-policy",
            role=monitoring_role.name,
            policy_arn=ENHANCED_MONITORING_POLICY,
            opts=self._child(),
        )
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
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            apply_immediately=False,
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
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
            opts=self._child(),
        )

        self.address = self.instance.address
        self.port = settings.port
        self.security_group_id = self.security_group.id
        self.kms_key_arn = self.key.arn
        self.secret_arns = self.users.secret_arns
        self.register_outputs(
            {"identifier": self.identifier, "address": self.address, "security_group_id": self.security_group_id}
        )

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def allow_from(self, client: str, security_group_id: pulumi.Input[str]) -> aws.vpc.SecurityGroupIngressRule:
        """Let the security group of `client` (an app or batch name) connect on the database port."""
        return aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-from-{client}",
            security_group_id=self.security_group.id,
            referenced_security_group_id=security_group_id,
            ip_protocol="tcp",
            from_port=self._settings.port,
            to_port=self._settings.port,
            description=f"PostgreSQL from {client}",
            opts=self._child(),
        )

    grant_connect = allow_from

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
            opts=self._child(),
        )

    def alerts(self) -> list[AlertSpec]:
        return database_alerts(self._name, self.identifier, self._settings)


def _master_secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret]) -> str:
    arn = secrets[0].secret_arn if secrets else None
    if arn is None:
        raise ValueError("RDS returned no master user secret; manage_master_user_password must be on")
    return arn


def parameter_settings(settings: DatabaseConfig) -> dict[str, str]:
    """The instance parameters: TLS only, and enough logging to investigate slow or failed sessions."""
    return {
        "rds.force_ssl": "1",
        "log_min_duration_statement": str(settings.log_min_duration_statement_ms),
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
        "log_temp_files": "0",
        "log_statement": "ddl",
        "idle_in_transaction_session_timeout": "600000",
    }


def database_alerts(key: str, identifier: str, settings: DatabaseConfig) -> list[AlertSpec]:
    """CPU, storage, memory, connections, latency and transaction-id age of one instance."""
    scope = f"{{dbinstanceidentifier:{identifier}}}"
    gib = 1024**3
    allocated = settings.allocated_storage_gb * gib

    def spec(name: str, **kwargs: object) -> AlertSpec:
        return AlertSpec(key=f"database.{key}.{name}", service="database", resource=identifier, **kwargs)  # type: ignore[arg-type]

    return [
        spec("cpu", title=f"{identifier} CPU high", metric=f"avg:aws.rds.cpuutilization{scope}",
             comparator=">", critical=90, warning=75, priority=2,
             runbook="Find the top queries in Performance Insights; check for a deploy or a batch that started."),
        spec("free-storage", title=f"{identifier} free storage low", metric=f"avg:aws.rds.free_storage_space{scope}",
             comparator="<", critical=0.1 * allocated, warning=0.2 * allocated, priority=2,
             runbook="Storage autoscaling may be at its ceiling (maxAllocatedStorageGb); check table bloat and WAL."),
        spec("freeable-memory", title=f"{identifier} freeable memory low",
             metric=f"avg:aws.rds.freeable_memory{scope}", comparator="<", critical=256 * 1024**2,
             warning=512 * 1024**2, priority=3,
             runbook="Look for connection spikes and large sorts (log_temp_files); consider a larger class."),
        spec("connections", title=f"{identifier} connections high",
             metric=f"max:aws.rds.database_connections{scope}", aggregation="max", comparator=">",
             critical=_connection_ceiling(settings) * 0.9, warning=_connection_ceiling(settings) * 0.75,
             priority=2, runbook="Check per-user connection limits and pool sizes of the apps named in the alert."),
        spec("read-latency", title=f"{identifier} read latency high", metric=f"avg:aws.rds.read_latency{scope}",
             comparator=">", critical=0.05, warning=0.02, priority=3,
             runbook="Check IOPS and throughput against the gp3 baseline; look for sequential scans."),
        spec("write-latency", title=f"{identifier} write latency high", metric=f"avg:aws.rds.write_latency{scope}",
             comparator=">", critical=0.05, warning=0.02, priority=3,
             runbook="Check IOPS and throughput against the gp3 baseline and checkpoint activity."),
        spec("transaction-id-age", title=f"{identifier} transaction ids near wraparound",
             metric=f"max:aws.rds.maximum_used_transaction_ids{scope}", aggregation="max", window="last_30m",
             comparator=">", critical=1_000_000_000, warning=500_000_000, priority=1,
             runbook="Autovacuum is not keeping up: find long transactions and blocked vacuums before wraparound."),
    ]  # fmt: skip


def _connection_ceiling(settings: DatabaseConfig) -> int:
    """The sum of the users' connection limits, or 500 if some user is unlimited."""
    limits = [user.connection_limit for user in settings.users]
    return 500 if any(limit < 0 for limit in limits) else sum(limits)
