"""The Postgres side of a database: roles, schemas, grants and default privileges (pulumi-postgresql).

One explicit provider per database, connecting as the RDS master user with TLS (`sslmode=require`)
and `superuser=false` (the RDS master is only `rds_superuser`). Each login role gets a generated
password stored, with the connection details, in its own KMS-encrypted Secrets Manager secret. The
server is given only the password's SCRAM-SHA-256 verifier (`platform_lib/scram.py`): the provider
sends `CREATE ROLE ... PASSWORD '<value>'` as statement text, which the server logs.

The grants on one schema run one after another: the provider locks the grantee role, not the schema,
and two grants on one schema update the same catalog row (`tuple concurrently updated`).
`tests/postgres/` applies all of it to a real PostgreSQL 16 server.
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
from platform_lib.scram import SALT_BYTES, verifier_from_base64_salt

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
INSTANCE_DATABASES = ("postgres", "template1")
"""The databases every RDS instance has, owned by the master user, that PUBLIC may connect to by default.
(`rdsadmin` and `template0` refuse connections.)"""


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
        self._grants_on_schema: dict[str, list[pulumi.Resource]] = {}
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
        self._lock_down_public()
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
        salt = random.RandomBytes(f"{self._name}-{user.name}-scram-salt", length=SALT_BYTES, opts=self.child())
        scram_verifier = pulumi.Output.all(password.result, salt.base64).apply(
            lambda values: verifier_from_base64_salt(values[0], values[1])
        )
        return postgresql.Role(
            f"{self._name}-role-{user.name}",
            name=user.name,
            login=True,
            password=as_secret(scram_verifier),
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
        """Nobody gets what they were not granted: PUBLIC loses CONNECT/TEMP on the database and on the
        instance's own databases, and everything (CREATE included) on schema public."""
        databases: dict[str, pulumi.Input[str]] = {"database": self.database.name}
        databases.update({name: name for name in INSTANCE_DATABASES})
        for resource_suffix, database in databases.items():
            postgresql.Grant(
                f"{self._name}-revoke-public-{resource_suffix}",
                database=database,
                role="public",
                object_type="database",
                privileges=[],
                opts=self._pg,
            )
        self._schema_queue("public").append(
            postgresql.Grant(
                f"{self._name}-revoke-public-schema",
                database=self.database.name,
                role="public",
                schema="public",
                object_type="schema",
                privileges=[],
                opts=self._schema_opts("public"),
            )
        )

    def _schema_opts(self, schema: str) -> pulumi.ResourceOptions:
        """Options for the next grant on `schema`: after the schema and after the schema's last grant."""
        after = [r for r in (self.schemas.get(schema), *self._grants_on_schema.get(schema, [])[-1:]) if r is not None]
        return self._pg.merge(pulumi.ResourceOptions(depends_on=after))

    def _schema_queue(self, schema: str) -> list[pulumi.Resource]:
        """The grants on `schema` in the order they run (see the module docstring for why they queue)."""
        return self._grants_on_schema.setdefault(schema, [])

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
            queue = self._schema_queue(schema)
            queue.append(
                postgresql.Grant(
                    f"{prefix}-{schema}-usage",
                    database=self.database.name,
                    role=role,
                    schema=schema,
                    object_type="schema",
                    privileges=["USAGE"],
                    opts=self._schema_opts(schema),
                )
            )
            privileges = {"table": TABLE_PRIVILEGES[user.role], "sequence": SEQUENCE_PRIVILEGES.get(user.role)}
            for object_type, granted in privileges.items():
                if not granted:
                    continue
                queue.append(
                    postgresql.Grant(
                        f"{prefix}-{schema}-{object_type}s",
                        database=self.database.name,
                        role=role,
                        schema=schema,
                        object_type=object_type,
                        objects=[],  # all existing objects of the type
                        privileges=granted,
                        opts=self._schema_opts(schema),
                    )
                )
                # Tables the migrator creates later get the same privileges.
                queue.append(
                    postgresql.DefaultPrivileges(
                        f"{prefix}-{schema}-default-{object_type}s",
                        database=self.database.name,
                        role=role,
                        owner=self.roles[owner.name].name,
                        schema=schema,
                        object_type=object_type,
                        privileges=granted,
                        opts=self._schema_opts(schema),
                    )
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
