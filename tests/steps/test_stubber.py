"""botocore Stubber tests for what moto 5.2.5 does not simulate (docs/moto-gaps.md):

a) EnableHttpEndpoint / DisableHttpEndpoint for Serverless v2 and provisioned clusters (not implemented by moto);
b) "invalid principal" from Secrets Manager right after a role is created (moto never evaluates principals);
c) DependencyViolation on the security group while the endpoint's interfaces linger (moto deletes at once);
d) throttling. A Stubber answers in botocore's `before-call` event, *before* the retry handler, so a stubbed
   ThrottlingException is never retried by botocore (shown below). The real retry is therefore shown with
   moto plus a `before-send` hook that answers the first CreateKey attempt with HTTP 400 ThrottlingException.

Every stubbed client is built with fake static keys and a region, and the Stubber answers before any HTTP is
attempted; a module-wide guard fails any non-loopback connect().
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
from tests.helpers.clock import FakeClock
from tests.helpers.inventory import customer_keys
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from tests.helpers.pipeline import apply_setup, made_in_chain_order, plan_for
from xacct_dataapi import policies
from xacct_dataapi import state as state_mod
from xacct_dataapi.aws import RETRY_CONFIG, Sessions
from xacct_dataapi.config import TAG_DEPLOYMENT, Config, state_path_for
from xacct_dataapi.planner import generate_missing_values
from xacct_dataapi.steps import STEPS
from xacct_dataapi.context import Cluster, ConsumerPrincipal, Context, Inputs
from xacct_dataapi.errors import StepFailed, WaitTimeout
from xacct_dataapi.models import Account, Action, Plan
from xacct_dataapi.planner import plan_teardown
from xacct_dataapi.runner import Runner
from xacct_dataapi.state import ResourceRow, State
from xacct_dataapi.steps import data_api, secret_policy
from xacct_dataapi.resource_types.base import INVALID_PRINCIPAL

CLUSTER_ID = "orders-v2"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{PROVIDER}:cluster:{CLUSTER_ID}"
ROLE_ARN = f"arn:aws:iam::{PROVIDER}:role/xacct/{REGION}/{CLUSTER_ID}/xacct-orders-data-api-access"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{PROVIDER}:secret:xacct-orders/db-credentials-AbCdEf"
SG_ID = "sg-0123456789abcdef0"


# --------------------------------------------------------------------------- guards and fakes


class FakeSessions:
    """Stands in for xacct_dataapi.aws.Sessions: client(account, service) returns a pre-stubbed client."""

    region = REGION

    def __init__(self) -> None:
        self.clients: dict = {}
        self.stubbers: dict = {}

    def stub(self, account: Account, service: str) -> Stubber:
        client = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
        stubber = Stubber(client)
        stubber.activate()
        self.clients[(account, service)] = client
        self.stubbers[(account, service)] = stubber
        return stubber

    def client(self, account: Account, service: str):
        return self.clients[(account, service)]

    def assert_all_consumed(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def state_path(tmp_path) -> Path:
    return tmp_path / ".xacct" / "orders.json"


def growing(delays: list[float]) -> bool:
    return all(b > a for a, b in zip(delays, delays[1:]))


def provider_ctx(aws: FakeSessions, state: State, **values) -> Context:
    cfg = Config(name="orders", consumer_profile="consumer", provider_profile="provider", cluster=CLUSTER_ID,
                 vpc_id="vpc-0abc1234", subnet_ids=("subnet-0abc1234",)).validate()
    cluster = Cluster(id=CLUSTER_ID, arn=CLUSTER_ARN, engine="aurora-postgresql", engine_mode="provisioned",
                      endpoint="orders-v2.cluster-xyz.us-west-2.rds.amazonaws.com", port=5432, database="orders",
                      http_endpoint_enabled=False)
    principal = ConsumerPrincipal("user", "xacct-orders-data-api-client",
                                  f"arn:aws:iam::{CONSUMER}:user/xacct-orders-data-api-client", adopted=False)
    ctx = Context(cfg, aws, state, Inputs(CONSUMER, PROVIDER, cluster, "10.20.0.0/16", principal),
                  values=dict(values))
    generate_missing_values(ctx, STEPS)  # as plan_setup does after the inspections (the external id)
    return ctx


# --------------------------------------------------------------------------- a) Data API on Serverless v2 / provisioned


def _role(path: str, name: str) -> dict:
    return {"Path": path, "RoleName": name, "RoleId": "AROA" + "X" * 17, "CreateDate": "2026-01-01T00:00:00Z",
            "Arn": f"arn:aws:iam::{PROVIDER}:role{path}{name}"}


def v2_cluster(enabled: bool) -> dict:
    return {"DBClusters": [{"DBClusterIdentifier": CLUSTER_ID, "DBClusterArn": CLUSTER_ARN, "Engine": "aurora-postgresql",
                            "EngineMode": "provisioned", "HttpEndpointEnabled": enabled}]}


def test_data_api_enable_for_provisioned_cluster_uses_enable_http_endpoint(state_path):
    cluster = Cluster(id=CLUSTER_ID, arn=CLUSTER_ARN, engine="aurora-postgresql", engine_mode="provisioned",
                      endpoint="orders-v2.cluster-xyz.us-west-2.rds.amazonaws.com", port=5432, database="orders",
                      http_endpoint_enabled=False)
    state = State(name="orders", values={"cluster_engine_mode": "provisioned"})
    ctx = SimpleNamespace(cluster=cluster, values=dict(state.values), state=state,  # what data_api reads of a Context
                          names=SimpleNamespace(deployment="orders"))
    step = data_api.STEP.make_plan(ctx, data_api.inspect(ctx, ctx.values).facts)
    assert step.action is Action.CREATE
    assert [(c.account, c.label) for c in step.calls] == [(Account.PROVIDER, "rds:add_tags_to_resource"),
                                                          (Account.PROVIDER, "rds:enable_http_endpoint")]
    call = step.calls[1]
    assert call.params == {"ResourceArn": CLUSTER_ARN}
    assert all(c.label != "rds:modify_db_cluster" for c in step.calls)  # ModifyDBCluster ignores the flag on v2
    assert call.wait is not None and call.wait.method == "describe_db_clusters"

    aws = FakeSessions()
    rds = aws.stub(Account.PROVIDER, "rds")
    rds.add_response("add_tags_to_resource", {}, {"ResourceName": CLUSTER_ARN,
                                                  "Tags": [{"Key": "xacct:data-api-enabled-by", "Value": "orders"}]})
    rds.add_response("enable_http_endpoint", {"ResourceArn": CLUSTER_ARN, "HttpEndpointEnabled": True},
                     {"ResourceArn": CLUSTER_ARN})
    rds.add_response("describe_db_clusters", v2_cluster(False), {"DBClusterIdentifier": CLUSTER_ID})
    rds.add_response("describe_db_clusters", v2_cluster(True), {"DBClusterIdentifier": CLUSTER_ID})

    sleeps: list[float] = []
    runner = Runner(aws, state, state_path, sleep=sleeps.append)
    runner.execute(Plan("setup", [step]))

    aws.assert_all_consumed()
    assert runner.calls_made == ["rds.add_tags_to_resource", "rds.enable_http_endpoint"]
    assert len(sleeps) == 1  # polled once more after the first "still off"
    saved = state_mod.load(state_path)
    row = saved.find("data_api", CLUSTER_ID)
    assert row is not None and row.arn == CLUSTER_ARN and row.account == "provider" and row.created is True
    assert saved.last_error is None


def test_enable_http_endpoint_is_retried_while_the_cluster_is_modifying(state_path):
    """EnableHttpEndpoint on a cluster that is being modified answers InvalidResourceStateFault (API reference,
    Errors): the call is retried until the cluster settles, not failed."""
    cluster = Cluster(id=CLUSTER_ID, arn=CLUSTER_ARN, engine="aurora-postgresql", engine_mode="provisioned",
                      endpoint="e", port=5432, database="orders", http_endpoint_enabled=False,
                      tags={"xacct:data-api-enabled-by": "orders"})
    state = State(name="orders", values={"cluster_engine_mode": "provisioned"})
    ctx = SimpleNamespace(cluster=cluster, values=dict(state.values), state=state,
                          names=SimpleNamespace(deployment="orders"))
    step = data_api.STEP.make_plan(ctx, data_api.inspect(ctx, ctx.values).facts)
    aws = FakeSessions()
    rds = aws.stub(Account.PROVIDER, "rds")
    for _ in range(2):
        rds.add_client_error("enable_http_endpoint", service_error_code="InvalidResourceStateFault",
                             service_message=f"DB cluster {CLUSTER_ID} is not in available state (modifying)",
                             http_status_code=400, expected_params={"ResourceArn": CLUSTER_ARN})
    rds.add_response("enable_http_endpoint", {"ResourceArn": CLUSTER_ARN, "HttpEndpointEnabled": True},
                     {"ResourceArn": CLUSTER_ARN})
    rds.add_response("describe_db_clusters", v2_cluster(True), {"DBClusterIdentifier": CLUSTER_ID})
    clock = FakeClock()
    runner = Runner(aws, state, state_path, sleep=clock.sleep, clock=clock)
    runner.execute(Plan("setup", [step]))
    aws.assert_all_consumed()
    assert runner.calls_made == ["rds.enable_http_endpoint"]
    assert len(clock.sleeps) == 2 and state_mod.load(state_path).find("data_api", CLUSTER_ID) is not None


def test_data_api_teardown_for_provisioned_cluster_uses_disable_http_endpoint(state_path):
    state = State(name="orders", values={"cluster_engine_mode": "provisioned"},
                  resources=[ResourceRow(step=0, kind="data_api", id=CLUSTER_ID, account="provider", arn=CLUSTER_ARN)])
    plan = plan_teardown(state)
    assert [(c.label, c.params) for c in plan.calls] == [
        ("rds:disable_data_api_unless_shared", {"ClusterId": CLUSTER_ID, "ClusterArn": CLUSTER_ARN, "EngineMode": "provisioned",
                                       "Deployment": "orders"})]

    aws = FakeSessions()
    iam = aws.stub(Account.PROVIDER, "iam")
    # No other xacct deployment uses the cluster: nothing under its IAM path.
    iam.add_response("list_roles", {"Roles": []}, {"PathPrefix": f"/xacct/{REGION}/{CLUSTER_ID}/", "MaxItems": 1000})
    # Nor one set up before the path (an access role at `/`): the account's roles, 1000 a page.
    iam.add_response("list_roles", {"Roles": [_role("/", "xacct-orders-data-api-access"),
                                              _role("/service-role/", "xacct-x-data-api-access"),
                                              _role("/", "app-data-api-access")]}, {"MaxItems": 1000})
    rds = aws.stub(Account.PROVIDER, "rds")
    tagged = v2_cluster(True)
    tagged["DBClusters"][0]["TagList"] = [{"Key": "xacct:data-api-enabled-by", "Value": "orders"}]
    # The ownership check (resource_types.rds): this deployment turned the Data API on.
    rds.add_response("describe_db_clusters", tagged, {"DBClusterIdentifier": CLUSTER_ID})
    rds.add_response("describe_db_clusters", tagged, {"DBClusterIdentifier": CLUSTER_ID})  # on, and tagged by xacct
    # Marked while it decides (before the roles are read), the mark removed with xacct's tag once it is off.
    mark = "xacct:data-api-closing:orders"
    rds.add_response("add_tags_to_resource", {}, {"ResourceName": CLUSTER_ARN, "Tags": [{"Key": mark, "Value": "1"}]})
    rds.add_response("disable_http_endpoint", {"ResourceArn": CLUSTER_ARN, "HttpEndpointEnabled": False},
                     {"ResourceArn": CLUSTER_ARN})
    rds.add_response("remove_tags_from_resource", {}, {"ResourceName": CLUSTER_ARN,
                                                       "TagKeys": ["xacct:data-api-enabled-by", mark]})
    rds.add_response("describe_db_clusters", v2_cluster(True), {"DBClusterIdentifier": CLUSTER_ID})
    rds.add_response("describe_db_clusters", v2_cluster(False), {"DBClusterIdentifier": CLUSTER_ID})
    runner = Runner(aws, state, state_path, sleep=lambda s: None)
    runner.execute(plan)

    aws.assert_all_consumed()
    assert runner.calls_made == ["rds.add_tags_to_resource", "rds.disable_http_endpoint", "rds.remove_tags_from_resource"]
    assert state_mod.load(state_path).resources == []


# --------------------------------------------------------------------------- b) invalid principal right after CreateRole


def secret_policy_step(aws: FakeSessions, state: State):
    ctx = provider_ctx(aws, state, access_role_arn=ROLE_ARN, secret_arn=SECRET_ARN)
    step = secret_policy.STEP.make_plan(ctx, {"found": {}})  # nothing in AWS yet
    assert step.action is Action.CREATE
    assert [c.label for c in step.calls] == ["secretsmanager:put_resource_policy"]
    return step


def expected_policy_params() -> dict:
    doc = policies.secret_resource_policy(ROLE_ARN, SECRET_ARN)
    return {"SecretId": SECRET_ARN, "ResourcePolicy": json.dumps(doc, separators=(",", ":")), "BlockPublicPolicy": True}


UNSUPPORTED_PRINCIPAL = "This resource policy contains an unsupported principal."


def test_secret_policy_retry_matches_only_principal_errors():
    step = secret_policy_step(FakeSessions(), State(name="orders"))
    retry = step.calls[0].retry
    assert retry is not None
    assert "MalformedPolicyDocumentException" in retry.codes and retry.codes == INVALID_PRINCIPAL
    assert retry.message_contains == ("principal",)
    assert "principal" in UNSUPPORTED_PRINCIPAL.lower()


def test_secret_policy_invalid_principal_is_retried_with_growing_delays_then_succeeds(state_path):
    aws = FakeSessions()
    sm = aws.stub(Account.PROVIDER, "secretsmanager")
    for _ in range(2):
        sm.add_client_error("put_resource_policy", service_error_code="MalformedPolicyDocumentException",
                            service_message=UNSUPPORTED_PRINCIPAL, http_status_code=400,
                            expected_params=expected_policy_params())
    sm.add_response("put_resource_policy", {"ARN": SECRET_ARN, "Name": "xacct-orders/db-credentials"},
                    expected_policy_params())

    state = State(name="orders")
    step = secret_policy_step(aws, state)
    clock = FakeClock()
    waited: list[str] = []
    reporter = SimpleNamespace(step_started=lambda s: None, call_done=lambda s, c, changed=True, why=None: None, step_done=lambda s: None,
                               waiting=lambda what, *_: waited.append(what))
    runner = Runner(aws, state, state_path, reporter, sleep=clock.sleep, clock=clock)
    runner.execute(Plan("setup", [step]))

    aws.assert_all_consumed()
    assert runner.calls_made == ["secretsmanager.put_resource_policy"]
    assert len(clock.sleeps) == 2 and growing(clock.sleeps), clock.sleeps
    assert waited == ["the new access role is not yet visible to Secrets Manager"] * 2
    saved = state_mod.load(state_path)
    row = saved.find("secret_policy", "xacct-orders/db-credentials")
    assert row is not None and row.arn == SECRET_ARN
    assert saved.last_error is None


def test_secret_policy_malformed_without_principal_fails_at_once(state_path):
    aws = FakeSessions()
    sm = aws.stub(Account.PROVIDER, "secretsmanager")
    sm.add_client_error("put_resource_policy", service_error_code="MalformedPolicyDocumentException",
                        service_message="This resource policy contains a syntax error.", http_status_code=400)

    state = State(name="orders")
    step = secret_policy_step(aws, state)
    sleeps: list[float] = []
    runner = Runner(aws, state, state_path, sleep=sleeps.append)
    with pytest.raises(StepFailed) as info:
        runner.execute(Plan("setup", [step]))

    err = info.value
    assert err.exit_code == 1
    assert err.step_number == 4 and err.method == "secretsmanager:put_resource_policy"
    assert "MalformedPolicyDocumentException" in err.message and "syntax error" in err.message
    assert sleeps == []  # not retried
    aws.assert_all_consumed()
    assert runner.calls_made == []

    saved = state_mod.load(state_path)  # still a valid state file
    assert saved is not None and saved.name == "orders"
    assert saved.last_error["step"] == 4
    assert saved.last_error["method"] == "secretsmanager.put_resource_policy"
    assert "MalformedPolicyDocumentException" in saved.last_error["message"]
    assert saved.find("secret_policy") is None


def test_secret_policy_invalid_principal_forever_times_out_naming_what_it_waited_for(state_path):
    aws = FakeSessions()
    sm = aws.stub(Account.PROVIDER, "secretsmanager")
    for _ in range(40):
        sm.add_client_error("put_resource_policy", service_error_code="MalformedPolicyDocumentException",
                            service_message=UNSUPPORTED_PRINCIPAL, http_status_code=400)
    state = State(name="orders")
    step = secret_policy_step(aws, state)
    clock = FakeClock()
    runner = Runner(aws, state, state_path, sleep=clock.sleep, clock=clock, wait_timeout=60)
    with pytest.raises(WaitTimeout) as info:
        runner.execute(Plan("setup", [step]))
    assert info.value.exit_code == 1
    assert "the new access role is not yet visible to Secrets Manager" in info.value.message
    assert "unsupported principal" in info.value.message
    assert growing([d for d in clock.sleeps if d < 15.0])
    saved = state_mod.load(state_path)
    assert saved.last_error["step"] == 4 and saved.find("secret_policy") is None


# --------------------------------------------------------------------------- c) DependencyViolation on the security group


def sg_state() -> State:
    return State(name="orders", accounts={"consumer": CONSUMER, "provider": PROVIDER},
                 resources=[ResourceRow(step=7, kind="security_group", id=SG_ID, account="consumer",
                                        name="xacct-orders-rds-data-endpoint")])


DEPENDENCY = f"resource {SG_ID} has a dependent object"


def stub_sg_is_ours(ec2) -> None:
    """The ownership check before the delete (resource_types.ec2): the group is xacct's, made by this deployment."""
    ec2.add_response("describe_security_groups", {"SecurityGroups": [{
        "GroupId": SG_ID, "GroupName": "xacct-orders-rds-data-endpoint",
        "Tags": [{"Key": "xacct:deployment", "Value": "orders"}, {"Key": "xacct:managed-by", "Value": "xacct"}]}]},
        {"GroupIds": [SG_ID]})
    ec2.add_response("describe_vpc_endpoints", {"VpcEndpoints": []},
                     {"Filters": [{"Name": "vpc-endpoint-type", "Values": ["Interface"]}]})


