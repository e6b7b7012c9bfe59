"""The cluster's admin, through the Data API: read and change the deployment's database user (db_sql.py's SQL).

The operator never holds the admin's password either: every statement names the admin secret (the cluster's
RDS-managed master user secret by default, MasterUserSecret on DescribeDBClusters; or --admin-secret) and the Data
API reads it with the operator's own permissions (rds-data:ExecuteStatement on the cluster, GetSecretValue on that
secret). Reads are retried while the Data API is still switching on (setup may have just enabled it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from xacct_dataapi import db_sql
from xacct_dataapi.errors import AwsError, error_code, error_message, explain
from xacct_dataapi.waiting import Timing, retry_when

# The Data API just switched on, a paused cluster resuming (verify.DATA_API_RETRY_CODES says where each is from).
_NOT_YET = ("HttpEndpointNotEnabledException", "DatabaseResumingException", "DatabaseUnavailableException")


@dataclass(frozen=True)
class Admin:
    """Where and as whom: the cluster, the admin secret, the database the user's grants live in."""

    cluster_arn: str
    secret_arn: str
    database: str
    timeout: float = 300.0
    timing: Timing | None = None

    def run(self, client: Any, sql: str, call: Callable[..., dict] | None = None, **params: str) -> list[list[Any]]:
        """One statement; its rows as plain values (a NULL as None). `call`: how a change is sent (counted)."""
        request = {"resourceArn": self.cluster_arn, "secretArn": self.secret_arn, "database": self.database,
                   "sql": sql, "parameters": [{"name": k, "value": {"stringValue": v}} for k, v in params.items()]}
        send = call or client.execute_statement
        response = retry_when(lambda: send(**request), lambda e: error_code(e) in _NOT_YET,
                              timeout=self.timeout, what="the cluster's Data API to answer", timing=self.timing)
        return [[None if f.get("isNull") else next(iter(f.values())) for f in row] for row in response.get("records", [])]


def random_password(sm: Any) -> str:
    """A new password from Secrets Manager (GetRandomPassword), made of characters a SQL literal holds as they are;
    checked again here, since what AWS returns is untrusted input. A refusal is AWS's answer, not a bug: it is asked
    for lazily, where no step's error handling would name it (the secret's first version)."""
    from botocore.exceptions import ClientError

    try:
        password = sm.get_random_password(PasswordLength=db_sql.PASSWORD_LENGTH,
                                          ExcludeCharacters=db_sql.PASSWORD_EXCLUDE,
                                          RequireEachIncludedType=True)["RandomPassword"]
    except ClientError as exc:
        raise AwsError(f"Secrets Manager GetRandomPassword failed: {error_message(exc)}", explain(exc)) from None
    if len(password) < db_sql.PASSWORD_LENGTH or any(c in password for c in db_sql.PASSWORD_EXCLUDE + " "):
        raise AwsError("GetRandomPassword returned a password shorter than asked or with an excluded character.",
                       "Nothing was stored; re-run.")
    return password


@dataclass(frozen=True)
class DbUser:
    name: str
    can_login: bool
    comment: str | None

    def created_by(self, deployment: str) -> bool:
        """The database-side evidence: the comment xacct writes in the same statement that creates the user."""
        return self.comment == db_sql.COMMENT_PREFIX + deployment


def read_user(client: Any, admin: Admin, user: str) -> DbUser | None:
    rows = admin.run(client, db_sql.ROLE_SQL, user=user)
    return DbUser(rows[0][0], bool(rows[0][1]), rows[0][2]) if rows else None


def read_grants(client: Any, admin: Admin, user: str) -> set[db_sql.Privilege]:
    """Every privilege the user holds on a table, sequence or schema of this database (not as the owner)."""
    return {db_sql.Privilege(kind, name, privilege) for kind, name, privilege in admin.run(client, db_sql.GRANTS_SQL,
                                                                                            user=user)}


def read_objects(client: Any, admin: Admin, schemas: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if schemas:
        for kind, name in admin.run(client, db_sql.OBJECTS_SQL, schemas=",".join(sorted(schemas))):
            found.setdefault(kind, []).append(name)
    return found


def desired_grants(client: Any, admin: Admin, specs: list[db_sql.GrantSpec]) -> set[db_sql.Privilege]:
    return db_sql.expand(specs, read_objects(client, admin, {s.schema for s in specs if s.name is None}))


def owned_objects(client: Any, admin: Admin, user: str) -> list[tuple[str, str]]:
    """(database, object) for everything the user owns, in any database of the cluster."""
    return [(db, what) for db, what in admin.run(client, db_sql.OWNED_SQL, user=user)]


@dataclass(frozen=True)
class GrantDrift:
    missing: tuple[db_sql.Privilege, ...]
    extra: tuple[db_sql.Privilege, ...]

    def lines(self) -> list[str]:
        return ([f"missing: {p}" for p in self.missing] + [f"not asked for: {p}" for p in self.extra])


def grant_drift(have: set[db_sql.Privilege], want: set[db_sql.Privilege]) -> GrantDrift:
    return GrantDrift(tuple(sorted(want - have)), tuple(sorted(have - want)))
