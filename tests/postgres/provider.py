"""The SQL pulumi-postgresql sends for each resource the program declares, replayed on a real server.

This is a stand-in for the provider, written from its source: terraform-provider-postgresql at
ff936b9 (the `upstream` submodule of pulumi/pulumi-postgresql, just after v1.26.0), files
postgresql/resource_postgresql_{role,grant_role,database,schema,grant,default_privileges}.go and
helpers.go (`withRolesGranted`, `pgLockRole`, `pgLockDatabase`, `isMemberOfRole`). It sends the same
statements in the same transactions as the provider with `superuser = false` (the program's setting):
the temporary `GRANT <owner> TO <master>` around work on an owner's objects, the advisory locks, and
the revoke-then-grant of every `Grant` and `DefaultPrivileges`. Only the attributes the program sets
are modelled; an input this stand-in does not know fails the test rather than being skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pg8000.native

from tools.mock_runtime import RecordedResource


class Unmodelled(Exception):
    """The program declared something this stand-in does not model: extend the stand-in from the
    provider's source rather than skip it."""


Connect = Callable[[str], pg8000.native.Connection]
"""database name -> a connection as the provider's user (the RDS master)."""


def ident(name: str) -> str:
    """pq.QuoteIdentifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """pqQuoteLiteral (the provider writes passwords into the statement text, not as parameters)."""
    return text.replace("'", "''")


class Provider:
    """Applies recorded `postgresql:index/*` resources in registration order (a dependency order)."""

    def __init__(self, connect: Connect, *, default_database: str) -> None:
        self._connect = connect
        self._default_database = default_database
        self.statements: list[str] = []
        self._connections: dict[str, pg8000.native.Connection] = {}

    def apply(self, resource: RecordedResource) -> None:
        handler = _HANDLERS.get(resource.type)
        if handler is None:
            raise Unmodelled(f"{resource.type} is not modelled in tests/postgres/provider.py")
        handler(self, resource.inputs)

    def retry_role(self, inputs: dict[str, Any]) -> None:
        """A retried deploy's CREATE ROLE of a role that exists (it fails, and the server logs it), then
        the ALTER ROLE ... PASSWORD the provider sends when the password input changes."""
        try:
            self._role(inputs)
        except pg8000.native.DatabaseError:
            pass
        else:
            raise AssertionError("CREATE ROLE of an existing role succeeded")
        with self._transaction(self._default_database) as run:
            run(f"ALTER ROLE {ident(inputs['name'])} PASSWORD '{literal(inputs['password'])}'")

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def _connection(self, database: str) -> pg8000.native.Connection:
        """One connection per database, kept open, as the provider's connection pool keeps them."""
        if database not in self._connections:
            self._connections[database] = self._connect(database)
        return self._connections[database]

    @contextmanager
    def _transaction(self, database: str) -> Iterator[Callable[..., Any]]:
        connection = self._connection(database)

        def run(sql: str, **params: Any) -> Any:
            self.statements.append(sql)
            return connection.run(sql, **params)

        run("BEGIN")
        try:
            yield run
        except BaseException:
            connection.run("ROLLBACK")
            raise
        run("COMMIT")

    def _role(self, inputs: dict[str, Any]) -> None:
        _known(inputs, {"name", "login", "password", "superuser", "createRole", "createDatabase", "replication",
                        "bypassRowLevelSecurity", "inherit", "connectionLimit"})  # fmt: skip
        options = []
        if inputs.get("password"):
            options += ["ENCRYPTED", f"PASSWORD '{literal(inputs['password'])}'"]
        options += ["VALID UNTIL 'infinity'", f"CONNECTION LIMIT {int(inputs.get('connectionLimit', -1))}"]
        for key, on, off, default in (
            ("superuser", "SUPERUSER", "NOSUPERUSER", False),
            ("createDatabase", "CREATEDB", "NOCREATEDB", False),
            ("createRole", "CREATEROLE", "NOCREATEROLE", False),
            ("inherit", "INHERIT", "NOINHERIT", True),
            ("login", "LOGIN", "NOLOGIN", False),
            ("bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS", False),
            ("replication", "REPLICATION", "NOREPLICATION", False),
        ):
            options.append(on if inputs.get(key, default) else off)
        with self._transaction(self._default_database) as run:
            run(f"CREATE ROLE {ident(inputs['name'])} WITH {' '.join(options)}")

    def _grant_role(self, inputs: dict[str, Any]) -> None:
        _known(inputs, {"role", "grantRole"})
        with self._transaction(self._default_database) as run:
            run(f"GRANT {ident(inputs['grantRole'])} TO {ident(inputs['role'])}")

    def _database(self, inputs: dict[str, Any]) -> None:
        _known(inputs, {"name", "owner"})
        connection = self._connection(self._default_database)
        # Not in a transaction: CREATE DATABASE cannot run in one (the provider uses db.Exec).
        with _roles_granted(connection.run, [inputs["owner"]]):
            sql = (
                f"CREATE DATABASE {ident(inputs['name'])} OWNER {ident(inputs['owner'])} TEMPLATE template0 "
                "ENCODING 'UTF8' ALLOW_CONNECTIONS true CONNECTION LIMIT -1 IS_TEMPLATE false"
            )
            self.statements.append(sql)
            connection.run(sql)

    def _schema(self, inputs: dict[str, Any]) -> None:
        _known(inputs, {"name", "database", "owner", "dropCascade"})
        with self._transaction(inputs["database"]) as run:
            owners = [_database_owner(run), inputs["owner"]]
            with _roles_granted(run, list(dict.fromkeys(owners))):
                run(f"CREATE SCHEMA IF NOT EXISTS {ident(inputs['name'])} AUTHORIZATION {ident(inputs['owner'])}")

    def _grant(self, inputs: dict[str, Any]) -> None:
        _known(inputs, {"database", "role", "schema", "objectType", "objects", "privileges"})
        object_type = inputs["objectType"]
        role, privileges = inputs["role"], list(inputs.get("privileges") or [])
        if inputs.get("objects"):
            raise Unmodelled("grants on named objects are not modelled")
        with self._transaction(inputs["database"]) as run:
            _lock_role(run, role)
            if object_type == "database":
                run(
                    "SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_database WHERE datname = :d",
                    d=inputs["database"],
                )
                target = f"DATABASE {ident(inputs['database'])}"
                owners: list[str] = []
            else:
                schema = inputs["schema"]
                owners = [] if object_type == "schema" else _tables_owners(run, schema)
                schema_owner = run("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = :s", s=schema)
                owners += [o for o in [schema_owner[0][0]] if o not in owners]
                owners = [_database_owner(run) if o == "pg_database_owner" else o for o in owners]
                target = (
                    f"SCHEMA {ident(schema)}" if object_type == "schema"
                    else f"ALL {object_type.upper()}S IN SCHEMA {ident(schema)}"
                )  # fmt: skip
            grantee = "public" if role == "public" else ident(role)
            with _roles_granted(run, owners):
                run(f"REVOKE ALL PRIVILEGES ON {target} FROM {grantee}")
                if privileges:
                    run(f"GRANT {','.join(privileges)} ON {target} TO {grantee}")

    def _default_privileges(self, inputs: dict[str, Any]) -> None:
        _known(inputs, {"database", "role", "owner", "schema", "objectType", "privileges"})
        owner, role, kind = inputs["owner"], inputs["role"], inputs["objectType"].upper()
        scope = f"FOR ROLE {ident(owner)} IN SCHEMA {ident(inputs['schema'])}"
        with self._transaction(inputs["database"]) as run:
            _lock_role(run, owner)
            with _roles_granted(run, [owner]):
                run(f"ALTER DEFAULT PRIVILEGES {scope} REVOKE ALL ON {kind}S FROM {ident(role)}")
                granted = ",".join(inputs["privileges"])
                run(f"ALTER DEFAULT PRIVILEGES {scope} GRANT {granted} ON {kind}S TO {ident(role)}")