def test_security_group_dependency_violation_is_retried_until_released(state_path):
    state = sg_state()
    plan = plan_teardown(state)
    assert [(c.label, c.params) for c in plan.calls] == [("ec2:delete_security_group_when_released", {"GroupId": SG_ID})]

    aws = FakeSessions()
    ec2 = aws.stub(Account.CONSUMER, "ec2")
    stub_sg_is_ours(ec2)
    eni_filter = {"Filters": [{"Name": "group-id", "Values": [SG_ID]}]}
    ec2.add_response("describe_vpc_endpoints", {"VpcEndpoints": []}, {})  # no kept (shared) endpoint still uses it
    # First the endpoint's interface still holds the group, then it is gone ...
    ec2.add_response("describe_network_interfaces", {"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0abc1234abcd12345"}]},
                     eni_filter)
    ec2.add_response("describe_network_interfaces", {"NetworkInterfaces": []}, eni_filter)
    # ... and AWS may still report the dependency for a moment after that.
    for _ in range(2):
        ec2.add_client_error("delete_security_group", service_error_code="DependencyViolation",
                             service_message=DEPENDENCY, http_status_code=400, expected_params={"GroupId": SG_ID})
    ec2.add_response("delete_security_group", {"Return": True, "GroupId": SG_ID}, {"GroupId": SG_ID})

    clock = FakeClock()
    runner = Runner(aws, state, state_path, sleep=clock.sleep, clock=clock)
    runner.execute(plan)

    aws.assert_all_consumed()
    assert runner.calls_made == ["ec2.delete_security_group"]
    assert len(clock.sleeps) == 3  # once for the interface, twice for DependencyViolation
    assert growing(clock.sleeps[1:])
    assert state.resources == []
    assert state_mod.load(state_path).resources == []


