"""Every step against moto (in-process, two simulated accounts): create -> the resource is in the right
account (and not in the other), tagged, with the exact policy document -> recorded in the state file ->
a second run is all no-op and makes no AWS call -> teardown removes it.

Plus: an adopted consumer role, hand-made drift and deletions that status reports and setup repairs,
the Data API prerequisite, and the read-only NACL check (step 8).

The pipeline is driven the way xacct_dataapi.app.setup drives it (tests/helpers/pipeline.py).
"""
from __future__ import annotations

from fnmatch import fnmatchcase

import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION, ROLE_PATH, access_role_arn
from tests.helpers.inventory import tags_of
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import authorization_paused, grant, least_privilege, world_of_operators  # noqa: F401
from tests.helpers.pipeline import apply_setup, apply_teardown, made_in_chain_order, plan_for, setup_context
from tests.helpers.profiles import isolate
from tests.helpers.world import open_sessions, seed
from xacct_dataapi import policies
from xacct_dataapi import state as state_mod
from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED, Config, state_path_for
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Action, Plan, StepPlan
from xacct_dataapi.planner import plan_teardown
from xacct_dataapi.runner import Runner
from xacct_dataapi.state import State
from xacct_dataapi.status import status_report
from xacct_dataapi.steps.endpoint_members import MemberFacts, policy_for

NAME = "orders"

pytestmark = pytest.mark.usefixtures("fast_aws")


# --------------------------------------------------------------------------- helpers


def code_of(fn, **kwargs) -> str:
    """The AWS error code `fn(**kwargs)` fails with (the call must fail)."""
    with pytest.raises(ClientError) as info:
        fn(**kwargs)
    return info.value.response["Error"]["Code"]


def assert_xacct_tags(tags: list[dict] | None, name: str = NAME) -> None:
    d = tags_of(tags)
    assert d.get(TAG_DEPLOYMENT) == name, d
    assert d.get(TAG_MANAGED) == "xacct", d