_HANDLERS: dict[str, Callable[[Provider, dict[str, Any]], None]] = {
    "postgresql:index/role:Role": Provider._role,
    "postgresql:index/grantRole:GrantRole": Provider._grant_role,
    "postgresql:index/database:Database": Provider._database,
    "postgresql:index/schema:Schema": Provider._schema,
    "postgresql:index/grant:Grant": Provider._grant,
    "postgresql:index/defaultPrivileges:DefaultPrivileges": Provider._default_privileges,
}


def _known(inputs: dict[str, Any], modelled: set[str]) -> None:
    unknown = set(inputs) - modelled
    if unknown:
        raise Unmodelled(f"inputs not modelled by tests/postgres/provider.py: {sorted(unknown)}")


def _lock_role(run: Callable[..., Any], role: str) -> None:
    run("SET statement_timeout = 0")
    run("SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_roles WHERE rolname = :r", r=role)
    run(
        "SELECT pg_advisory_xact_lock(member::bigint) FROM pg_auth_members "
        "JOIN pg_roles ON roleid = pg_roles.oid WHERE rolname = :r",
        r=role,
    )


def _database_owner(run: Callable[..., Any]) -> str:
    rows = run("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
    return str(rows[0][0])


def _tables_owners(run: Callable[..., Any], schema: str) -> list[str]:
    rows = run("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = :s", s=schema)
    return [str(row[0]) for row in rows]


def _is_member(run: Callable[..., Any], role: str, member: str) -> bool:
    """isMemberOfRole on PostgreSQL 16: a membership that allows SET ROLE."""
    rows = run(
        "SELECT 1 FROM pg_auth_members WHERE pg_get_userbyid(roleid) = :r AND pg_get_userbyid(member) = :m "
        "AND set_option",
        r=role,
        m=member,
    )
    return bool(rows)


@contextmanager
def _roles_granted(run: Callable[..., Any], roles: list[str]) -> Iterator[None]:
    """withRolesGranted for a non-superuser: each role granted to the current user for the work, then
    revoked again (and a reverse membership revoked for the work, then restored)."""
    current = str(run("SELECT CURRENT_USER")[0][0])
    granted: list[str] = []
    reversed_: list[str] = []
    for role in roles:
        if role == current:
            continue
        if _is_member(run, current, role):
            run(f"REVOKE {ident(current)} FROM {ident(role)}")
            reversed_.append(role)
        if not _is_member(run, role, current):
            run(f"GRANT {ident(role)} TO {ident(current)}")
            granted.append(role)
    yield
    for role in granted:
        run(f"REVOKE {ident(role)} FROM {ident(current)}")
    for role in reversed_:
        run(f"GRANT {ident(current)} TO {ident(role)}")
