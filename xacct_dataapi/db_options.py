"""The --create-db-user options' rules (config.Config.validate calls this): every bad value named, with its fix."""
from __future__ import annotations

import re

from xacct_dataapi import db_sql
from xacct_dataapi.errors import UsageError

SECRET_ARN_RE = re.compile(r"^arn:aws[\w-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@!-]+$")
ADMIN_NAMES = ("postgres", "admin", "rdsadmin", "root", "rds_superuser")  # Aurora's master users and its own
SCHEMA_RE = re.compile(rf"^{db_sql.IDENT}$")


def db_user_problems(cfg) -> list[UsageError]:
    problems: list[UsageError] = []
    asked = cfg.db_access or cfg.db_schema or cfg.db_grants or cfg.admin_secret
    if asked and not cfg.create_db_user:
        problems.append(UsageError("--db-access, --db-schema, --db-grant and --admin-secret apply only with "
                                   "--create-db-user.", "Add --create-db-user (xacct then creates the DB user)."))
    if cfg.db_access is not None and cfg.db_access not in db_sql.PRESETS:
        problems.append(UsageError(f"--db-access {cfg.db_access!r} is not a preset.",
                                   "Use --db-access read or --db-access write (with --db-schema S), or --db-grant."))
    if cfg.db_schema is not None and not SCHEMA_RE.match(cfg.db_schema):
        problems.append(UsageError(f"--db-schema {cfg.db_schema!r} is not a schema name.",
                                   "Use letters, digits and '_' (e.g. --db-schema public)."))
    if cfg.db_schema is not None and cfg.db_access is None:
        problems.append(UsageError("--db-schema was given without --db-access.", "Add --db-access read or write."))
    for grant in cfg.db_grants:
        try:
            db_sql.parse_grant(grant)
        except db_sql.GrantError as exc:
            problems.append(UsageError(str(exc.args[0]), exc.args[1]))
    if cfg.admin_secret is not None and not SECRET_ARN_RE.match(cfg.admin_secret):
        problems.append(UsageError(f"--admin-secret {cfg.admin_secret!r} is not a Secrets Manager secret ARN.",
                                   "Pass the full ARN: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-abcdef."))
    if cfg.create_db_user and cfg.db_user.lower() in ADMIN_NAMES:
        problems.append(UsageError(f"--db-user {cfg.db_user} names an administrator of the cluster.",
                                   "Name a user of the deployment's own, e.g. --db-user orders_reader."))
    return problems
