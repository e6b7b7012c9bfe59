"""Step 9 (provider, with --create-db-user): the deployment's own database user, its password and its grants.

The password follows Secrets Manager's rotation protocol, run by xacct instead of a Lambda: GetRandomPassword, the
new value to the deployment's secret as AWSPENDING (PutSecretValue), the user created or its password changed through
the Data API as the cluster's admin, then AWSPENDING promoted to AWSCURRENT (UpdateSecretVersionStage). The
application reads AWSCURRENT, which names a password the database accepts until the promotion.

AWSPENDING is left on the promoted version: a version holding both labels is the evidence, in AWS itself, that the
database holds the current password. Any other arrangement (no AWSPENDING, as after the secret step wrote a new
version; AWSPENDING on another version, as after a killed run) means "rotate". So a run killed after any call
converges on the next: nothing is read back, the password is never read by xacct (the secret policy denies it), and
no state-file value decides it.

Grants are desired state: what --db-access/--db-schema/--db-grant ask for, expanded against the tables and
sequences there are, is compared with what the catalogue lists; the difference is granted and revoked.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError

from xacct_dataapi import db_admin, db_sql
from xacct_dataapi.errors import AwsError, UsageError, error_message
from xacct_dataapi.models import Account, Action, Inspection, Operation, Record, Resource, Step, StepPlan
from xacct_dataapi.procedures import procedure

NUMBER = 9
PENDING, CURRENT = "AWSPENDING", "AWSCURRENT"


def admin_secret(ctx) -> str | None:
    return ctx.cfg.admin_secret or ctx.cluster.master_user_secret


def grant_specs(cfg) -> list[db_sql.GrantSpec]:
    specs = db_sql.preset(cfg.db_access, cfg.db_schema or "public") if cfg.db_access else []
    return specs + [db_sql.parse_grant(g) for g in cfg.db_grants]


def versions(sm, secret_arn: str, *, dated: bool = False) -> tuple:
    """(AWSCURRENT's version id, AWSPENDING's) of the deployment's secret; `dated`: and when AWSCURRENT's was made
    (the last rotation, as Secrets Manager records it)."""
    found = sm.list_secret_version_ids(SecretId=secret_arn).get("Versions", [])
    stage = {s: v for v in found for s in v.get("VersionStages", [])}
    ids = tuple((stage.get(s) or {}).get("VersionId") for s in (CURRENT, PENDING))
    return (*ids, (stage.get(CURRENT) or {}).get("CreatedDate")) if dated else ids


def _admin(ctx, secret: str, **kw) -> db_admin.Admin:
    return db_admin.Admin(ctx.cluster.arn, secret, ctx.secret_fields()["fields"]["dbname"], **kw)


def inspect(ctx, known) -> Inspection:
    if not ctx.cfg.create_db_user:
        return Inspection({"enabled": False})
    facts: dict = {"enabled": True, "versions": (None, None), "user": None, "drift": None, "db_error": None}
    if known.get("secret_arn"):
        *facts["versions"], facts["rotated_at"] = versions(ctx.client(Account.PROVIDER, "secretsmanager"),
                                                           known["secret_arn"], dated=True)
        facts["versions"] = tuple(facts["versions"])
    secret = admin_secret(ctx)
    if secret is None or not ctx.cluster.http_endpoint_enabled:
        facts["db_error"] = "the Data API is off: the user is read and made once setup has turned it on"
        return Inspection(facts)
    data, admin = ctx.client(Account.PROVIDER, "rds-data"), _admin(ctx, secret, timeout=0)
    try:
        facts["user"] = db_admin.read_user(data, admin, ctx.cfg.db_user)
        if facts["user"] is not None:
            facts["drift"] = db_admin.grant_drift(db_admin.read_grants(data, admin, ctx.cfg.db_user),
                                                  db_admin.desired_grants(data, admin, grant_specs(ctx.cfg)))
    except (ClientError, BotoCoreError, AwsError) as exc:
        facts["db_error"] = f"reading the database as the admin failed: {error_message(exc)}"
    return Inspection(facts)


def desired(ctx) -> list[Resource]:
    if not ctx.cfg.create_db_user:
        return []
    return [Resource("db_user", ctx.cfg.db_user, Account.PROVIDER, arn=ctx.cluster.arn,
                     properties={"grants": [s.text() for s in grant_specs(ctx.cfg)], "admin_secret": admin_secret(ctx)})]


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, "")
    if not facts.get("enabled"):
        step.reason = "the database user is managed outside xacct (no --create-db-user)"
        return step
    (want,) = desired
    user, name, deployment = facts["user"], want.id, ctx.names.deployment
    secret = want.properties["admin_secret"]
    if "postgres" not in ctx.cluster.engine:
        raise UsageError(f"--create-db-user: cluster {ctx.cluster.id} runs {ctx.cluster.engine}; xacct creates "
                         "database users on Aurora PostgreSQL only so far.",
                         "Drop --create-db-user and give the password of a user the DB admin made (XACCT_DB_PASSWORD).")
    if secret is None:
        raise UsageError(f"Cluster {ctx.cluster.id} has no RDS-managed master user secret to create {name} with.",
                         "Pass --admin-secret ARN (a secret holding the admin's username and password), or let RDS "
                         "manage the master password (aws rds modify-db-cluster --manage-master-user-password).")
    if user is not None and not user.created_by(deployment):
        raise UsageError(f"Database user {name} already exists and xacct did not create it for deployment "
                         f"{deployment!r} (its comment is {user.comment!r}).",
                         "xacct will not change the password or grants of a user it did not create. Choose another "
                         "--db-user, or drop --create-db-user and give the existing user's password.")
    current, pending = facts["versions"]
    reasons = []
    if user is None:
        reasons.append(facts["db_error"] or f"no database user {name}")
    elif ctx.cfg.rotate_db_password:
        reasons.append("rotate: a new password by the rotation protocol")
    elif current is None or pending != current:
        reasons.append("the secret's current version is not the password the database holds (AWSPENDING "
                       f"{'is on another version' if pending else 'is on no version'}): a new one by the rotation protocol")
        step.problems.append(reasons[-1])
    if facts["drift"] is not None and (facts["drift"].missing or facts["drift"].extra):
        step.problems += facts["drift"].lines()
        reasons.append("grants differ: " + "; ".join(facts["drift"].lines()))
    if not ctx.state.find("db_user", name) and not reasons:
        reasons.append(f"database user {name} exists but was not recorded")
    if not reasons:
        when = facts.get("rotated_at")
        step.reason = (f"database user {name} holds the current password and exactly the grants asked for"
                       + (f"; password last rotated {when.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
                          if isinstance(when, datetime) else ""))
        return step
    step.action = Action.CREATE if user is None else Action.REPAIR
    step.reason = "; ".join(reasons)
    params = {"cluster_arn": ctx.cluster.arn, "admin_secret": secret, "database": _admin(ctx, secret).database,
              "secret_arn": ctx.known("secret_arn"), "user": name, "deployment": deployment,
              "grants": want.properties["grants"], "fields": ctx.secret_fields()["fields"],
              "rotate": bool(ctx.cfg.rotate_db_password)}
    step.calls.append(Operation(
        Account.PROVIDER, name="db:converge_user", params=params,
        outputs={"db_user_password_version": "version"},
        record=Record("db_user", name, arn=ctx.cluster.arn,
                      name=json.dumps({"database": params["database"], "admin_secret": secret}, sort_keys=True)),
        description=f"database user {name}: password by the rotation protocol, then the grants"))
    return step


@procedure("db:converge_user", actions=(
    "rds-data:ExecuteStatement", "secretsmanager:ListSecretVersionIds", "secretsmanager:GetRandomPassword",
    "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"))
def converge_user(ops, *, cluster_arn, admin_secret, database, secret_arn, user, deployment, grants, fields,
                  rotate) -> dict:
    """Read everything again (the plan may be minutes old), then do only what is still needed."""
    data, sm = ops.client("rds-data"), ops.client("secretsmanager")
    admin = db_admin.Admin(cluster_arn, admin_secret, database, timeout=ops.runner.wait_timeout,
                           timing=ops.runner.timing)
    found = db_admin.read_user(data, admin, user)
    if found is not None and not found.created_by(deployment):
        raise AwsError(f"Database user {user} exists and xacct did not create it for deployment {deployment!r}.",
                       "Nothing was changed in the database. Choose another --db-user.")
    current, pending = versions(sm, secret_arn)
    if found is None or rotate or current is None or pending != current:
        current = rotate_password(ops, admin, secret_arn, user, deployment, fields, current, create=found is None)
    apply_grants(ops, admin, user, [db_sql.parse_grant(g) for g in grants])
    return {"version": current}


def rotate_password(ops, admin: db_admin.Admin, secret_arn: str, user: str, deployment: str, fields: dict,
                    current: str | None, *, create: bool) -> str:
    """AWSPENDING, the database, AWSCURRENT: the password exists only in this function's memory."""
    password = db_admin.random_password(ops.client("secretsmanager"))
    token = str(uuid.uuid4())
    value = json.dumps({"username": user, "password": password, **{k: v for k, v in fields.items() if k != "username"}})
    ops.call("secretsmanager", "put_secret_value", SecretId=secret_arn, ClientRequestToken=token, SecretString=value,
             VersionStages=[PENDING])
    verifier = db_sql.scram_verifier(password)
    sql = db_sql.create_user_sql(user, verifier, deployment) if create else db_sql.set_password_sql(user, verifier)
    admin.run(ops.client("rds-data"), sql, call=lambda **request: ops.call("rds-data", "execute_statement", **request))
    move = {"RemoveFromVersionId": current} if current else {}
    ops.call("secretsmanager", "update_secret_version_stage", SecretId=secret_arn, VersionStage=CURRENT,
             MoveToVersionId=token, **move)
    return token


def apply_grants(ops, admin: db_admin.Admin, user: str, specs: list[db_sql.GrantSpec]) -> None:
    data = ops.client("rds-data")
    drift = db_admin.grant_drift(db_admin.read_grants(data, admin, user), db_admin.desired_grants(data, admin, specs))
    statements = ([db_sql.revoke_sql(p, user) for p in drift.extra] + [db_sql.grant_sql(p, user) for p in drift.missing])
    for sql in statements:
        admin.run(data, sql, call=lambda **request: ops.call("rds-data", "execute_statement", **request))


def applies(ctx) -> bool:
    """With --create-db-user, or while a user it made is recorded (so it is never silently forgotten)."""
    return bool(ctx.cfg.create_db_user or any(r.kind == "db_user" for r in ctx.state.resources))


STEP = Step(NUMBER, "db_user", "Database user, password and grants (provider)", ("db_user",), inspect=inspect,
            desired=desired, plan=plan, needs=("secret_arn",), applies=applies)
