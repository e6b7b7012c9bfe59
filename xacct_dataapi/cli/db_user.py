"""The options of the deployment's own database user (--create-db-user), shared by `setup`, `permissions` and
`rotate`. Parsing only: the work is commands/setup.py's, with steps/db_user.py planning it."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

CreateDbUser = Annotated[Optional[bool], typer.Option(
    "--create-db-user", show_default=False,
    help="xacct creates the --db-user through the Data API as the cluster's admin, with a password from Secrets "
         "Manager that nobody sees (rotation protocol: AWSPENDING, then AWSCURRENT), and applies the grants.")]
DbAccess = Annotated[Optional[str], typer.Option(
    "--db-access", metavar="read|write",
    help="With --create-db-user: read (SELECT) or write (SELECT, INSERT, UPDATE, DELETE) on every table of --db-schema.")]
DbSchema = Annotated[Optional[str], typer.Option("--db-schema", help="The schema --db-access applies to (default public).")]
DbGrant = Annotated[Optional[list[str]], typer.Option(
    "--db-grant", metavar="'PRIVILEGES ON OBJECTS'",
    help="A grant to hold, e.g. 'SELECT ON TABLE public.orders'; repeatable. Grants are desired state: a re-run "
         "revokes what is no longer asked for.")]
AdminSecret = Annotated[Optional[str], typer.Option(
    "--admin-secret", metavar="ARN",
    help="The secret of the admin that creates the user (default: the cluster's RDS-managed master user secret).")]


def db_user_given(create_db_user: bool | None, db_access: str | None, db_schema: str | None,
                  db_grant: list[str] | None, admin_secret: str | None) -> dict:
    """setup's `given` entries (None: not given, the recorded value stays)."""
    return {"create_db_user": create_db_user or None, "db_access": db_access, "db_schema": db_schema,
            "db_grants": tuple(db_grant) if db_grant else None, "admin_secret": admin_secret}
