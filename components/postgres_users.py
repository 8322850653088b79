"""The Postgres side of a database: roles, schemas, grants and default privileges (pulumi-postgresql).

One explicit provider per database, connecting as the RDS master user with TLS (`sslmode=require`)
and `superuser=false` (the RDS master is only `rds_superuser`). Each login role gets a generated
password stored, with the connection details, in its own KMS-encrypted Secrets Manager secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_postgresql as postgresql
import pulumi_random as random

from components.base import Component, Out
from components.secrets import as_secret
from platform_config.context import StackContext
from platform_config.databases import DatabaseConfig, DatabaseUser, RoleKind
from platform_config.tags import component_tags

TABLE_PRIVILEGES: dict[RoleKind, list[str]] = {
    "readwrite": ["DELETE", "INSERT", "SELECT", "UPDATE"],
    "readonly": ["SELECT"],
}
SEQUENCE_PRIVILEGES: dict[RoleKind, list[str]] = {
    "readwrite": ["SELECT", "USAGE"],
}
PASSWORD_LENGTH = 40
"""Letters and digits only (safe unquoted in a DSN or URL): about 238 bits."""
CONNECT_TIMEOUT_SECONDS = 15


@dataclass(frozen=True, kw_only=True)
class PostgresUsersArgs:
    context: StackContext
    database_key: str
    settings: DatabaseConfig
    instance: aws.rds.Instance
    master_username: str
    master_password: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]


class PostgresUsers(Component, token="platform:database:PostgresUsers"):
    """The database's users, roles, schemas and grants, each login's password in Secrets Manager.

    `secrets` (user -> Secret) are the handles."""

    secret_arns: Out[dict[str, pulumi.Output[str]]]

    def __init__(self, name: str, args: PostgresUsersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._args = args
        settings = args.settings
        self.provider = postgresql.Provider(
            f"{name}-provider",
            host=settings.admin_host or args.instance.address,
            port=settings.admin_port or settings.port,
            username=args.master_username,
            password=as_secret(args.master_password),
            database="postgres",
            sslmode="require",
            superuser=False,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            expected_version="16",
            opts=self.child(),
        )
        self._pg = pulumi.ResourceOptions(parent=self, provider=self.provider)
        owner = settings.owner()
        self._passwords: dict[str, random.RandomPassword] = {}
        self.roles = {user.name: self._role(user) for user in settings.users}
        # On RDS the master must be a member of the owner role to create a database owned by it.
        master_in_owner = postgresql.GrantRole(
            f"{name}-master-in-{owner.name}",
            role=args.master_username,
            grant_role=self.roles[owner.name].name,
            opts=self._pg,
        )
        self.database = postgresql.Database(
            f"{name}-database",
            name=settings.database_name,
            owner=self.roles[owner.name].name,
            opts=self._pg.merge(pulumi.ResourceOptions(depends_on=[master_in_owner])),
        )
        self._lock_down_public()
        self.schemas = {
            schema: postgresql.Schema(
                f"{name}-schema-{schema}",
                name=schema,
                database=self.database.name,
                owner=self.roles[owner.name].name,
                drop_cascade=False,
                opts=self._pg,
            )
            for schema in settings.schemas
        }
        for user in settings.users:
            if user.role != "owner":
                self._grant(user, owner)
        self.secrets = {user.name: self._secret(user) for user in settings.users}
        self.secret_arns = {user: secret.arn for user, secret in self.secrets.items()}
        self.finish()

    def _role(self, user: DatabaseUser) -> postgresql.Role:
        password = random.RandomPassword(
            f"{self._name}-{user.name}-password",
            length=PASSWORD_LENGTH,
            special=False,
            min_lower=4,
            min_upper=4,
            min_numeric=4,
            opts=self.child(),
        )
        self._passwords[user.name] = password
        return postgresql.Role(
            f"{self._name}-role-{user.name}",
            name=user.name,
            login=True,
            password=password.result,
            superuser=False,
            create_role=False,
            create_database=False,
            replication=False,
            bypass_row_level_security=False,
            inherit=True,
            connection_limit=user.connection_limit,
            opts=self._pg,
        )

    def _lock_down_public(self) -> None:
        """Nobody gets what they were not granted: PUBLIC loses CONNECT/TEMP on the database and
        everything (CREATE included) on schema public."""
        postgresql.Grant(
            f"{self._name}-revoke-public-database",
            database=self.database.name,
            role="public",
            object_type="database",
            privileges=[],
            opts=self._pg,
        )
        postgresql.Grant(
            f"{self._name}-revoke-public-schema",
            database=self.database.name,
            role="public",
            schema="public",
            object_type="schema",
            privileges=[],
            opts=self._pg,
        )

    def _grant(self, user: DatabaseUser, owner: DatabaseUser) -> None:
        role = self.roles[user.name].name
        prefix = f"{self._name}-{user.name}"
        postgresql.Grant(
            f"{prefix}-connect",
            database=self.database.name,
            role=role,
            object_type="database",
            privileges=["CONNECT"],
            opts=self._pg,
        )
        for schema in user.schemas:
            depends = [self.schemas[schema]] if schema in self.schemas else []
            opts = self._pg.merge(pulumi.ResourceOptions(depends_on=depends))
            postgresql.Grant(
                f"{prefix}-{schema}-usage",
                database=self.database.name,
                role=role,
                schema=schema,
                object_type="schema",
                privileges=["USAGE"],
                opts=opts,
            )
            privileges = {"table": TABLE_PRIVILEGES[user.role], "sequence": SEQUENCE_PRIVILEGES.get(user.role)}
            for object_type, granted in privileges.items():
                if not granted:
                    continue
                postgresql.Grant(
                    f"{prefix}-{schema}-{object_type}s",
                    database=self.database.name,
                    role=role,
                    schema=schema,
                    object_type=object_type,
                    objects=[],  # all existing objects of the type
                    privileges=granted,
                    opts=opts,
                )
                # Tables the migrator creates later get the same privileges.
                postgresql.DefaultPrivileges(
                    f"{prefix}-{schema}-default-{object_type}s",
                    database=self.database.name,
                    role=role,
                    owner=self.roles[owner.name].name,
                    schema=schema,
                    object_type=object_type,
                    privileges=granted,
                    opts=opts,
                )

    def _secret(self, user: DatabaseUser) -> aws.secretsmanager.Secret:
        args = self._args
        ctx = args.context
        secret = aws.secretsmanager.Secret(
            f"{self._name}-{user.name}-secret",
            name=f"platform/{ctx.environment}/db/{args.database_key}/{user.name}",
            description=f"Connection for Postgres user {user.name} of database {args.database_key}",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=30 if ctx.profile.protect_stateful else 7,
            tags=component_tags(service="database", component=f"database-{args.database_key}"),
            opts=self.child(),
        )
        document: dict[str, Any] = {
            "engine": "postgres",
            "host": args.instance.address,
            "port": args.settings.port,
            "dbname": args.settings.database_name,
            "username": user.name,
            "password": self._passwords[user.name].result,
        }
        aws.secretsmanager.SecretVersion(
            f"{self._name}-{user.name}-secret-value",
            secret_id=secret.id,
            secret_string=as_secret(pulumi.Output.json_dumps(document, sort_keys=True)),
            opts=self.child(),
        )
        return secret


def master_password(secret_arn: pulumi.Input[str], *, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The RDS-managed master password, read from its secret at deploy time (never stored in config).

    The invoke runs through `parent`'s AWS provider: the stacks disable the default provider.
    """
    version = aws.secretsmanager.get_secret_version_output(
        secret_id=secret_arn, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    return as_secret(version.secret_string.apply(lambda text: str(json.loads(text)["password"])))
