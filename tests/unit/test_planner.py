"""Pure tests of the planner: teardown order from a hand-built State, and each step's plan() on hand-made facts.

No AWS at all: the Context's `aws` is a stand-in that has a region and nothing else, so any AWS call would fail.
"""
from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
from xacct_dataapi import policies
from xacct_dataapi.config import Config
from xacct_dataapi.context import Cluster, ConsumerPrincipal, Context, Inputs
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account, Action, JsonDoc, Ref, Sensitive, render_value, resolve_value
from xacct_dataapi.planner import generate_missing_values, plan_teardown
from xacct_dataapi.state import ResourceRow, State
from xacct_dataapi.steps import STEPS, access_role, endpoint, kms_key
from xacct_dataapi.steps.endpoint_members import MemberFacts, policy_for

NAME = "orders"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{PROVIDER}:cluster:orders-aurora"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{PROVIDER}:key/{KEY_ID}"
ALIAS = f"alias/xacct-{NAME}"
SECRET = f"xacct-{NAME}/db-credentials"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{PROVIDER}:secret:{SECRET}-AbC123"
ROLE = f"xacct-{NAME}-data-api-access"
ROLE_PATH = f"/xacct/{REGION}/orders-aurora/"
ROLE_ARN = f"arn:aws:iam::{PROVIDER}:role{ROLE_PATH}{ROLE}"
ROLE_POLICY = f"xacct-{NAME}-data-api"
USER = f"xacct-{NAME}-data-api-client"
USER_ARN = f"arn:aws:iam::{CONSUMER}:user/{USER}"
CONSUMER_POLICY = f"xacct-{NAME}-assume-data-api-access"
SG, VPCE = "sg-0abc1234abcd12345", "vpce-0abc1234abcd12345"
EXTERNAL_ID = "xacct-00112233445566778899aabbccddeeff"
VPC, VPC_CIDR, SUBNETS = "vpc-0abc1234", "10.20.0.0/16", ("subnet-0abc1234", "subnet-0def5678")
PASSWORD = "Pa55-w0rd-never-printed"


# --- teardown -------------------------------------------------------------------------------------

def full_rows() -> list[ResourceRow]:
    """What a full fresh setup records, in the order the runner records it (checked by test_fresh_plans_record_resources_in_the_order_the_teardown_state_assumes)."""
    return [
        ResourceRow(0, "data_api", "orders-aurora", "provider", arn=CLUSTER_ARN),
        ResourceRow(7, "security_group", SG, "consumer", name=f"xacct-{NAME}-rds-data-endpoint"),
        ResourceRow(7, "vpc_endpoint", VPCE, "consumer", name=f"xacct-{NAME}-rds-data"),
        ResourceRow(1, "kms_key", KEY_ID, "provider", arn=KEY_ARN),
        ResourceRow(1, "kms_alias", ALIAS, "provider", arn=f"arn:aws:kms:{REGION}:{PROVIDER}:{ALIAS}"),
        ResourceRow(6, "iam_user", USER, "consumer", arn=USER_ARN),
        ResourceRow(6, "consumer_user_policy", f"{USER}/{CONSUMER_POLICY}", "consumer", name=CONSUMER_POLICY),
        ResourceRow(2, "kms_key_policy", KEY_ID, "provider", arn=KEY_ARN),
        ResourceRow(3, "secret", SECRET, "provider", arn=SECRET_ARN),
        ResourceRow(5, "iam_role", ROLE, "provider", arn=ROLE_ARN),
        ResourceRow(5, "iam_role_policy", f"{ROLE}/{ROLE_POLICY}", "provider", name=ROLE_POLICY),
        ResourceRow(4, "secret_policy", SECRET, "provider", arn=SECRET_ARN),
    ]


def full_state(**config) -> State:
    return State(name=NAME, region=REGION, accounts={"consumer": CONSUMER, "provider": PROVIDER},
                 config={"key_deletion_days": 7, **config}, values={"cluster_engine_mode": "serverless"},
                 resources=full_rows())


FULL_TEARDOWN = [
    "ec2:delete_vpc_endpoint_and_wait",        # first: AWS releases its interfaces while the rest goes
    "forget",                     # secret policy: goes with the secret
    "iam:delete_role_policy",
    "iam:delete_role_with_policies",
    "secretsmanager:delete_secret_unless_gone",
    "forget",                     # key policy: goes with the key
    "iam:delete_user_policy",
    "iam:delete_user_with_dependents",
    "kms:delete_alias",
    "kms:schedule_key_deletion",
    "ec2:delete_security_group_when_released",      # late: waits for the endpoint's interfaces to go
    "rds:disable_data_api_unless_shared",           # Data API back off, unless another deployment uses the cluster
]


def calls_of(plan) -> list[str]:
    return [c.label for c in plan.calls]