def test_security_group_dependency_violation_forever_times_out_and_keeps_the_row(state_path):
    state = sg_state()
    plan = plan_teardown(state)
    aws = FakeSessions()
    ec2 = aws.stub(Account.CONSUMER, "ec2")
    stub_sg_is_ours(ec2)
    ec2.add_response("describe_vpc_endpoints", {"VpcEndpoints": []}, {})
    ec2.add_response("describe_network_interfaces", {"NetworkInterfaces": []})
    for _ in range(40):
        ec2.add_client_error("delete_security_group", service_error_code="DependencyViolation",
                             service_message=DEPENDENCY, http_status_code=400)

    clock = FakeClock()
    runner = Runner(aws, state, state_path, sleep=clock.sleep, clock=clock, wait_timeout=60)
    with pytest.raises(WaitTimeout) as info:
        runner.execute(plan)

    err = info.value
    assert err.exit_code == 1
    assert f"security group {SG_ID}" in err.message and "DependencyViolation" in err.message
    assert "waiting for" in err.message
    assert err.hint and "--wait-timeout" in err.hint
    assert runner.calls_made == []
    saved = state_mod.load(state_path)
    row = saved.find("security_group", SG_ID)
    assert row is not None and row.account == "consumer"  # a re-run retries it
    assert saved.last_error["step"] == 7 and "Timed out" in saved.last_error["message"]


