"""The program's Postgres users, roles and grants applied to a real PostgreSQL 16 server, as the provider
would apply them (tests/postgres/provider.py), with the instance's own logging parameters.

Invariants for any valid config (every stack, as committed and after the README's edits): each user logs
in with the credential the program stored and with nothing else; readwrite users use tables the migrator
creates later, readonly users only read; no user reaches a schema it was not given, nor the instance's
own databases; PUBLIC holds nothing; and no password is ever in the server log, also after a retried
deploy re-sends the role statements.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pg8000.native
import pytest

from components.database import MASTER_USERNAME, parameter_settings
from components.postgres_users import INSTANCE_DATABASES
from platform_config.databases import DatabaseConfig
from tests.conftest import README_EDITED, STACKS, config_of, stack_run
from tests.postgres.provider import Provider, ident
from tests.postgres.server import SUPERUSER, Server, Template, server
from tools.mock_runtime import ProgramRun, RecordedResource

MASTER_PASSWORD = "offline-master-password"
"""What the mocks answer for the RDS-managed master secret (tools/mocks.py)."""
PROBE = "probe"


def instance_settings(settings: DatabaseConfig) -> dict[str, str]:
    """The parameter group's settings, minus RDS's own (`rds.*`, which stock PostgreSQL lacks)."""
    return {k: v for k, v in parameter_settings(settings).items() if not k.startswith("rds.")}


def postgres_resources(run: ProgramRun, key: str) -> list[RecordedResource]:
    """The resources of database `key`'s postgresql provider, dependencies before dependents."""
    mine = [
        r
        for r in run.resources
        if r.type.startswith("postgresql:index/") and r.provider.rsplit("::", 1)[0].endswith(f"::{key}-pg-provider")
    ]
    urns = {r.urn for r in mine}
    done: set[str] = set()
    ordered: list[RecordedResource] = []
    pending = list(mine)
    while pending:
        ready = [r for r in pending if _needs(r) & urns <= done]
        assert ready, f"dependency cycle among {[r.name for r in pending]}"
        for r in ready:
            ordered.append(r)
            done.add(r.urn)
        pending = [r for r in pending if r.urn not in done]
    return ordered


def _needs(resource: RecordedResource) -> set[str]:
    return set(resource.dependencies) | {u for urns in resource.property_dependencies.values() for u in urns}


def stored_credentials(run: ProgramRun, key: str, settings: DatabaseConfig) -> dict[str, str]:
    """user -> the password in the user's Secrets Manager secret, as an app would read it."""
    credentials = {}
    for user in settings.users:
        document = json.loads(run.named(f"{key}-pg-{user.name}-secret-value").inputs["secretString"])
        assert (document["username"], document["dbname"]) == (user.name, settings.database_name)
        credentials[user.name] = document["password"]
    return credentials


def rds_like(running: Server) -> None:
    """What RDS gives the program: a master that is not a superuser but may create roles and databases, and
    that owns `postgres` and `template1` (asheiduk.de/post/setup-pg-on-rds; AWS RDS guide, "Understanding
    PostgreSQL roles and permissions")."""
    admin = running.connect()
    try:
        admin.run("SET log_statement = 'none'")  # RDS sets the master password; the program never sends it
        admin.run(f"CREATE ROLE {MASTER_USERNAME} LOGIN CREATEROLE CREATEDB PASSWORD '{MASTER_PASSWORD}'")
        for database in INSTANCE_DATABASES:
            admin.run(f"ALTER DATABASE {database} OWNER TO {MASTER_USERNAME}")
    finally:
        admin.close()


@dataclass
class Deployed:
    server: Server
    provider: Provider
    settings: DatabaseConfig
    credentials: dict[str, str]
    resources: list[RecordedResource]

    def login(self, user: str, database: str | None = None, password: str | None = None) -> pg8000.native.Connection:
        return self.server.connect(user, database or self.settings.database_name, password or self.credentials[user])


_clusters = itertools.count()