def test_full_teardown_order():
    plan = plan_teardown(full_state())
    assert plan.kind == "teardown"
    assert calls_of(plan) == FULL_TEARDOWN
    assert [s.key for s in plan.steps] == ["endpoint", "secret_policy", "access_role", "secret", "key_policy",
                                          "consumer_principal", "kms_key", "endpoint", "data_api"]
    assert all(s.action is Action.DELETE for s in plan.steps)
    # Every recorded row is forgotten exactly once, by the call that removes it, in reverse order
    # (but for the endpoint first and its security group late).
    rows = [(r.kind, r.id) for r in reversed(full_rows())]
    endpoint, group, data_api = rows[-3], rows[-2], rows[-1]
    assert [c.forget for c in plan.calls] == [endpoint] + rows[:-3] + [group, data_api]


def test_full_teardown_parameters():
    by_method = {c.label: c for c in plan_teardown(full_state()).calls}
    assert by_method["ec2:delete_vpc_endpoint_and_wait"].params == {"VpcEndpointId": VPCE, "Member": NAME, "GroupId": SG}
    assert by_method["ec2:delete_security_group_when_released"].params == {"GroupId": SG}
    assert by_method["iam:delete_role_policy"].params == {"RoleName": ROLE, "PolicyName": ROLE_POLICY}
    assert by_method["iam:delete_role_with_policies"].params == {"RoleName": ROLE}
    assert by_method["iam:delete_user_policy"].params == {"UserName": USER, "PolicyName": CONSUMER_POLICY}
    assert by_method["iam:delete_user_with_dependents"].params == {"UserName": USER}
    assert by_method["kms:delete_alias"].params == {"AliasName": ALIAS}
    assert by_method["kms:schedule_key_deletion"].params == {"KeyId": KEY_ID, "PendingWindowInDays": 7}
    assert by_method["rds:disable_data_api_unless_shared"].params == {
        "ClusterId": "orders-aurora", "ClusterArn": CLUSTER_ARN, "EngineMode": "serverless", "Deployment": "orders"}
    assert by_method["iam:delete_role_policy"].account is Account.PROVIDER
    assert by_method["iam:delete_user_policy"].account is Account.CONSUMER


def test_teardown_of_a_provisioned_cluster_uses_disable_http_endpoint_and_the_key_window():
    s = full_state(key_deletion_days=30)
    s.values["cluster_engine_mode"] = "provisioned"
    by_method = {c.label: c for c in plan_teardown(s).calls}
    assert by_method["rds:disable_data_api_unless_shared"].params["EngineMode"] == "provisioned"
    assert by_method["kms:schedule_key_deletion"].params["PendingWindowInDays"] == 30


def test_secret_deletion_is_forced_by_default():
    (call,) = [c for c in plan_teardown(full_state()).calls if c.label == "secretsmanager:delete_secret_unless_gone"]
    assert call.params == {"SecretId": SECRET_ARN, "ForceDeleteWithoutRecovery": True}
    s = full_state(secret_recovery_days=None)  # what `teardown` stores without --secret-recovery-days
    (call,) = [c for c in plan_teardown(s).calls if c.label == "secretsmanager:delete_secret_unless_gone"]
    assert call.params == {"SecretId": SECRET_ARN, "ForceDeleteWithoutRecovery": True}


def test_secret_deletion_uses_the_recovery_window_when_set():
    (call,) = [c for c in plan_teardown(full_state(secret_recovery_days=14)).calls if c.label == "secretsmanager:delete_secret_unless_gone"]
    assert call.params == {"SecretId": SECRET_ARN, "RecoveryWindowInDays": 14}
    assert "ForceDeleteWithoutRecovery" not in call.params


def test_adopted_consumer_role_is_never_deleted():
    adopted = [
        ResourceRow(6, "consumer_role", "orders-app", "consumer", arn=f"arn:aws:iam::{CONSUMER}:role/orders-app", created=False),
        ResourceRow(6, "consumer_role_policy", f"orders-app/{CONSUMER_POLICY}", "consumer", name=CONSUMER_POLICY),
    ]
    rows = [r for r in full_rows() if r.kind not in ("iam_user", "consumer_user_policy")]
    rows[3:3] = adopted  # where step 6 records them
    s = full_state()
    s.resources = rows
    plan = plan_teardown(s)
    (step,) = [st for st in plan.steps if st.key == "consumer_principal"]
    assert [(c.label, c.params) for c in step.calls] == [
        ("iam:delete_role_policy", {"RoleName": "orders-app", "PolicyName": CONSUMER_POLICY}),
        ("forget", {}),
    ]
    assert step.calls[1].forget == ("consumer_role", "orders-app")
    touching_the_role = [c.label for c in plan.calls if "orders-app" in json.dumps(c.params)]
    assert touching_the_role == ["iam:delete_role_policy"]


def test_adopted_consumer_user_is_never_deleted():
    s = full_state()
    s.resources = [
        ResourceRow(6, "consumer_user", "orders-app", "consumer", created=False),
        ResourceRow(6, "consumer_user_policy", f"orders-app/{CONSUMER_POLICY}", "consumer"),
    ]
    assert calls_of(plan_teardown(s)) == ["iam:delete_user_policy", "forget"]


