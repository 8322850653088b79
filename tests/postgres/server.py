"""A real PostgreSQL 16 server for the tests: initdb'd once, one throw-away cluster per database.

The binaries come from the `pgserver` wheel (PostgreSQL 16.2, the major version RDS runs here; a PyPI
package, so `make test` installs it on any Linux or macOS machine without root), or from
`PLATFORM_PG_BIN` when set (a directory holding initdb, pg_ctl and postgres, e.g. Debian's
/usr/lib/postgresql/16/bin). PostgreSQL refuses to run as root, so under root (CI containers) the
server runs as `nobody` from a copy of the binaries that `nobody` can read.

The server listens on a Unix socket only (no port to collide with), trusts only its bootstrap superuser
`postgres` (the harness), and asks every other role for its password by SCRAM-SHA-256: logging in as a
user with the credential the program stored really checks the verifier the program computed.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pg8000.native

SUPERUSER = "postgres"
PORT = 5432
RUN_AS = "nobody"
"""The unprivileged account the server runs as when the tests run as root."""


def binaries() -> Path:
    """The directory with initdb, pg_ctl and postgres (see the module docstring)."""
    configured = os.environ.get("PLATFORM_PG_BIN")
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("no PostgreSQL server: `make setup` installs pgserver, or set PLATFORM_PG_BIN")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass
class Template:
    """An initdb'd data directory, copied for each cluster (initdb is the slow part)."""

    root: Path
    bin_dir: Path
    user: str | None

    def run(self, *command: str | Path) -> None:
        subprocess.run(
            [str(c) for c in command],
            check=True,
            capture_output=True,
            user=self.user,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        )


@contextmanager
def template() -> Iterator[Template]:
    root = Path(tempfile.mkdtemp(prefix="platform-pg-"))
    try:
        bin_dir = binaries()
        user = RUN_AS if os.geteuid() == 0 else None
        if user is not None:
            bin_dir = _readable_copy(bin_dir, root)
            _chown_tree(root, user)
        made = Template(root=root, bin_dir=bin_dir, user=user)
        made.run(
            bin_dir / "initdb", "-D", root / "template", "-U", SUPERUSER, "-E", "UTF8", "--no-sync",
            "--auth-local=trust", "--auth-host=reject",
        )  # fmt: skip
        yield made
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Server:
    data: Path
    socket_dir: Path
    log_path: Path
    template: Template

    def connect(
        self, user: str = SUPERUSER, database: str = "postgres", password: str | None = None
    ) -> pg8000.native.Connection:
        return pg8000.native.Connection(
            user, database=database, password=password, unix_sock=str(self.socket_dir / f".s.PGSQL.{PORT}")
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.template.run(self.template.bin_dir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")


@contextmanager
def server(made: Template, name: str, settings: Mapping[str, str]) -> Iterator[Server]:
    """A running cluster copied from the template, with `settings` in postgresql.conf."""
    data = made.root / name
    shutil.copytree(made.root / "template", data, symlinks=True)
    socket_dir = made.root / f"{name}-socket"
    socket_dir.mkdir()
    log_path = made.root / f"{name}.log"
    log_path.touch()
    (data / "pg_hba.conf").write_text(f"local all {SUPERUSER} trust\nlocal all all scram-sha-256\n")
    lines = {
        "listen_addresses": "",
        "unix_socket_directories": str(socket_dir),
        "port": str(PORT),
        "fsync": "off",
        "log_line_prefix": "%m [%p] %q%u@%d ",
        **settings,
    }
    with (data / "postgresql.conf").open("a") as conf:
        for key, value in lines.items():
            quoted = value.replace("'", "''")
            conf.write(f"{key} = '{quoted}'\n")
    if made.user is not None:
        for path in (data, socket_dir, log_path):
            _chown_tree(path, made.user)
    made.run(made.bin_dir / "pg_ctl", "-D", data, "-l", log_path, "-w", "-t", "60", "start")
    running = Server(data=data, socket_dir=socket_dir, log_path=log_path, template=made)
    try:
        yield running
    finally:
        running.stop()


def _readable_copy(bin_dir: Path, root: Path) -> Path:
    """The pgserver install copied where `nobody` can read it (a checkout under a 0700 directory is not),
    in the wheel's layout: its binaries find libpq through the RPATH $ORIGIN/../../../pgserver.libs.
    Binaries from PLATFORM_PG_BIN (a system package) are used where they are."""
    if os.environ.get("PLATFORM_PG_BIN"):
        return bin_dir
    package = bin_dir.parent.parent
    site = root / "site"
    shutil.copytree(package / "pginstall", site / package.name / "pginstall", symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name, symlinks=True)
    return site / package.name / "pginstall" / "bin"


def _chown_tree(root: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for path in [root, *root.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