@contextmanager
def deployed(run: ProgramRun, key: str, made: Template) -> Iterator[Deployed]:
    settings = config_of(run).databases[key]
    with server(made, f"{run.stack}-{key}-{next(_clusters)}", instance_settings(settings)) as running:
        rds_like(running)
        provider = Provider(
            lambda database: running.connect(MASTER_USERNAME, database, MASTER_PASSWORD),
            default_database="postgres",
        )
        resources = postgres_resources(run, key)
        try:
            for resource in resources:
                provider.apply(resource)
            yield Deployed(running, provider, settings, stored_credentials(run, key, settings), resources)
        finally:
            provider.close()


@pytest.fixture(scope="module", params=STACKS + README_EDITED)
def deployments(request: pytest.FixtureRequest, pg_template: Template) -> Iterator[dict[str, Deployed]]:
    """Every database of a stack variant, deployed once for the tests of this module (in file order)."""
    run = stack_run(request.param)
    with ExitStack() as stack:
        yield {key: stack.enter_context(deployed(run, key, pg_template)) for key in sorted(config_of(run).databases)}


def sqlstate(connection: pg8000.native.Connection, sql: str) -> str | None:
    """The SQLSTATE `sql` fails with, or None when it runs."""
    try:
        connection.run(sql)
    except pg8000.native.DatabaseError as error:
        return str(error.args[0]["C"])
    return None


def login_sqlstate(target: Deployed, user: str, database: str, password: str) -> str | None:
    """The SQLSTATE a login fails with, or None when it succeeds."""
    return refusal(lambda: target.login(user, database, password).close())


def refusal(login: Callable[[], None]) -> str | None:
    """The SQLSTATE of a refused login. pg8000 answers a refusal by writing Terminate to the socket the
    server has just closed, and that "network error" hides the server's error: it is the context of
    the InterfaceError, and read from there."""
    try:
        login()
    except pg8000.native.DatabaseError as error:
        return str(error.args[0]["C"])
    except pg8000.native.InterfaceError as error:
        cause = error.__context__
        while cause is not None and not isinstance(cause, pg8000.native.DatabaseError):
            cause = cause.__context__
        if cause is None:
            raise
        return str(cause.args[0]["C"])
    return None


DENIED = "42501"
"""insufficient_privilege: refused for want of a privilege, not failing for some other reason."""
BAD_PASSWORD = "28P01"