def test_teardown_of_an_empty_state_has_no_calls():
    plan = plan_teardown(State(name=NAME))
    assert plan.steps == [] and not plan.changes


def test_teardown_of_a_partial_state():
    s = full_state()
    s.resources = full_rows()[:5]  # a run that died after the alias
    assert calls_of(plan_teardown(s)) == ["ec2:delete_vpc_endpoint_and_wait", "kms:delete_alias",
                                          "kms:schedule_key_deletion", "ec2:delete_security_group_when_released",
                                          "rds:disable_data_api_unless_shared"]


# --- setup plans with a fake context --------------------------------------------------------------

def make_ctx(*, values: dict | None = None, state: State | None = None, principal: ConsumerPrincipal | None = None,
             data_api_on: bool = False) -> Context:
    cfg = Config(name=NAME, consumer_profile="consumer", provider_profile="provider", cluster="orders-aurora",
                 vpc_id=VPC, subnet_ids=SUBNETS, enable_data_api=True).validate()
    cluster = Cluster("orders-aurora", CLUSTER_ARN, "aurora-postgresql", "serverless",
                      "orders-aurora.cluster-c0ffee.us-west-2.rds.amazonaws.com", 5432, "orders", data_api_on)
    principal = principal or ConsumerPrincipal("user", USER, USER_ARN, adopted=False)
    aws = SimpleNamespace(region=REGION)  # the region and nothing else: no client, so no AWS call can happen
    ctx = Context(cfg, aws, state or State(name=NAME), Inputs(CONSUMER, PROVIDER, cluster, VPC_CIDR, principal),
                  lambda: PASSWORD, values={"cluster_arn": CLUSTER_ARN, "consumer_principal_arn": principal.arn,
                                            **(values or {})})
    generate_missing_values(ctx, STEPS)  # as plan_setup does after the inspections (the external id)
    return ctx


def default_acl() -> dict:
    entries = [{"RuleNumber": n, "Protocol": "-1", "RuleAction": a, "Egress": e, "CidrBlock": "0.0.0.0/0"}
               for e in (False, True) for n, a in ((100, "allow"), (32767, "deny"))]
    return {"NetworkAclId": "acl-0default", "Entries": entries}


FRESH = {
    "data_api": ({"enabled": False}, Action.CREATE, ["add_tags_to_resource", "modify_db_cluster"]),
    "endpoint": ({"sg": None, "endpoint": None, "conflicts": []}, Action.CREATE,
                 # the endpoint right after its group (it takes minutes to become available), then the rules
                 ["create_security_group", "create_vpc_endpoint", "authorize_security_group_ingress",
                  "revoke_security_group_egress", "authorize_security_group_egress", "confirm_endpoint_membership"]),
    "kms_key": ({"found": {}}, Action.CREATE, ["create_key", "create_alias"]),  # declared: nothing found
    "consumer_principal": ({"found": {}}, Action.CREATE, ["create_user", "put_user_policy"]),
    "key_policy": ({"found": {}}, Action.CREATE, ["put_key_policy"]),  # a declared step: nothing found
    "secret": ({"found": {}}, Action.CREATE, ["create_secret"]),
    "access_role": ({"found": {}}, Action.CREATE, ["create_role", "put_role_policy"]),
    "secret_policy": ({"found": {}}, Action.CREATE, ["put_resource_policy"]),
    "nacl_check": ({"acls": {SUBNETS[0]: default_acl(), SUBNETS[1]: default_acl()}}, Action.NOOP, []),
    "db_user": ({"enabled": False}, Action.NOOP, []),
}


def test_every_step_has_a_fresh_case():
    assert [s.key for s in STEPS] == list(FRESH)


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.key)
def test_each_step_plans_a_fresh_deployment(step):
    facts, action, methods = FRESH[step.key]
    plan = step.make_plan(make_ctx(), facts)
    assert (plan.number, plan.key) == (step.number, step.key)
    assert plan.action is action
    assert [c.label.split(":")[-1] for c in plan.calls] == methods
    assert plan.reason
    rendered = json.dumps(render_value([c.params for c in plan.calls]))  # what --dry-run prints
    assert PASSWORD not in rendered


def test_fresh_plans_record_resources_in_the_order_the_teardown_state_assumes():
    ctx = make_ctx()
    # A kind recorded twice (step 7 re-records the group its membership settles on) keeps its first place.
    kinds = list(dict.fromkeys(c.record.kind for st in STEPS for c in st.make_plan(ctx, FRESH[st.key][0]).calls if c.record))
    assert kinds == [r.kind for r in full_rows()]


