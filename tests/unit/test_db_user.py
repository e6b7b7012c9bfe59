"""The database user's pure parts (db_sql, db_options, steps/db_user's plan): the grant grammar, its expansion, the
SQL it sends (never the password), and what the step plans for each arrangement of the secret's staging labels."""
from __future__ import annotations

import dataclasses
import json

import pytest

from tests.unit.test_planner import PASSWORD, make_ctx
from xacct_dataapi import db_sql
from xacct_dataapi.db_admin import DbUser, grant_drift
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Action, render_value
from xacct_dataapi.state import ResourceRow
from xacct_dataapi.steps import db_user

MASTER = "arn:aws:secretsmanager:us-west-2:222222222222:secret:rds!cluster-1234-AbCdEf"


def test_grant_grammar_and_its_errors():
    assert db_sql.parse_grant("select, INSERT on table Sales.Orders") == db_sql.GrantSpec(
        "table", ("SELECT", "INSERT"), "sales", "orders")
    assert db_sql.parse_grant("SELECT ON orders").schema == "public"
    assert db_sql.parse_grant("ALL ON ALL SEQUENCES IN SCHEMA s").privileges == db_sql.SEQUENCE_PRIVILEGES
    assert db_sql.parse_grant("USAGE ON SCHEMA s").kind == "schema"
    for bad in ("SELECT ON orders; DROP TABLE x", "SELECT ON \"x\"", "DROP ON orders", "CREATE ON TABLE t", "ON t", ""):
        with pytest.raises(db_sql.GrantError):
            db_sql.parse_grant(bad)


def test_expansion_covers_the_tables_there_are():
    specs = db_sql.preset("read", "public")
    found = db_sql.expand(specs, {"table": ["public.a", "other.b"], "sequence": ["public.a_id_seq"]})
    assert {str(p) for p in found} == {"USAGE ON SCHEMA public", "SELECT ON TABLE public.a",
                                       "USAGE ON SEQUENCE public.a_id_seq", "SELECT ON SEQUENCE public.a_id_seq"}
    drift = grant_drift({db_sql.Privilege("table", "public.a", "INSERT")}, found)
    assert "not asked for: INSERT ON TABLE public.a" in drift.lines() and len(drift.missing) == 4


def test_the_sql_carries_a_verifier_never_the_password():
    verifier = db_sql.scram_verifier("pw-never-sent")
    assert verifier.startswith("SCRAM-SHA-256$4096:") and "pw-never-sent" not in verifier
    sql = db_sql.create_user_sql("app_r", verifier, "orders")
    assert sql.startswith("DO $$ BEGIN CREATE ROLE \"app_r\" LOGIN PASSWORD 'SCRAM-SHA-256$4096:")
    assert "COMMENT ON ROLE \"app_r\" IS 'xacct:deployment=orders'" in sql
    assert db_sql.grant_sql(db_sql.Privilege("table", "public.t", "SELECT"), "u") == 'GRANT SELECT ON TABLE "public"."t" TO "u"'


def ctx_with(**cfg):
    ctx = make_ctx(values={"secret_arn": "arn:aws:secretsmanager:us-west-2:222222222222:secret:s-AbCdEf"})
    ctx.cfg = dataclasses.replace(ctx.cfg, create_db_user=True, db_user="app_r", db_access="read", **cfg).validate()
    ctx.inputs = dataclasses.replace(ctx.inputs, cluster=dataclasses.replace(ctx.cluster, master_user_secret=MASTER))
    return ctx


def facts(user=None, versions=("v1", None), drift=None):
    return {"enabled": True, "versions": versions, "user": user, "drift": drift, "db_error": None}


OURS = DbUser("app_r", True, "xacct:deployment=orders")


def test_fresh_user_is_one_operation_with_no_password_in_it():
    plan = db_user.STEP.make_plan(ctx_with(), facts())
    assert plan.action is Action.CREATE and [c.label for c in plan.calls] == ["db:converge_user"]
    (op,) = plan.calls
    assert op.params["admin_secret"] == MASTER and op.record.kind == "db_user"
    assert json.loads(op.record.name) == {"admin_secret": MASTER, "database": "orders"}
    assert PASSWORD not in json.dumps(render_value(op.params))