def test_users_have_exactly_their_privileges_on_a_real_server(deployments: dict[str, Deployed]) -> None:
    for key, target in deployments.items():
        settings = target.settings
        owner = settings.owner()
        schemas = [*settings.schemas, "public"]
        # The migrator creates tables after the grants ran: default privileges must cover them.
        migrator = target.login(owner.name)
        for schema in schemas:
            migrator.run(f"CREATE TABLE {ident(schema)}.{PROBE} (id bigserial PRIMARY KEY, note text)")
            migrator.run(f"INSERT INTO {ident(schema)}.{PROBE} (note) VALUES ('seed')")
        migrator.close()
        for user in settings.users:
            wrong = "not" + target.credentials[user.name]
            assert login_sqlstate(target, user.name, settings.database_name, wrong) == BAD_PASSWORD
            for database in INSTANCE_DATABASES:
                state = login_sqlstate(target, user.name, database, target.credentials[user.name])
                assert state == DENIED, (key, user.name, database)
            if user.role == "owner":
                continue
            session = target.login(user.name)
            for schema in schemas:
                table = f"{ident(schema)}.{PROBE}"
                where = f"{key}/{user.name} on {schema}"
                assert sqlstate(session, f"CREATE TABLE {ident(schema)}.mine (id int)") == DENIED, where
                if schema not in user.schemas:
                    assert sqlstate(session, f"SELECT * FROM {table}") == DENIED, where
                    continue
                assert session.run(f"SELECT count(*) FROM {table}")[0][0] >= 1, where
                if user.role == "readonly":
                    assert sqlstate(session, f"INSERT INTO {table} (note) VALUES ('x')") == DENIED, where
                    assert sqlstate(session, f"DELETE FROM {table}") == DENIED, where
                else:
                    session.run(f"INSERT INTO {table} (note) VALUES ('x')")  # nextval: USAGE on the sequence
                    session.run(f"UPDATE {table} SET note = 'y' WHERE note = 'x'")
                    session.run(f"DELETE FROM {table} WHERE note = 'y'")
            session.close()
        admin = target.server.connect()
        try:
            public_on_databases = admin.run(
                "SELECT datname FROM pg_database WHERE datname = ANY(:names) AND (datacl IS NULL OR "
                "EXISTS (SELECT 1 FROM aclexplode(datacl) a WHERE a.grantee = 0))",
                names=[settings.database_name, *INSTANCE_DATABASES],
            )
            assert public_on_databases == [], f"PUBLIC keeps privileges on {public_on_databases}"
        finally:
            admin.close()
        database = target.server.connect(SUPERUSER, settings.database_name)
        try:
            public_on_schemas = database.run(
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY(:names) AND (nspacl IS NULL OR "
                "EXISTS (SELECT 1 FROM aclexplode(nspacl) a WHERE a.grantee = 0))",
                names=schemas,
            )
            assert public_on_schemas == [], f"PUBLIC keeps privileges on schemas {public_on_schemas}"
        finally:
            database.close()


def test_no_password_reaches_the_server_log_even_when_a_deploy_is_retried(deployments: dict[str, Deployed]) -> None:
    for key, target in deployments.items():
        for role in (r for r in target.resources if r.type == "postgresql:index/role:Role"):
            target.provider.retry_role(role.inputs)
        for user in target.credentials:
            target.login(user).close()  # the re-sent verifier still matches the stored password
        log = target.server.log()
        # The retried CREATE ROLE was logged as the failing statement, with what the program sent.
        assert "already exists" in log
        assert "STATEMENT:  CREATE ROLE" in log
        assert "SCRAM-SHA-256$" in log
        leaked = [user for user, password in target.credentials.items() if password in log]
        assert leaked == [], f"{key}: the server log holds the passwords of {leaked}"
        assert MASTER_PASSWORD not in log


def test_the_log_check_sees_a_cleartext_password(pg_template: Template) -> None:
    """The control: what the provider sent before verifiers (a cleartext PASSWORD) is found in the log."""
    with server(pg_template, "cleartext", {"log_statement": "ddl"}) as running:
        rds_like(running)
        provider = Provider(
            lambda database: running.connect(MASTER_USERNAME, database, MASTER_PASSWORD),
            default_database="postgres",
        )
        cleartext = {"name": "someone", "login": True, "password": "Cleartext0Password1"}
        provider.apply(
            RecordedResource(
                urn="urn:pulumi:test::platform::postgresql:index/role:Role::someone", type="postgresql:index/role:Role",
                name="someone", parent="", custom=True, provider="", inputs=cleartext, secret_inputs=["password"],
                protect=False, retain_on_delete=False, delete_before_replace=False, ignore_changes=[],
                replace_on_changes=[], additional_secret_outputs=[], dependencies=[], aliases=[],
            )
        )  # fmt: skip
        assert cleartext["password"] in running.log()


@pytest.mark.parametrize("password", ["OfflinePassword1", "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ0123"])
def test_a_verifier_computed_in_the_program_opens_the_door_to_that_password_only(
    pg_template: Template, password: str
) -> None:
    from platform_lib.scram import verifier

    with server(pg_template, f"scram-{len(password)}", {}) as running:
        admin = running.connect()
        admin.run(f"CREATE ROLE checked LOGIN PASSWORD '{verifier(password, bytes(range(16)))}'")
        stored = admin.run("SELECT rolpassword FROM pg_authid WHERE rolname = 'checked'")[0][0]
        admin.close()
        assert stored == verifier(password, bytes(range(16)))  # stored as given, not hashed again
        running.connect("checked", "postgres", password).close()
        assert refusal(lambda: running.connect("checked", "postgres", password + "x").close()) == BAD_PASSWORD