def rules(perms: list[dict]) -> set[tuple]:
    """(protocol, from, to, cidr) of every IPv4 range; fails if a rule names anything else."""
    out = set()
    for p in perms:
        assert not p.get("UserIdGroupPairs") and not p.get("PrefixListIds") and not p.get("Ipv6Ranges"), p
        for r in p.get("IpRanges", []):
            out.add((p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"]))
    return out


def step_of(plan: Plan, number: int) -> StepPlan:
    return next(s for s in plan.steps if s.number == number)


def methods(step: StepPlan) -> list[str]:
    return [c.label.replace(":", ".") for c in step.calls]


class Deployment:
    """One deployment, planned and applied exactly as `xacct setup` / `xacct teardown` do it."""

    def __init__(self, world, password: str, name: str = NAME, **cfg):
        self.world = world
        self.password = password
        cfg.setdefault("enable_data_api", True)  # the seeded cluster has the Data API off
        self.cfg = Config(name=name, consumer_profile="consumer", provider_profile="provider", cluster=world.cluster_id,
                          vpc_id=world.vpc_id, subnet_ids=world.subnet_ids, **cfg).validate()
        self.names = self.cfg.names
        self.path = state_path_for(name)  # the autouse fixture chdirs to tmp_path
        self.sleeps: list[float] = []

    def load(self) -> State | None:
        return state_mod.load(self.path)

    def context(self):
        return setup_context(self.cfg, self.password, self.path)

    def plan(self):
        return plan_for(self.cfg, self.password, self.path)

    def runner(self, ctx, state: State) -> Runner:
        return Runner(ctx.aws, state, self.path, sleep=self.sleeps.append, secrets=ctx.secret_inputs())

    def apply(self, ctx=None, plan: Plan | None = None) -> tuple[Plan, Runner]:
        """What commands.setup._setup_locked does after the plan is confirmed (tests.helpers.pipeline.apply_setup)."""
        if ctx is None:
            ctx, plan = self.plan()
        return plan, apply_setup(ctx, plan, self.path, sleep=self.sleeps.append)

    def teardown(self, key_deletion_days: int | None = None) -> tuple[Plan, Runner, State]:
        return apply_teardown(self.path, key_deletion_days=key_deletion_days, sleep=self.sleeps.append)


@pytest.fixture
def deployed(world, password) -> Deployment:
    dep = Deployment(world, password)
    dep.first_plan, dep.first_runner = dep.apply()
    return dep


PASSWORD = "s3cret-Passw0rd-class-shared"


@pytest.fixture(scope="class")
def shared(tmp_path_factory) -> Deployment:
    """One deployment for the read-only per-step tests (same seed as tests/conftest.py's `world`), set up by
    least-privilege operators as `world_of_operators` does; dep.world.consumer / .provider are the accounts'
    administrators, for looking. Each test's own profiles (conftest's isolated_aws_env) are pointed back at this
    fixture's, whose `consumer` / `provider` are the operators (operator_profiles)."""
    from moto import mock_aws

    from xacct_dataapi.sandbox import limits

    with pytest.MonkeyPatch.context() as mp:
        directory = tmp_path_factory.mktemp("shared")
        isolate(mp, directory)
        limits.install()
        with mock_aws(config={"core": {"mock_credentials": False}}), \
                least_privilege(seed(*open_sessions())) as world:
            dep = Deployment(world, PASSWORD)
            dep.profiles = {var: os.environ[var] for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
            dep.first_plan, dep.first_runner = dep.apply()
            yield dep


@pytest.fixture
def operator_profiles(shared, monkeypatch) -> Deployment:
    """The shared deployment, with this test's `consumer` / `provider` profiles its operators' again."""
    for var, value in shared.profiles.items():
        monkeypatch.setenv(var, value)
    return shared


def provider_role(dep: Deployment) -> dict:
    return dep.world.provider.client("iam").get_role(RoleName=dep.names.access_role)["Role"]


def provider_key(dep: Deployment) -> dict:
    return dep.world.provider.client("kms").describe_key(KeyId=dep.names.key_alias)["KeyMetadata"]


def provider_secret(dep: Deployment) -> dict:
    return dep.world.provider.client("secretsmanager").describe_secret(SecretId=dep.names.secret)


def consumer_user(dep: Deployment) -> dict:
    return dep.world.consumer.client("iam").get_user(UserName=dep.names.consumer_user)["User"]


# --------------------------------------------------------------------------- create, one test per step


class TestEachStepCreated:
    """One deployment (set up once for the class), one test per step: read-only assertions only."""

    def test_data_api_prerequisite_turned_on_in_provider(self, shared):
        step = step_of(shared.first_plan, 0)
        assert step.action is Action.CREATE
        # the seeded cluster is Serverless v1: ModifyDBCluster(EnableHttpEndpoint) is the switch there
        assert methods(step) == ["rds.add_tags_to_resource", "rds.modify_db_cluster"]
        assert step.calls[1].params["EnableHttpEndpoint"] is True

        rds = shared.world.provider.client("rds")
        assert rds.describe_db_clusters(DBClusterIdentifier=shared.world.cluster_id)["DBClusters"][0]["HttpEndpointEnabled"] is True
        # tagged before the switch, so a teardown without the state file finds and turns it off again
        tags = rds.list_tags_for_resource(ResourceName=shared.world.cluster_arn)["TagList"]
        assert {"Key": "xacct:data-api-enabled-by", "Value": shared.names.deployment} in tags
        consumer_rds = shared.world.consumer.client("rds")
        assert code_of(consumer_rds.describe_db_clusters, DBClusterIdentifier=shared.world.cluster_id) == "DBClusterNotFoundFault"

        row = shared.load().find("data_api", shared.world.cluster_id)
        assert row is not None and row.account == "provider" and row.created is True
        assert row.arn == shared.world.cluster_arn

    def test_step1_kms_key_in_provider_with_alias_and_tags(self, shared):
        step = step_of(shared.first_plan, 1)
        assert step.action is Action.CREATE
        assert methods(step) == ["kms.create_key", "kms.create_alias"]

        kms = shared.world.provider.client("kms")
        meta = provider_key(shared)
        assert meta["KeyState"] == "Enabled" and meta["KeyManager"] == "CUSTOMER"
        assert meta["Arn"] == f"arn:aws:kms:{REGION}:{PROVIDER}:key/{meta['KeyId']}"
        assert_xacct_tags(kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"])
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
        assert aliases[shared.names.key_alias] == meta["KeyId"]

        consumer_kms = shared.world.consumer.client("kms")
        assert code_of(consumer_kms.describe_key, KeyId=meta["KeyId"]) == "NotFoundException"
        assert code_of(consumer_kms.describe_key, KeyId=shared.names.key_alias) == "NotFoundException"
        assert shared.names.key_alias not in {a["AliasName"] for a in consumer_kms.list_aliases()["Aliases"]}

        state = shared.load()
        key_row = state.find("kms_key", meta["KeyId"])
        assert key_row is not None and key_row.arn == meta["Arn"] and key_row.account == "provider"
        alias_row = state.find("kms_alias", shared.names.key_alias)
        assert alias_row is not None and alias_row.arn == f"arn:aws:kms:{REGION}:{PROVIDER}:{shared.names.key_alias}"
        assert state.values["key_arn"] == meta["Arn"]

    def test_step2_key_policy_is_exactly_the_builder_document(self, shared):
        step = step_of(shared.first_plan, 2)
        assert step.action is Action.CREATE
        assert methods(step) == ["kms.put_key_policy"]

        meta = provider_key(shared)
        written = json.loads(shared.world.provider.client("kms").get_key_policy(
            KeyId=meta["KeyId"], PolicyName="default")["Policy"])
        # The access role, named by ARN in a condition: the consumer only ever decrypts as that role.
        assert written == policies.key_policy(PROVIDER, access_role_arn(NAME), REGION)
        assert CONSUMER not in json.dumps(written)

        row = shared.load().find("kms_key_policy", meta["KeyId"])
        assert row is not None and row.arn == meta["Arn"] and row.account == "provider"

    def test_step3_secret_in_provider_encrypted_with_the_key(self, shared):
        step = step_of(shared.first_plan, 3)
        assert step.action is Action.CREATE
        assert methods(step) == ["secretsmanager.create_secret"]

        desc = provider_secret(shared)
        key = provider_key(shared)
        assert desc["KmsKeyId"] == key["Arn"]  # the full ARN, never a bare id
        assert_xacct_tags(desc["Tags"])
        assert desc["ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:{PROVIDER}:secret:{shared.names.secret}-")
        with authorization_paused():  # only the access role may read the value, as on AWS
            value = json.loads(shared.world.provider.client("secretsmanager").get_secret_value(
                SecretId=desc["ARN"])["SecretString"])
        cluster = shared.world.provider.client("rds").describe_db_clusters(
            DBClusterIdentifier=shared.world.cluster_id)["DBClusters"][0]
        assert value == {"username": "app_user", "password": PASSWORD, "engine": "postgres",
                         "host": cluster["Endpoint"], "port": 5432, "dbname": "orders"}

        consumer_sm = shared.world.consumer.client("secretsmanager")
        assert code_of(consumer_sm.describe_secret, SecretId=shared.names.secret) == "ResourceNotFoundException"

        row = shared.load().find("secret", shared.names.secret)
        assert row is not None and row.arn == desc["ARN"] and row.account == "provider"
        # the password never reaches the state file
        assert PASSWORD not in shared.path.read_text()

    def test_step4_secret_policy_names_only_the_access_role(self, shared):
        step = step_of(shared.first_plan, 4)
        assert step.action is Action.CREATE
        assert methods(step) == ["secretsmanager.put_resource_policy"]
        assert step.calls[0].params["BlockPublicPolicy"] is True

        desc = provider_secret(shared)
        written = json.loads(shared.world.provider.client("secretsmanager").get_resource_policy(
            SecretId=desc["ARN"])["ResourcePolicy"])
        assert written == policies.secret_resource_policy(provider_role(shared)["Arn"], desc["ARN"])

        row = shared.load().find("secret_policy", shared.names.secret)
        assert row is not None and row.arn == desc["ARN"] and row.account == "provider"

    def test_step5_access_role_in_provider_with_trust_and_permissions(self, shared):
        step = step_of(shared.first_plan, 5)
        assert step.action is Action.CREATE
        assert methods(step) == ["iam.create_role", "iam.put_role_policy"]

        iam = shared.world.provider.client("iam")
        role = provider_role(shared)
        # Under the cluster's IAM path, which its ARN carries (config.Names.access_role_path).
        assert role["Path"] == ROLE_PATH
        assert role["Arn"] == access_role_arn(NAME)
        assert role["MaxSessionDuration"] == 3600
        assert_xacct_tags(iam.list_role_tags(RoleName=shared.names.access_role)["Tags"])

        state = shared.load()
        external_id = state.values["external_id"]
        assert external_id.startswith("xacct-") and len(external_id) > 20
        user_arn = consumer_user(shared)["Arn"]
        trust = policies.parse(role["AssumeRolePolicyDocument"])
        assert trust == policies.access_role_trust_policy(CONSUMER, user_arn, external_id)

        perms = policies.parse(iam.get_role_policy(RoleName=shared.names.access_role,
                                                   PolicyName=shared.names.access_role_policy)["PolicyDocument"])
        assert perms == policies.access_role_permissions(shared.world.cluster_arn, provider_secret(shared)["ARN"],
                                                         provider_key(shared)["Arn"], REGION)
        assert iam.list_role_policies(RoleName=shared.names.access_role)["PolicyNames"] == [shared.names.access_role_policy]
        assert iam.list_attached_role_policies(RoleName=shared.names.access_role)["AttachedPolicies"] == []

        consumer_iam = shared.world.consumer.client("iam")
        assert code_of(consumer_iam.get_role, RoleName=shared.names.access_role) == "NoSuchEntity"

        role_row = state.find("iam_role", shared.names.access_role)
        assert role_row is not None and role_row.arn == role["Arn"] and role_row.account == "provider"
        policy_row = state.find("iam_role_policy", f"{shared.names.access_role}/{shared.names.access_role_policy}")
        assert policy_row is not None and policy_row.account == "provider"

    def test_step6_consumer_user_in_consumer_may_assume_the_role(self, shared):
        step = step_of(shared.first_plan, 6)
        assert step.action is Action.CREATE
        assert methods(step) == ["iam.create_user", "iam.put_user_policy"]

        iam = shared.world.consumer.client("iam")
        user = consumer_user(shared)
        assert user["Arn"] == f"arn:aws:iam::{CONSUMER}:user/{shared.names.consumer_user}"
        assert_xacct_tags(iam.list_user_tags(UserName=shared.names.consumer_user)["Tags"])
        doc = policies.parse(iam.get_user_policy(UserName=shared.names.consumer_user,
                                                 PolicyName=shared.names.consumer_policy)["PolicyDocument"])
        assert doc == policies.consumer_assume_policy(provider_role(shared)["Arn"])
        assert iam.list_user_policies(UserName=shared.names.consumer_user)["PolicyNames"] == [shared.names.consumer_policy]
        assert iam.list_access_keys(UserName=shared.names.consumer_user)["AccessKeyMetadata"] == []  # xacct mints no keys

        provider_iam = shared.world.provider.client("iam")
        assert code_of(provider_iam.get_user, UserName=shared.names.consumer_user) == "NoSuchEntity"

        state = shared.load()
        row = state.find("iam_user", shared.names.consumer_user)
        assert row is not None and row.arn == user["Arn"] and row.account == "consumer" and row.created is True
        assert state.find("consumer_user_policy", f"{shared.names.consumer_user}/{shared.names.consumer_policy}") is not None

    def test_step7_security_group_and_endpoint_in_consumer(self, shared):
        step = step_of(shared.first_plan, 7)
        assert step.action is Action.CREATE
        assert methods(step) == ["ec2.create_security_group", "ec2.create_vpc_endpoint",
                                 "ec2.authorize_security_group_ingress", "ec2.revoke_security_group_egress",
                                 "ec2.authorize_security_group_egress", "ec2.confirm_endpoint_membership"]

        ec2 = shared.world.consumer.client("ec2")
        sgs = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [shared.names.security_group]}])["SecurityGroups"]
        assert len(sgs) == 1
        sg = sgs[0]
        assert sg["VpcId"] == shared.world.vpc_id and sg["OwnerId"] == CONSUMER
        assert_xacct_tags(sg["Tags"])
        assert tags_of(sg["Tags"])["Name"] == shared.names.security_group
        assert rules(sg["IpPermissions"]) == {("tcp", 443, 443, shared.world.vpc_cidr)}
        assert rules(sg["IpPermissionsEgress"]) == {("tcp", 443, 443, shared.world.vpc_cidr)}  # default allow-all egress removed

        eps = ec2.describe_vpc_endpoints(Filters=[{"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [NAME]}])["VpcEndpoints"]
        assert len(eps) == 1
        ep = eps[0]
        assert ep["VpcId"] == shared.world.vpc_id and ep["OwnerId"] == CONSUMER
        assert ep["ServiceName"] == f"com.amazonaws.{REGION}.rds-data" and ep["VpcEndpointType"] == "Interface"
        assert ep["State"].lower() == "available"
        assert sorted(ep["SubnetIds"]) == sorted(shared.world.subnet_ids)
        assert [g["GroupId"] for g in ep["Groups"]] == [sg["GroupId"]]
        assert ep["PrivateDnsEnabled"] is True
        assert_xacct_tags(ep["Tags"])
        doc = json.loads(ep["PolicyDocument"])
        assert doc == policy_for({NAME: MemberFacts(shared.world.cluster_arn)})
        (pattern,) = [s["Condition"]["ArnLike"]["aws:PrincipalArn"] for s in doc["Statement"]]
        assert fnmatchcase(provider_role(shared)["Arn"], pattern)  # the access role, by its path

        provider_ec2 = shared.world.provider.client("ec2")
        assert provider_ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [shared.names.security_group]}])["SecurityGroups"] == []
        assert code_of(provider_ec2.describe_security_groups, GroupIds=[sg["GroupId"]]) == "InvalidGroup.NotFound"
        assert provider_ec2.describe_vpc_endpoints(
            Filters=[{"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [NAME]}])["VpcEndpoints"] == []

        state = shared.load()
        # SecurityGroup / VpcEndpoint rows carry their id (no ARN is recorded for them)
        sg_row, ep_row = state.find("security_group", sg["GroupId"]), state.find("vpc_endpoint", ep["VpcEndpointId"])
        assert sg_row is not None and sg_row.account == "consumer" and sg_row.name == shared.names.security_group
        assert ep_row is not None and ep_row.account == "consumer" and ep_row.name == shared.names.endpoint

    def test_step8_nacl_check_passes_on_the_default_nacl(self, shared):
        step = step_of(shared.first_plan, 8)
        assert step.action is Action.NOOP and step.calls == [] and step.problems == []
        assert "pass tcp/443" in step.reason

    def test_setup_makes_each_call_once_and_records_everything(self, shared):
        assert made_in_chain_order(shared.first_runner.calls_made, shared.first_plan)
        state = shared.load()
        assert state.accounts == {"consumer": CONSUMER, "provider": PROVIDER}
        assert state.last_error is None
        kinds = sorted(r.kind for r in state.resources)
        assert kinds == sorted(["data_api", "kms_key", "kms_alias", "kms_key_policy", "secret", "secret_policy", "iam_role",
                                "iam_role_policy", "iam_user", "consumer_user_policy", "security_group", "vpc_endpoint"])

    def test_first_plan_reasons_name_no_placeholder(self, shared):
        """A new user's first plan (and `status` of an interrupted setup) read "no key policy ${key_id}": the key
        policy's key is made in step 1 of the same run, so its id was a placeholder. Every reason is readable."""
        reasons = {s.number: " ".join(s.reason.split()) for s in shared.first_plan.steps}
        assert not [r for r in reasons.values() if "${" in r], reasons
        assert reasons[2] == "no key policy (the key is not made yet)"
        assert reasons[1] == "no KMS key of deployment 'orders'; no KMS alias alias/xacct-orders"

    def test_second_run_is_all_noop_and_makes_no_aws_call(self, operator_profiles):
        shared = operator_profiles  # the re-run as the operators who set it up
        before = shared.path.read_bytes()
        ctx, plan = shared.plan()
        assert [s.action for s in plan.steps] == [Action.NOOP] * len(plan.steps)
        for s in plan.steps:
            assert s.reason.strip(), f"step {s.number} has no reason"
            assert s.calls == [] and s.problems == []
        assert not plan.changes

        runner = shared.runner(ctx, ctx.state)
        runner.execute(plan)
        assert runner.calls_made == []
        assert shared.path.read_bytes() == before  # nothing to record, nothing written

        report = status_report(plan, ctx.state)
        assert report["all_done"] is True and report["data_api"] == "on"


# --------------------------------------------------------------------------- re-run and teardown


def test_teardown_removes_every_step(deployed, world):
    key = provider_key(deployed)
    secret_arn = provider_secret(deployed)["ARN"]
    sg_id = deployed.load().values["security_group_id"]
    ep_id = deployed.load().values["endpoint_id"]

    plan, runner, state = deployed.teardown(key_deletion_days=9)
    assert all(s.action is Action.DELETE for s in plan.steps)
    assert state.resources == []
    assert deployed.load().resources == []  # saved after every call

    p, c = world.provider, world.consumer
    # step 0: the Data API xacct turned on is off again
    assert p.client("rds").describe_db_clusters(
        DBClusterIdentifier=world.cluster_id)["DBClusters"][0]["HttpEndpointEnabled"] is False
    # step 1/2: key pending deletion with the window asked (policy goes with it); alias gone
    kms = p.client("kms")
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    window = meta["DeletionDate"] - datetime.now(timezone.utc)
    assert timedelta(days=8) < window <= timedelta(days=9)
    assert deployed.names.key_alias not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    # step 3/4: the secret (and its policy) force-deleted: no recovery window
    sm = p.client("secretsmanager")
    assert code_of(sm.describe_secret, SecretId=secret_arn) == "ResourceNotFoundException"
    assert code_of(sm.describe_secret, SecretId=deployed.names.secret) == "ResourceNotFoundException"
    # step 5: role and its inline policy
    assert code_of(p.client("iam").get_role, RoleName=deployed.names.access_role) == "NoSuchEntity"
    # step 6: the consumer user and its policy
    assert code_of(c.client("iam").get_user, UserName=deployed.names.consumer_user) == "NoSuchEntity"
    # step 7: endpoint deleted (moto keeps it listed as `deleted`) and the SG gone
    ec2 = c.client("ec2")
    eps = ec2.describe_vpc_endpoints(VpcEndpointIds=[ep_id])["VpcEndpoints"]
    assert eps == [] or eps[0]["State"].lower() == "deleted"
    assert code_of(ec2.describe_security_groups, GroupIds=[sg_id]) == "InvalidGroup.NotFound"

    assert "secretsmanager.delete_secret" in runner.calls_made
    assert runner.calls_made.index("ec2.delete_vpc_endpoints") < runner.calls_made.index("ec2.delete_security_group")

    # a second teardown has nothing to do
    assert plan_teardown(deployed.load()).calls == []


# --------------------------------------------------------------------------- adopted consumer role


def test_adopted_consumer_role_gets_only_an_inline_policy_and_survives_teardown(world, password):
    iam = world.consumer.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    app_role = iam.create_role(RoleName="orders-app", AssumeRolePolicyDocument=json.dumps(trust),
                               Tags=[{"Key": "team", "Value": "orders"}])["Role"]

    grant(world, consumer_role="orders-app")  # `xacct permissions --consumer-role orders-app`
    dep = Deployment(world, password, consumer_role="orders-app")
    plan, _ = dep.apply()
    step6 = step_of(plan, 6)
    assert methods(step6) == ["record", "iam.put_role_policy"]

    assert iam.list_role_policies(RoleName="orders-app")["PolicyNames"] == [dep.names.consumer_policy]
    doc = policies.parse(iam.get_role_policy(RoleName="orders-app", PolicyName=dep.names.consumer_policy)["PolicyDocument"])
    assert doc == policies.consumer_assume_policy(provider_role(dep)["Arn"])
    assert iam.list_attached_role_policies(RoleName="orders-app")["AttachedPolicies"] == []
    assert tags_of(iam.list_role_tags(RoleName="orders-app")["Tags"]) == {"team": "orders"}  # not re-tagged
    assert policies.parse(iam.get_role(RoleName="orders-app")["Role"]["AssumeRolePolicyDocument"]) == trust
    assert code_of(iam.get_user, UserName=dep.names.consumer_user) == "NoSuchEntity"  # no user created

    state = dep.load()
    row = state.find("consumer_role", "orders-app")
    assert row is not None and row.created is False and row.arn == app_role["Arn"]
    assert state.find("iam_user") is None
    # the provider side names the adopted role
    role = provider_role(dep)
    assert policies.parse(role["AssumeRolePolicyDocument"]) == policies.access_role_trust_policy(
        CONSUMER, app_role["Arn"], state.values["external_id"])
    key_policy = json.loads(world.provider.client("kms").get_key_policy(
        KeyId=provider_key(dep)["KeyId"], PolicyName="default")["Policy"])
    assert key_policy == policies.key_policy(PROVIDER, role["Arn"], REGION)

    # default key deletion window (7 days) when none is asked
    key_id = provider_key(dep)["KeyId"]
    _, runner, state = dep.teardown()
    assert state.resources == []
    assert iam.get_role(RoleName="orders-app")["Role"]["Arn"] == app_role["Arn"]  # still there
    assert iam.list_role_policies(RoleName="orders-app")["PolicyNames"] == []  # xacct's policy removed
    assert "iam.delete_role_policy" in runner.calls_made
    meta = world.provider.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    assert timedelta(days=6) < meta["DeletionDate"] - datetime.now(timezone.utc) <= timedelta(days=7)


# --------------------------------------------------------------------------- drift and hand deletions


def test_access_role_policy_drift_is_reported_and_repaired(deployed, world):
    iam = world.provider.client("iam")
    name, pname = deployed.names.access_role, deployed.names.access_role_policy
    tampered = policies.parse(iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"])
    tampered["Statement"][0]["Resource"] = "*"  # RunDataApiStatements on every cluster
    iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=json.dumps(tampered))

    ctx, plan = deployed.plan()
    step5 = step_of(plan, 5)
    assert step5.action is Action.REPAIR
    assert any("RunDataApiStatements" in p for p in step5.problems), step5.problems
    assert methods(step5) == ["iam.put_role_policy"]
    assert [s.number for s in plan.steps if s.action is not Action.NOOP] == [5]

    report = status_report(plan, ctx.state)
    row5 = next(s for s in report["steps"] if s["number"] == 5)
    assert row5["status"] == "drifted"
    assert any("RunDataApiStatements" in d for d in row5["detail"])
    assert report["all_done"] is False

    _, runner = deployed.apply(ctx, plan)
    assert runner.calls_made == ["iam.put_role_policy"]
    restored = policies.parse(iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"])
    assert restored == policies.access_role_permissions(world.cluster_arn, provider_secret(deployed)["ARN"],
                                                        provider_key(deployed)["Arn"], REGION)
    assert not deployed.plan()[1].changes


def test_deleted_security_group_ingress_rule_is_reported_and_restored(deployed, world):
    ec2 = world.consumer.client("ec2")
    sg_id = deployed.load().values["security_group_id"]
    ec2.revoke_security_group_ingress(GroupId=sg_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": world.vpc_cidr}]}])
    assert rules(ec2.describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]["IpPermissions"]) == set()

    ctx, plan = deployed.plan()
    step7 = step_of(plan, 7)
    assert step7.action is Action.REPAIR
    assert methods(step7) == ["ec2.authorize_security_group_ingress"]
    assert any(sg_id in p and "ingress" in p for p in step7.problems), step7.problems
    row7 = next(s for s in status_report(plan, ctx.state)["steps"] if s["number"] == 7)
    assert row7["status"] in ("drifted", "missing")

    _, runner = deployed.apply(ctx, plan)
    assert runner.calls_made == ["ec2.authorize_security_group_ingress"]
    sg = ec2.describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]
    assert rules(sg["IpPermissions"]) == {("tcp", 443, 443, world.vpc_cidr)}
    assert rules(sg["IpPermissionsEgress"]) == {("tcp", 443, 443, world.vpc_cidr)}
    assert not deployed.plan()[1].changes


def test_deleted_secret_policy_is_reported_missing_and_restored(deployed, world):
    sm = world.provider.client("secretsmanager")
    secret_arn = provider_secret(deployed)["ARN"]
    sm.delete_resource_policy(SecretId=secret_arn)
    assert sm.get_resource_policy(SecretId=secret_arn).get("ResourcePolicy") is None

    ctx, plan = deployed.plan()
    step4 = step_of(plan, 4)
    assert step4.action is Action.CREATE
    assert methods(step4) == ["secretsmanager.put_resource_policy"]
    row4 = next(s for s in status_report(plan, ctx.state)["steps"] if s["number"] == 4)
    assert row4["status"] == "missing"

    _, runner = deployed.apply(ctx, plan)
    assert runner.calls_made == ["secretsmanager.put_resource_policy"]
    written = json.loads(sm.get_resource_policy(SecretId=secret_arn)["ResourcePolicy"])
    assert written == policies.secret_resource_policy(provider_role(deployed)["Arn"], secret_arn)
    assert not deployed.plan()[1].changes


# --------------------------------------------------------------------------- Data API prerequisite


def test_data_api_turned_on_with_flag_and_off_again_at_teardown(world, password):
    rds = world.provider.client("rds")

    def enabled() -> bool:
        return rds.describe_db_clusters(DBClusterIdentifier=world.cluster_id)["DBClusters"][0]["HttpEndpointEnabled"]

    assert enabled() is False
    with pytest.raises(UsageError) as info:
        Deployment(world, password, enable_data_api=False).context()
    assert info.value.exit_code == 2 and "--enable-data-api" in str(info.value)
    assert enabled() is False
    assert not state_path_for(NAME).exists()

    dep = Deployment(world, password, enable_data_api=True)
    plan, runner = dep.apply()
    assert step_of(plan, 0).action is Action.CREATE
    # the provider's first calls (the consumer's chain runs at the same time)
    assert [c for c in runner.calls_made if c.startswith("rds.")][:2] == ["rds.add_tags_to_resource", "rds.modify_db_cluster"]
    assert enabled() is True
    assert dep.load().find("data_api", world.cluster_id).arn == world.cluster_arn
    assert dep.load().values["cluster_engine_mode"] == "serverless"

    _, runner, state = dep.teardown()
    assert enabled() is False
    assert [c for c in runner.calls_made if c.startswith("rds.")][-2:] == ["rds.modify_db_cluster",
                                                                           "rds.remove_tags_from_resource"]
    assert state.find("data_api") is None


# --------------------------------------------------------------------------- step 8: NACL check


def test_nacl_deny_rule_is_reported_by_id_and_rule_number(world, password):
    ec2 = world.consumer.client("ec2")
    acl = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [world.subnet_ids[0]]}])["NetworkAcls"][0]
    acl_id = acl["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=50, Protocol="6", RuleAction="deny", Egress=False,
                                 CidrBlock="0.0.0.0/0", PortRange={"From": 443, "To": 443})
    entries_before = sorted(ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Entries"],
                            key=lambda e: (e["Egress"], e["RuleNumber"]))

    dep = Deployment(world, password)
    ctx, plan = dep.plan()
    step8 = step_of(plan, 8)
    assert step8.action is Action.CHECK
    assert step8.calls == []  # xacct never edits a NACL
    assert step8.problems
    assert any(acl_id in p and "rule 50" in p for p in step8.problems), step8.problems
    assert any(world.subnet_ids[0] in p for p in step8.problems)

    row8 = next(s for s in status_report(plan, ctx.state)["steps"] if s["number"] == 8)
    assert row8["status"] == "failed"

    dep.apply(ctx, plan)  # the other steps still run
    entries_after = sorted(ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Entries"],
                           key=lambda e: (e["Egress"], e["RuleNumber"]))
    assert entries_after == entries_before
    assert step_of(dep.plan()[1], 8).action is Action.CHECK