# --------------------------------------------------------------------------- d) throttling


def test_stubbed_throttling_bypasses_botocore_retries():
    """Why throttling is not tested with a Stubber: its answer replaces the whole request, retries included."""
    aws = FakeSessions()
    kms = aws.stub(Account.PROVIDER, "kms")
    kms.add_client_error("create_key", service_error_code="ThrottlingException", service_message="Rate exceeded",
                         http_status_code=400)
    kms.add_response("create_key", {"KeyMetadata": {"KeyId": "k-1"}})
    client = aws.client(Account.PROVIDER, "kms")
    with pytest.raises(ClientError) as info:
        client.create_key()
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert client.create_key()["KeyMetadata"]["KeyId"] == "k-1"


def test_sessions_clients_use_botocore_standard_retry_mode():
    assert RETRY_CONFIG == {"mode": "standard", "max_attempts": 8}
    aws = Sessions.from_profiles("consumer", "provider", None)  # no AWS call: credentials resolve lazily
    for account in Account:
        for service in ("kms", "secretsmanager", "iam", "ec2", "rds"):
            retries = aws.client(account, service).meta.config.retries
            assert retries["mode"] == "standard"
            # botocore stores max_attempts (retries) as total_max_attempts (first try + retries)
            assert retries.get("total_max_attempts") == RETRY_CONFIG["max_attempts"] + 1


