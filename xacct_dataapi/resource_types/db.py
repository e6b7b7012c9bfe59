"""The deployment's own database user (--create-db-user): read and dropped through the Data API as the admin.

Ownership is the database's word, not the state file's: xacct writes COMMENT ON ROLE 'xacct:deployment=NAME' in the
statement that creates the user, so a user the comment does not name (made by someone else, or for another
deployment) is never dropped. A user that owns anything is not dropped either: teardown stops, lists what it owns
and says how to reassign it. DROP ROLE itself refuses while anything depends on the user, so no data goes with it.
"""
from __future__ import annotations

import json

from xacct_dataapi import db_admin, db_sql
from xacct_dataapi.db_options import SCHEMA_RE, SECRET_ARN_RE
from xacct_dataapi.errors import AwsError
from xacct_dataapi.models import NOTHING_CHANGED, Account, Operation
from xacct_dataapi.procedures import procedure
from xacct_dataapi.config import CLUSTER_ARN_RE
from xacct_dataapi.resource_types.base import NOT_OURS, OURS, Ownership, ResourceType
from xacct_dataapi.resource_types.grants import CLUSTER, READS, SECRET, SETUP, Grant, P


def admin_for(user: str, cluster: str | None, where_json: str | None, **timing) -> db_admin.Admin:
    """Where the state file's row (id, arn, name) says the user lives, checked: the row is untrusted input."""
    try:
        where = json.loads(where_json or "")
        secret, database = where["admin_secret"], where["database"]
    except (ValueError, KeyError, TypeError):
        raise AwsError(f"The state file's row for database user {user} does not say where it lives.",
                       "Run `xacct setup` again to record it, or remove the row.") from None
    if not (CLUSTER_ARN_RE.match(cluster or "") and SECRET_ARN_RE.match(str(secret))
            and SCHEMA_RE.match(str(database))):
        raise AwsError(f"The state file's row for database user {user} names no valid cluster, admin secret and "
                       "database.", "Fix or remove the row; nothing was changed.")
    return db_admin.Admin(cluster, secret, database, **timing)


class DbUser(ResourceType):
    kind, service, noun, doctor_link = "db_user", "rds-data", "database user", "secret"  # doctor/db_user.py

    def cloudformation(self, t, r, ctx) -> None:
        grants = "; ".join(f"GRANT {g} TO {r.id}" for g in r.properties["grants"])
        t.leave_out(r.kind, f"The database user {r.id} is made with SQL, which CloudFormation cannot run. After the "
                            "stack: `xacct setup --create-db-user` on this deployment creates it through the Data API "
                            "as the cluster's admin and moves the secret to a password only it and the database hold "
                            "(AWSPENDING, then AWSCURRENT); or, as the admin, CREATE ROLE "
                            f"{r.id} LOGIN PASSWORD <the secret's password>; {grants}.")

    def read(self, client, row):
        return db_admin.read_user(client, admin_for(row.id, row.arn, row.name), row.id)

    def judge(self, found, row, names):
        if not found.created_by(names.deployment):
            return Ownership(NOT_OURS, f"its comment is {found.comment!r}, not {db_sql.COMMENT_PREFIX}{names.deployment}")
        return Ownership(OURS, f"database user {found.name} carries this deployment's comment")

    def delete(self, row, state) -> list:
        return [Operation(Account.PROVIDER, name="rds-data:drop_user_unless_owner",
                          params={"user": row.id, "row_arn": row.arn, "row_name": row.name},
                          forget=(row.kind, row.id), description=f"drop database user {row.id} (its grants first)")]


@procedure("rds-data:drop_user_unless_owner", actions=("rds-data:ExecuteStatement",))
def drop_user(ops, *, user: str, row_arn: str, row_name: str) -> dict:
    data = ops.client("rds-data")
    admin = admin_for(user, row_arn, row_name, timeout=ops.runner.wait_timeout, timing=ops.runner.timing)
    if db_admin.read_user(data, admin, user) is None:
        return {NOTHING_CHANGED: "already gone"}
    owned = db_admin.owned_objects(data, admin, user)
    if owned:
        listed = "; ".join(f"{what} (database {db})" for db, what in owned[:20])
        raise AwsError(f"Not dropping database user {user}: it owns {len(owned)} object(s): {listed}.",
                       db_sql.reassign_hint(user, [db for db, _ in owned]))
    send = lambda **request: ops.call("rds-data", "execute_statement", **request)  # noqa: E731
    for privilege in sorted(db_admin.read_grants(data, admin, user)):
        admin.run(data, db_sql.revoke_sql(privilege, user), call=send)
    admin.run(data, db_sql.drop_user_sql(user), call=send)
    return {}


TYPES = (DbUser(),)


# The operator's IAM grants for --create-db-user (steps/db_user.py; `xacct rotate` is a setup run).
GRANTS: tuple[Grant, ...] = (
    Grant("DbUserPasswordByRotationProtocolOnlyWithCreateDbUser", P,
          {"secretsmanager:ListSecretVersionIds": READS, "secretsmanager:PutSecretValue": SETUP,
           "secretsmanager:UpdateSecretVersionStage": SETUP},
          (SECRET + "-??????",), only_with="create_db_user"),
    Grant("DbUserRandomPasswordOnlyWithCreateDbUser", P, {"secretsmanager:GetRandomPassword": SETUP}, ("*",),
          why_star="GetRandomPassword has no resource type (it makes a password and stores nothing)",
          only_with="create_db_user"),
    # The Data API as the cluster's admin: the call is authorised on the cluster, and the Data API then reads the
    # admin secret with the caller's own permissions (the RDS-managed master user secret is named rds!cluster-...).
    Grant("DbUserSqlAsTheAdminOnlyWithCreateDbUser", P,
          {"rds-data:ExecuteStatement": ("setup", "status", "doctor", "teardown")}, (CLUSTER,),
          only_with="create_db_user"),
    Grant("DbUserReadTheAdminSecretOnlyWithCreateDbUser", P,
          {"secretsmanager:GetSecretValue": ("setup", "status", "doctor", "teardown")}, ("{admin_secret}",),
          only_with="create_db_user"),
)