@pytest.mark.parametrize("versions, rotate, action", [
    (("v2", "v2"), False, Action.NOOP),  # AWSPENDING on the current version: the database holds it
    (("v2", "v1"), False, Action.REPAIR),  # a run killed before the promotion
    (("v2", None), False, Action.REPAIR),  # the secret step wrote a new version
    (("v2", "v2"), True, Action.REPAIR),  # xacct rotate
])
def test_the_staging_labels_decide(versions, rotate, action):
    ctx = ctx_with(rotate_db_password=rotate)
    ctx.state.record(ResourceRow(9, "db_user", "app_r", "provider"))
    plan = db_user.STEP.make_plan(ctx, facts(OURS, versions, grant_drift(set(), set())))
    assert plan.action is action


def test_a_user_xacct_did_not_create_is_refused():
    with pytest.raises(UsageError, match="xacct did not create it"):
        db_user.STEP.make_plan(ctx_with(), facts(DbUser("app_r", True, None)))


def test_no_admin_secret_names_the_fix():
    ctx = ctx_with()
    ctx.inputs = dataclasses.replace(ctx.inputs, cluster=dataclasses.replace(ctx.cluster, master_user_secret=None))
    with pytest.raises(UsageError, match="--admin-secret"):
        db_user.STEP.make_plan(ctx, facts())


def test_options_are_checked_together():
    ctx = make_ctx()
    with pytest.raises(UsageError) as e:
        dataclasses.replace(ctx.cfg, db_access="all", db_schema="bad-name", db_grants=("DROP ON t",),
                            admin_secret="nope").validate()
    text = e.value.message
    for fragment in ("only with --create-db-user", "'all' is not a preset", "'bad-name' is not a schema",
                     "DROP cannot be granted", "'nope' is not a Secrets Manager secret ARN"):
        assert fragment in text


def test_teardown_trusts_the_database_not_the_row():
    from xacct_dataapi.config import Names
    from xacct_dataapi.errors import AwsError
    from xacct_dataapi.resource_types.db import DbUser as DbUserType, admin_for

    rtype, row = DbUserType(), ResourceRow(9, "db_user", "app_user", "provider")
    assert not rtype.judge(DbUser("app_user", True, None), row, Names("orders")).ours  # made by someone else
    assert not rtype.judge(DbUser("app_user", True, "xacct:deployment=orders2"), row, Names("orders")).ours
    assert rtype.judge(DbUser("app_user", True, "xacct:deployment=orders"), row, Names("orders")).ours
    cluster = "arn:aws:rds:us-west-2:222222222222:cluster:orders-aurora"
    for where in (None, "{}", json.dumps({"admin_secret": "x; DROP", "database": "app"}),
                  json.dumps({"admin_secret": MASTER, "database": "app; DROP"})):
        with pytest.raises(AwsError):
            admin_for("app_user", cluster, where)
    assert admin_for("app_user", cluster, json.dumps({"admin_secret": MASTER, "database": "app"})).database == "app"


def test_a_refused_random_password_is_awss_answer_naming_the_call_not_a_bug():
    """GetRandomPassword is asked lazily (the secret's first version), where no step names a failed call: a denial
    is an AwsError (exit 1) naming the operation and the missing permission, not "Internal error"."""
    import boto3
    from botocore.stub import Stubber

    from xacct_dataapi.db_admin import random_password
    from xacct_dataapi.errors import AwsError

    sm = boto3.client("secretsmanager", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(sm) as stub:
        stub.add_client_error("get_random_password", "AccessDeniedException", "not authorized to perform: "
                              "secretsmanager:GetRandomPassword")
        with pytest.raises(AwsError) as info:
            random_password(sm)
    assert info.value.exit_code == 1
    assert "GetRandomPassword" in info.value.message and "AccessDeniedException" in info.value.message
    assert "lacks a permission" in (info.value.hint or "")