def test_kms_key_without_a_key_creates_key_and_alias():
    plan = kms_key.STEP.make_plan(make_ctx(), {"found": {}})
    assert plan.action is Action.CREATE
    assert [(c.account, c.service, c.method) for c in plan.calls] == [
        (Account.PROVIDER, "kms", "create_key"), (Account.PROVIDER, "kms", "create_alias")]
    create_key, create_alias = plan.calls
    assert create_key.params["KeySpec"] == "SYMMETRIC_DEFAULT" and create_key.params["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert {"TagKey": "xacct:deployment", "TagValue": NAME} in create_key.params["Tags"]
    assert create_key.outputs == {"key_id": "KeyMetadata.KeyId", "key_arn": "KeyMetadata.Arn"}
    assert create_alias.params == {"AliasName": ALIAS, "TargetKeyId": Ref("key_id")}
    assert create_alias.record.arn == f"arn:aws:kms:{REGION}:{PROVIDER}:{ALIAS}"


def test_kms_key_pending_deletion_alias_is_repointed():
    """The alias names a key pending deletion, which no search locates: a new key, and the alias pointed at it."""
    alias = {"Alias": ALIAS, "TargetKeyId": "old-key-id", "Tags": OURS,
             "Key": {"KeyId": "old-key-id", "KeyState": "PendingDeletion", "KeyManager": "CUSTOMER"}}
    plan = kms_key.STEP.make_plan(make_ctx(), {"found": {("kms_alias", ALIAS): alias}})
    assert [c.method for c in plan.calls] == ["create_key", "update_alias"]
    assert plan.calls[1].params == {"AliasName": ALIAS, "TargetKeyId": Ref("key_id")}


def current_access_role_ctx():
    state = State(name=NAME, resources=[ResourceRow(5, "iam_role", ROLE, "provider", arn=ROLE_ARN),
                                        ResourceRow(5, "iam_role_policy", f"{ROLE}/{ROLE_POLICY}", "provider")])
    return make_ctx(state=state, values={"external_id": EXTERNAL_ID, "key_id": KEY_ID, "key_arn": KEY_ARN,
                                         "secret_arn": SECRET_ARN, "access_role_arn": ROLE_ARN})


def current_access_role_facts() -> dict:
    trust = policies.access_role_trust_policy(CONSUMER, USER_ARN, EXTERNAL_ID)
    trust["Statement"][0]["Action"] = ["sts:AssumeRole"]  # as IAM may hand it back: a list, keys reordered
    trust["Statement"][0] = dict(reversed(list(trust["Statement"][0].items())))
    perms = policies.access_role_permissions(CLUSTER_ARN, SECRET_ARN, KEY_ARN, REGION)
    perms["Statement"].reverse()
    return access_role_facts(trust, perms)


def access_role_facts(trust, perms, *, path: str = ROLE_PATH, tags: dict | None = None) -> dict:
    """A declared step's facts (steps/declared.py): what the IAM types read of the role and its inline policy."""
    arn = f"arn:aws:iam::{PROVIDER}:role{path}{ROLE}"
    role = {"RoleName": ROLE, "Name": ROLE, "Path": path, "Arn": arn, "Trust": trust,
            "Tags": {"xacct:deployment": NAME, "xacct:managed-by": "xacct"} if tags is None else tags}
    policy = perms and {"Principal": ROLE, "PolicyName": ROLE_POLICY, "Document": perms, "Owner": role}
    return {"found": {("iam_role", ROLE): role, ("iam_role_policy", f"{ROLE}/{ROLE_POLICY}"): policy}, "foreign": []}


def test_access_role_with_matching_trust_and_permissions_is_a_noop():
    plan = access_role.STEP.make_plan(current_access_role_ctx(), current_access_role_facts())
    assert plan.action is Action.NOOP
    assert plan.calls == []
    assert plan.problems == []
    assert plan.reason and ROLE in plan.reason
    assert set(plan.documents) == {"access_role_trust", "access_role_permissions"}


def test_access_role_with_another_external_id_is_repaired():
    facts = current_access_role_facts()
    facts["found"][("iam_role", ROLE)]["Trust"] = policies.access_role_trust_policy(CONSUMER, USER_ARN,
                                                                                    "xacct-somebody-else")
    plan = access_role.STEP.make_plan(current_access_role_ctx(), facts)
    assert plan.action is Action.REPAIR
    assert [c.method for c in plan.calls] == ["update_assume_role_policy"]
    assert plan.problems == ["trust TrustConsumerPrincipal: differs"]
    assert plan.calls[0].params["PolicyDocument"] == JsonDoc(policies.access_role_trust_policy(CONSUMER, USER_ARN, EXTERNAL_ID))


def test_access_role_at_the_root_path_is_replaced_in_one_step():
    """A role made before the path (at `/`): IAM cannot move it, so the one step deletes it (with its inline
    policy) and creates it at the cluster's path, then puts the policy back; same external id."""
    current = current_access_role_facts()["found"]
    facts = access_role_facts(current[("iam_role", ROLE)]["Trust"],
                              current[("iam_role_policy", f"{ROLE}/{ROLE_POLICY}")]["Document"], path="/")
    plan = access_role.STEP.make_plan(current_access_role_ctx(), facts)
    assert plan.action is Action.REPLACE
    assert plan.reason == f"role at path / → {ROLE_PATH}: IAM cannot move a role; replaced"
    assert [c.label for c in plan.calls] == ["iam:delete_role_with_policies", "iam:create_role", "iam:put_role_policy"]
    delete, create, _ = plan.calls
    assert delete.params == {"RoleName": ROLE} and delete.forget is None  # the row stays: same name, made again
    # Guarded as every delete is: right before it runs, AWS must show the role is this deployment's.
    assert delete.guard == {"kind": "iam_role", "id": ROLE, "reads": "IAM role", "deployment": NAME,
                            "arn": f"arn:aws:iam::{PROVIDER}:role/{ROLE}"}
    assert create.params["Path"] == ROLE_PATH and create.record.kind == "iam_role" and create.record.id == ROLE
    assert create.params["AssumeRolePolicyDocument"] == JsonDoc(
        policies.access_role_trust_policy(CONSUMER, USER_ARN, EXTERNAL_ID))


def test_access_role_not_ours_is_refused():
    current = current_access_role_facts()["found"]
    facts = access_role_facts(current[("iam_role", ROLE)]["Trust"], None, tags={})
    with pytest.raises(UsageError) as info:
        access_role.STEP.make_plan(current_access_role_ctx(), facts)
    assert ROLE in info.value.message and "xacct:deployment" in info.value.message


def test_access_role_at_the_root_path_carrying_a_foreign_policy_is_not_replaced():
    """Replacing the role would delete what xacct did not add (an attached policy): the step only reports it."""
    current = current_access_role_facts()["found"]
    facts = access_role_facts(current[("iam_role", ROLE)]["Trust"],
                              current[("iam_role_policy", f"{ROLE}/{ROLE_POLICY}")]["Document"], path="/")
    facts["foreign"] = ["attached policy arn:aws:iam::aws:policy/AdministratorAccess on role ..."]
    plan = access_role.STEP.make_plan(current_access_role_ctx(), facts)
    assert (plan.action, plan.calls) == (Action.CHECK, [])
    assert "must be replaced" in plan.reason and plan.foreign == facts["foreign"]


def test_endpoint_with_a_conflicting_private_dns_endpoint_is_a_usage_error():
    facts = {"sg": None, "endpoint": None, "extra_endpoints": [],
             "conflicts": [{"VpcEndpointId": "vpce-0other11112222333", "PrivateDnsEnabled": True, "State": "available"}]}
    with pytest.raises(UsageError) as info:
        endpoint.STEP.make_plan(make_ctx(), facts)
    assert "vpce-0other11112222333" in info.value.message
    assert VPC in info.value.message
    assert info.value.exit_code == 2


def test_secret_string_is_sensitive_until_execution():
    from xacct_dataapi.steps import secret

    ctx = make_ctx()
    (call,) = secret.STEP.make_plan(ctx, {"found": {}}).calls
    assert isinstance(call.params["SecretString"], Sensitive)
    assert PASSWORD not in repr(call.params) and PASSWORD not in str(call.params["SecretString"])
    assert json.loads(resolve_value(call.params["SecretString"], {}, ctx.secret_inputs()))["password"] == PASSWORD
    assert "password" in call.params["SecretString"].preview and PASSWORD not in json.dumps(render_value(call.params))
    assert call.params["KmsKeyId"] == Ref("key_arn")


# --- the contract of every step, pyinfra style: given these facts -> this action, these items, this reason -------

CURRENT_VALUES = {"external_id": EXTERNAL_ID, "key_id": KEY_ID, "key_arn": KEY_ARN, "secret_arn": SECRET_ARN,
                  "access_role_arn": ROLE_ARN, "security_group_id": SG, "endpoint_id": VPCE}
OURS = {"xacct:deployment": NAME, "xacct:managed-by": "xacct"}
CONNECTION = "app_user@orders-aurora.cluster-c0ffee.us-west-2.rds.amazonaws.com:5432/orders"


def current_ctx(*, without_rows: tuple[str, ...] = ()) -> Context:
    """A deployment that a previous run completed: every value known, every row recorded (minus `without_rows`)."""
    state = full_state()
    state.resources = [r for r in state.resources if r.kind not in without_rows]
    return make_ctx(state=state, values=CURRENT_VALUES, data_api_on=True)


def db_user_ctx() -> Context:
    """A completed deployment with --create-db-user (steps/db_user.py)."""
    import dataclasses

    ctx = current_ctx()
    ctx.cfg = dataclasses.replace(ctx.cfg, create_db_user=True, db_user="app_r", db_access="read")
    master = f"arn:aws:secretsmanager:{REGION}:{PROVIDER}:secret:rds!cluster-1-AbCdEf"
    ctx.inputs = dataclasses.replace(ctx.inputs, cluster=dataclasses.replace(ctx.cluster, master_user_secret=master))
    ctx.state.record(ResourceRow(9, "db_user", "app_r", "provider"))
    return ctx


def db_user_facts() -> dict:
    from xacct_dataapi.db_admin import DbUser, grant_drift

    return {"enabled": True, "versions": ("v2", "v2"), "user": DbUser("app_r", True, f"xacct:deployment={NAME}"),
            "drift": grant_drift(set(), set()), "db_error": None}


def tags(d: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in d.items()]


def current_facts(step_key: str, **changes) -> dict:
    """The facts an inspection of a completed deployment returns, with `changes` applied."""
    key = {"KeyId": KEY_ID, "Arn": KEY_ARN, "KeyState": "Enabled", "KeyManager": "CUSTOMER"}
    secret_desc = {"ARN": SECRET_ARN, "Name": SECRET, "KmsKeyId": KEY_ARN,
                   "Tags": tags({**OURS, "xacct:connection": CONNECTION})}
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": VPC_CIDR}]}
    member = {"xacct:endpoint": VPCE, "xacct:cluster": CLUSTER_ARN, "xacct:client-cidrs": VPC_CIDR}
    sg = {"GroupId": SG, "GroupName": f"xacct-{NAME}-rds-data-endpoint", "Tags": tags({**OURS, **member}),
          "IpPermissions": [https], "IpPermissionsEgress": [https]}
    ep = {"VpcEndpointId": VPCE, "State": "available", "SubnetIds": list(SUBNETS), "Groups": [{"GroupId": SG}],
          "PrivateDnsEnabled": True, "Tags": tags(OURS),
          "PolicyDocument": json.dumps(policy_for({NAME: MemberFacts(CLUSTER_ARN)}))}
    facts = {
        "data_api": {"enabled": True, "turned_on_unrecorded": False},
        "kms_key": {"key": key, "alias": {"Alias": ALIAS, "TargetKeyId": KEY_ID, "Tags": OURS, "Key": key}},
        "key_policy": {"policy": json.dumps(policies.key_policy(PROVIDER, ROLE_ARN, REGION, "aws"))},
        "secret": {"secret": secret_desc},
        "secret_policy": {"policy": json.dumps(policies.secret_resource_policy(ROLE_ARN, SECRET_ARN))},
        "access_role": current_access_role_facts(),
        "consumer_principal": {"exists": True, "tags": OURS, "policy": policies.consumer_assume_policy(ROLE_ARN)},
        "endpoint": {"sg": sg, "own": sg, "endpoint": ep, "conflicts": [], "joined": False,
                     "members": {NAME: MemberFacts(CLUSTER_ARN, (VPC_CIDR,), SG)}},
        "nacl_check": {"acls": {SUBNETS[0]: default_acl(), SUBNETS[1]: default_acl()}},
    }[step_key]
    for path, value in changes.items():
        target = facts
        *parents, leaf = path.split("__")
        for p in parents:
            target = target[p]
        target[leaf] = value
    if step_key == "kms_key":  # the key as its type locates it (tags from the alias's read), the alias as read
        found = {("kms_alias", ALIAS): facts["alias"]}
        return {"found": {**found, ("kms_key", KEY_ID): {**facts["key"], "Tags": OURS}}, "foreign": []}
    declared = {"key_policy": ("kms_key_policy", KEY_ID), "secret_policy": ("secret_policy", SECRET)}
    if step_key in declared:  # a declared step's facts: what AWS holds of each desired resource (steps/declared.py)
        return {"found": {declared[step_key]: facts["policy"] and {"Document": facts["policy"]}}}
    if step_key == "secret":
        return {"found": {("secret", SECRET): facts["secret"]}, "foreign": []}
    if step_key == "consumer_principal":
        user = {"UserName": USER, "Name": USER, "Arn": USER_ARN, "Tags": facts["tags"]}
        policy = facts["policy"] and {"Principal": USER, "PolicyName": CONSUMER_POLICY, "Document": facts["policy"],
                                      "Owner": None}
        return {"found": {("iam_user", USER): facts["exists"] and user,
                          ("consumer_user_policy", f"{USER}/{CONSUMER_POLICY}"): policy}, "foreign": []}
    return facts


def extra_statement(doc: dict) -> str:
    doc = json.loads(json.dumps(doc))
    doc["Statement"].append({"Sid": "AddedByHand", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*",
                             "Resource": "*"})
    return json.dumps(doc)


# (case id, step, context, facts, action, items, words the reason must contain)
CONTRACTS = [
    ("data_api on", "data_api", current_ctx, current_facts("data_api"), Action.NOOP, [], "already on"),
    ("data_api turned on by a killed run", "data_api", current_ctx,
     current_facts("data_api", turned_on_unrecorded=True), Action.REPAIR, ["record"], "did not record"),
    ("kms key current", "kms_key", current_ctx, current_facts("kms_key"), Action.NOOP, [],
     f"KMS key {KEY_ID} is current, KMS alias {ALIAS} is current"),
    ("kms key disabled", "kms_key", current_ctx, current_facts("kms_key", key__KeyState="Disabled"), Action.REPAIR,
     ["kms:enable_key"], "disabled"),
    ("kms key found by tag only", "kms_key", lambda: current_ctx(without_rows=("kms_key", "kms_alias")),
     current_facts("kms_key"), Action.REPAIR, ["record", "record"], f"KMS key {KEY_ID} exists but was not recorded"),
    ("kms alias missing", "kms_key", current_ctx, current_facts("kms_key", alias=None), Action.CREATE,
     ["kms:create_alias"], f"no KMS alias {ALIAS}"),
    ("kms alias moved by hand", "kms_key", current_ctx, current_facts("kms_key", alias__TargetKeyId="other-key"),
     Action.REPAIR, ["kms:update_alias"], f"{ALIAS} points at key other-key, desired key {KEY_ID}"),
    ("key policy current", "key_policy", current_ctx, current_facts("key_policy"), Action.NOOP, [], "current"),
    ("key policy with a statement added by hand", "key_policy", current_ctx,
     current_facts("key_policy", policy=extra_statement(policies.key_policy(PROVIDER, ROLE_ARN, REGION))),
     Action.REPAIR, ["kms:put_key_policy"], "differs"),
    ("secret current", "secret", current_ctx, current_facts("secret"), Action.NOOP, [], f"secret {SECRET} is current"),
    ("secret for another database user", "secret", current_ctx,
     current_facts("secret", secret__Tags=tags({**OURS, "xacct:connection": "someone@elsewhere:5432/x"})),
     Action.REPAIR, ["secretsmanager:update_secret", "secretsmanager:tag_resource"], "holds credentials for someone@"),
    ("secret made by a killed run", "secret", lambda: current_ctx(without_rows=("secret",)), current_facts("secret"),
     Action.REPAIR, ["record"], "exists but was not recorded"),
    ("secret scheduled for deletion", "secret", current_ctx, current_facts("secret", secret__DeletedDate="2026-11-30"),
     Action.REPAIR, ["secretsmanager:restore_secret", "secretsmanager:update_secret", "secretsmanager:tag_resource"],
     "scheduled for deletion"),
    ("secret under another key", "secret", current_ctx, current_facts("secret", secret__KmsKeyId="alias/aws/secretsmanager"),
     Action.REPAIR, ["secretsmanager:update_secret", "secretsmanager:tag_resource"], "not the xacct key"),
    ("secret policy current", "secret_policy", current_ctx, current_facts("secret_policy"), Action.NOOP, [], "current"),
    ("secret policy missing", "secret_policy", current_ctx, current_facts("secret_policy", policy=None), Action.CREATE,
     ["secretsmanager:put_resource_policy"], "no secret policy"),
    ("access role current", "access_role", current_ctx, current_facts("access_role"), Action.NOOP, [],
     "IAM role xacct-orders-data-api-access is current"),
    ("access role lost its inline policy", "access_role", current_ctx,
     current_facts("access_role", found={**current_facts("access_role")["found"],
                                         ("iam_role_policy", f"{ROLE}/{ROLE_POLICY}"): None}),
     Action.CREATE, ["iam:put_role_policy"], "no inline policy"),
    ("consumer user current", "consumer_principal", current_ctx, current_facts("consumer_principal"), Action.NOOP, [],
     f"IAM user {USER} is current"),
    ("consumer user's policy edited", "consumer_principal", current_ctx,
     current_facts("consumer_principal", policy=json.loads(extra_statement(policies.consumer_assume_policy(ROLE_ARN)))),
     Action.REPAIR, ["iam:put_user_policy"], "inline policy"),
    ("consumer user's policy names another role", "consumer_principal", current_ctx,  # ours: it is on our user
     current_facts("consumer_principal", policy=policies.consumer_assume_policy("arn:aws:iam::999999999999:role/x")),
     Action.REPAIR, ["iam:put_user_policy"], "differs"),
    ("another deployment's user", "consumer_principal", current_ctx,
     current_facts("consumer_principal", tags={"xacct:deployment": "other", "xacct:managed-by": "xacct"}),
     None, [], ""),
    ("endpoint current", "endpoint", current_ctx, current_facts("endpoint"), Action.NOOP, [], "as expected"),
    ("endpoint still pending", "endpoint", current_ctx, current_facts("endpoint", endpoint__State="pending"),
     Action.REPAIR, ["wait"], "pending, not available"),
    ("endpoint whose group lost its membership facts", "endpoint", current_ctx, current_facts("endpoint", members={}),
     Action.REPAIR, ["ec2:join_shared_endpoint"], "membership"),
    ("endpoint lost a subnet", "endpoint", current_ctx, current_facts("endpoint", endpoint__SubnetIds=[SUBNETS[0]]),
     Action.REPAIR, ["ec2:modify_vpc_endpoint"], "endpoint differs"),
    ("nacls pass https", "nacl_check", current_ctx, current_facts("nacl_check"), Action.NOOP, [], "pass tcp/443"),
    ("db user in step with the secret", "db_user", lambda: db_user_ctx(), db_user_facts(), Action.NOOP, [],
     "holds the current password"),
]


@pytest.mark.parametrize("case, step_key, ctx, facts, action, items, reason", CONTRACTS, ids=[c[0] for c in CONTRACTS])
def test_step_contract(case, step_key, ctx, facts, action, items, reason):
    step = next(s for s in STEPS if s.key == step_key)
    if action is None:  # another deployment's resource: refused by name, nothing planned
        with pytest.raises(UsageError) as info:
            step.make_plan(ctx(), facts)
        assert "not deployment 'orders'" in info.value.message and info.value.exit_code == 2
        return
    planned = step.make_plan(ctx(), facts)
    assert (planned.action, [c.label for c in planned.calls]) == (action, items), planned.reason
    assert reason in planned.reason
    assert planned.desired or step_key == "nacl_check"  # every step but the NACL check wants something to exist


def test_every_step_has_a_noop_contract():
    noop_steps = {c[1] for c in CONTRACTS if c[4] is Action.NOOP}
    assert noop_steps == {s.key for s in STEPS}


@pytest.mark.parametrize("unrecorded", [(), ("vpc_endpoint",), ("vpc_endpoint", "security_group")],
                         ids=["recorded", "endpoint-unrecorded", "nothing-recorded"])
def test_status_of_a_pending_endpoint_is_pending_not_done(unrecorded):
    """Regression: a wait-only item used to count as bookkeeping, so status said `done` while the endpoint was pending
    and not yet recorded (and `drifted` while it was pending and recorded)."""
    from xacct_dataapi.status import step_status

    ctx = current_ctx(without_rows=unrecorded)
    planned = endpoint.STEP.make_plan(ctx, current_facts("endpoint", endpoint__State="pending"))
    status, detail = step_status(planned, ctx.state, endpoint.STEP.kinds)
    assert status == "pending"
    assert any("pending" in d for d in detail)


def test_an_inline_policy_iam_returns_url_encoded_is_compared_decoded():
    """IAM returns policy documents URL-encoded (boto3 decodes them, a raw client may not): the type decodes it."""
    from xacct_dataapi.resource_types.iam_policy import AccessRolePolicy

    perms = policies.access_role_permissions(CLUSTER_ARN, SECRET_ARN, KEY_ARN, REGION)
    client = SimpleNamespace(get_role_policy=lambda **kw: {"PolicyDocument": quote(json.dumps(perms), safe="")})
    found = AccessRolePolicy().read_part(client, SimpleNamespace(id=f"{ROLE}/{ROLE_POLICY}", arn=None))
    assert found["Document"] == perms and found["Principal"] == ROLE


def test_rotate_password_writes_new_credentials_without_calling_it_drift():
    import dataclasses

    from xacct_dataapi.steps import secret

    ctx = current_ctx()
    ctx.cfg = dataclasses.replace(ctx.cfg, rotate_password=True)
    plan = secret.STEP.make_plan(ctx, current_facts("secret"))
    assert (plan.action, [c.label for c in plan.calls]) == (
        Action.REPAIR, ["secretsmanager:update_secret", "secretsmanager:tag_resource"])
    assert plan.problems == [] and plan.reason == f"--rotate-password: new credentials for {CONNECTION}"
    update = plan.calls[0]
    assert update.params["SecretId"] == SECRET_ARN and "KmsKeyId" not in update.params  # the key is right
    assert isinstance(update.params["SecretString"], Sensitive)
    assert PASSWORD not in json.dumps(render_value(update.params)) and "********" in json.dumps(render_value(update.params))


def test_an_adopted_role_is_recorded_as_not_created_and_gets_only_the_policy():
    arn = f"arn:aws:iam::{CONSUMER}:role/app/orders-app"
    ctx = make_ctx(principal=ConsumerPrincipal("role", "orders-app", arn, adopted=True))
    from xacct_dataapi.steps import consumer_principal

    facts = {"found": {("consumer_role", "orders-app"): {"RoleName": "orders-app", "Arn": arn},
                       ("consumer_role_policy", f"orders-app/{CONSUMER_POLICY}"): None}, "foreign": []}
    plan = consumer_principal.STEP.make_plan(ctx, facts)
    assert (plan.action, [c.label for c in plan.calls]) == (Action.CREATE, ["record", "iam:put_role_policy"])
    record, put = plan.calls
    assert (record.record.kind, record.record.id, record.record.arn, record.record.created) == (
        "consumer_role", "orders-app", arn, False)
    assert put.params["RoleName"] == "orders-app" and put.record.kind == "consumer_role_policy"
    assert "create_role" not in [c.label for c in plan.calls]  # never made, tagged or changed by xacct