class _Body:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **kwargs):
        yield self._data


def test_throttled_create_key_is_retried_by_botocore_during_a_full_setup(fast_aws, world, password):
    cfg = Config(name="orders", consumer_profile="consumer", provider_profile="provider", cluster=world.cluster_id,
                 vpc_id=world.vpc_id, subnet_ids=world.subnet_ids, enable_data_api=True).validate()
    path = state_path_for("orders")
    ctx, plan = plan_for(cfg, password, path)
    aws = ctx.aws

    attempts: list[str] = []
    retry_attempts: list[int] = []

    def throttle_first_attempt(request, **kwargs):
        attempts.append(request.url)
        if len(attempts) > 1:
            return None  # let moto answer
        # moto's in-process handler runs after this one (it listens on the generic `before-send`); pointing the
        # request at a host moto does not serve makes it stand aside, so the throttled attempt creates nothing.
        request.url = "https://throttled.invalid/"
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1",
                                              "x-amzn-RequestId": "throttled-1"}, _Body(body))

    def after_create_key(parsed, **kwargs):
        retry_attempts.append(parsed["ResponseMetadata"]["RetryAttempts"])

    kms = aws.client(Account.PROVIDER, "kms")  # the same cached client the runner uses
    kms.meta.events.register("before-send.kms.CreateKey", throttle_first_attempt)
    kms.meta.events.register("after-call.kms.CreateKey", after_create_key)

    runner = apply_setup(ctx, plan, path, sleep=lambda s: None)

    assert len(attempts) == 2  # throttled once, then retried by botocore (not by the runner: no Retry on CreateKey)
    assert retry_attempts == [1]
    assert runner.calls_made.count("kms.create_key") == 1
    assert made_in_chain_order(runner.calls_made, plan)

    # AWS side: exactly one key tagged for the deployment (the throttled attempt created none), with its alias.
    pkms = world.provider.client("kms")
    tagged = [k["KeyId"] for k in customer_keys(world.provider) if k["Tags"].get(TAG_DEPLOYMENT) == "orders"]
    assert len(tagged) == 1
    meta = pkms.describe_key(KeyId="alias/xacct-orders")["KeyMetadata"]
    assert meta["KeyId"] == tagged[0] and meta["KeyState"] == "Enabled"
    saved = state_mod.load(path)
    assert saved.find("kms_key", tagged[0]).arn == meta["Arn"]
    assert saved.last_error is None


def test_secret_teardown_looks_the_secret_up_first_because_force_delete_never_says_not_found(state_path):
    """DeleteSecret(ForceDeleteWithoutRecovery) succeeds for a secret that does not exist (AWS API reference), so
    "already gone" is told by DescribeSecret, and no DeleteSecret is sent for it."""
    state = State(name="orders", resources=[ResourceRow(3, "secret", "xacct-orders/db-credentials", "provider",
                                                        arn=SECRET_ARN)])
    aws = FakeSessions()
    sm = aws.stub(Account.PROVIDER, "secretsmanager")
    sm.add_client_error("describe_secret", "ResourceNotFoundException", expected_params={"SecretId": SECRET_ARN})
    runner = Runner(aws, state, state_path, sleep=lambda s: None)
    runner.execute(plan_teardown(state))
    aws.assert_all_consumed()
    assert runner.calls_made == [] and state.resources == []
    assert [(item.label, changed) for item, changed, _ in runner.forgotten] == [
        ("secretsmanager:delete_secret_unless_gone", False)]
