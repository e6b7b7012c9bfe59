"""Reliability tests: crash at any point, Ctrl-C, the deployment lock, and secrets never written or printed.

Shared helpers live here. Every AWS call xacct makes goes through `xacct_dataapi.aws.Sessions.client`, so
`CallHooks.install` wraps that method and registers botocore event handlers on each client it creates:
it records every *mutating* call AWS accepted, and can kill the run (or do anything else) right after one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import boto3
import pytest
import botocore.client
import botocore.session
from botocore.exceptions import ClientError

from xacct_dataapi import aws as aws_mod
from xacct_dataapi import state as state_mod

DEPLOYMENT = "default"
TAG = "xacct:deployment"
SG_NAME = "xacct-default-rds-data-endpoint"
SECRET_NAME = "xacct-default/db-credentials"
ROLE_NAME = "xacct-default-data-api-access"
USER_NAME = "xacct-default-data-api-client"
KEY_ALIAS = "alias/xacct-default"
STATE = ".xacct/default.json"

READ_PREFIXES = ("Describe", "Get", "List")


class _SearchPaths(list):
    """boto3 appends its own data path to the loader of every session it creates: once is enough."""

    def append(self, item) -> None:
        if item not in self:
            super().append(item)


_LOADERS: dict = {}
_CLIENT_CLASSES: dict = {}


def speed_up_aws(monkeypatch) -> None:
    """Test speed only; nothing here changes what xacct sends or what moto answers.

    Each xacct command builds new boto3 sessions, and each botocore session gets its own data loader that finds
    and parses the (large) service models again: share one loader (it only reads botocore's bundled JSON).
    With one loader, a service's model is one object, so the client class botocore generates from it (one method
    per operation) can be shared too. Skip moto's default AMI catalogue, which xacct never reads. And skip the state file's fsyncs: they guard
    against power loss, while these tests kill a *process* (the page cache survives; the atomic rename and the
    .bak are still exercised)."""
    original = botocore.session.create_loader

    def shared_loader(search_path_string=None):
        if search_path_string not in _LOADERS:
            loader = original(search_path_string)
            loader._search_paths = _SearchPaths(loader._search_paths)
            _LOADERS[search_path_string] = loader
        return _LOADERS[search_path_string]

    monkeypatch.setattr(botocore.session, "create_loader", shared_loader)

    original_class = botocore.client.ClientCreator._create_client_class

    def shared_class(creator, service_name, service_model):
        key = (service_name, id(service_model._service_description))
        if key not in _CLIENT_CLASSES:
            _CLIENT_CLASSES[key] = (service_model._service_description,
                                    original_class(creator, service_name, service_model))
        return _CLIENT_CLASSES[key][1]

    monkeypatch.setattr(botocore.client.ClientCreator, "_create_client_class", shared_class)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.setattr(state_mod.os, "fsync", lambda fd: None)


@pytest.fixture(autouse=True)
def fast_aws(monkeypatch):
    speed_up_aws(monkeypatch)


class Killed(BaseException):
    """Stands in for SIGKILL / a power cut: not an Exception, so no `except Exception` in xacct can swallow it."""


def is_mutating(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


@dataclass
class CallHooks:
    """Records the mutating calls AWS accepted, as 'account:service.Operation', in order.

    kill_at=k raises Killed in the `after-call` of the k-th one (1-based): AWS has done it, xacct has not
    recorded it. after(n, label) runs after every recorded call. fail={'Operation': ClientError} makes that
    operation fail before it reaches AWS.
    """

    kill_at: int | None = None
    after: Callable[[int, str], None] | None = None
    fail: dict[str, ClientError] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def install(self, monkeypatch) -> "CallHooks":
        original = aws_mod.Sessions.client
        hooks = self
        # Test speed only: building a botocore client costs more than most moto calls, and each xacct command
        # builds its own. Commands run within one test share them (per profile, region and service); they hold
        # no xacct state, so a "killed" run leaves nothing behind in them that a new process would not have.
        shared: dict = {}

        def client(sessions, account, service):
            profile = sessions.consumer_profile if account.value == "consumer" else sessions.provider_profile
            key = (account.value, profile, sessions.region, service)
            c = shared.get(key)
            if c is None:
                c = shared[key] = original(sessions, account, service)
                who = account.value

                def after_call(http_response, parsed, model, **_):
                    hooks._after_call(who, http_response, model)

                def before_call(model, **_):
                    hooks._before_call(model)

                c.meta.events.register("after-call.*.*", after_call, unique_id="xacct-test-after-call")
                c.meta.events.register("before-call.*.*", before_call, unique_id="xacct-test-before-call")
            return c

        monkeypatch.setattr(aws_mod.Sessions, "client", client)
        return self

    def _before_call(self, model) -> None:
        exc = self.fail.get(model.name)
        if exc is not None:
            raise exc

    def _after_call(self, account: str, http_response, model) -> None:
        if http_response is None or http_response.status_code >= 300 or not is_mutating(model.name):
            return
        self.calls.append(f"{account}:{model.service_model.service_name}.{model.name}")
        n = len(self.calls)
        if self.kill_at == n:
            raise Killed(self.calls[-1])
        if self.after is not None:
            self.after(n, self.calls[-1])


def client_error(operation: str, code: str = "AccessDenied", message: str = "injected by the test") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                       operation)


# --- what is in AWS ------------------------------------------------------------------------------


def client(session: boto3.Session, service: str):
    """One client per (test session, service): building a botocore client is the slowest part of these tests."""
    cache = session.__dict__.setdefault("_xacct_test_clients", {})
    if service not in cache:
        cache[service] = session.client(service)
    return cache[service]


def _tags(items) -> dict:
    return {t.get("Key", t.get("TagKey")): t.get("Value", t.get("TagValue")) for t in items or []}


def customer_keys(provider: boto3.Session) -> list[dict]:
    """Every customer-managed KMS key in the provider account: KeyMetadata plus 'Tags' as a dict."""
    kms = client(provider, "kms")
    out = []
    for k in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") == "AWS":
            continue
        meta["Tags"] = _tags(kms.list_resource_tags(KeyId=k["KeyId"]).get("Tags"))
        out.append(meta)
    return out


def live_keys(provider: boto3.Session) -> list[dict]:
    return [k for k in customer_keys(provider) if k["KeyState"] != "PendingDeletion"]


def secrets(provider: boto3.Session) -> list[dict]:
    return client(provider, "secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]


def roles(provider: boto3.Session) -> list[dict]:
    return client(provider, "iam").list_roles()["Roles"]


def users(consumer: boto3.Session) -> list[dict]:
    return client(consumer, "iam").list_users()["Users"]


def xacct_security_groups(consumer: boto3.Session, vpc_id: str) -> list[dict]:
    """Every security group in the VPC except the VPC's default group."""
    groups = client(consumer, "ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [g for g in groups["SecurityGroups"] if g["GroupName"] != "default"]


def live_endpoints(consumer: boto3.Session, vpc_id: str) -> list[dict]:
    eps = client(consumer, "ec2").describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    return [e for e in eps if str(e.get("State", "")).lower() != "deleted"]


def data_api_on(world) -> bool:
    c = client(world.provider, "rds").describe_db_clusters(DBClusterIdentifier=world.cluster_id)["DBClusters"][0]
    return bool(c.get("HttpEndpointEnabled"))


def assert_exactly_one_deployment(world, state: dict) -> None:
    """Exactly the resources of one uninterrupted setup, each one the resource the state file records."""
    rows = {r["kind"]: r for r in state["resources"]}

    keys = live_keys(world.provider)
    assert len(keys) == 1, f"expected exactly one live customer-managed key, found {[k['KeyId'] for k in keys]}"
    key = keys[0]
    assert key["Enabled"] and key["KeyState"] == "Enabled"
    assert key["Tags"].get(TAG) == DEPLOYMENT
    assert rows["kms_key"]["id"] == key["KeyId"]
    assert state["values"]["key_arn"] == key["Arn"]
    alias = client(world.provider, "kms").describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]
    assert alias["KeyId"] == key["KeyId"], "the alias must point at the deployment's key"

    found = secrets(world.provider)
    assert [s["Name"] for s in found] == [SECRET_NAME]
    secret = client(world.provider, "secretsmanager").describe_secret(SecretId=SECRET_NAME)
    assert not secret.get("DeletedDate")
    assert secret["KmsKeyId"] in (key["Arn"], key["KeyId"]), "the secret must be encrypted with the deployment's key"
    assert _tags(secret.get("Tags")).get(TAG) == DEPLOYMENT
    assert state["values"]["secret_arn"] == secret["ARN"]
    assert client(world.provider, "secretsmanager").get_resource_policy(SecretId=SECRET_NAME).get("ResourcePolicy")

    found_roles = roles(world.provider)
    assert [r["RoleName"] for r in found_roles] == [ROLE_NAME]
    iam = client(world.provider, "iam")
    role = iam.get_role(RoleName=ROLE_NAME)["Role"]
    assert _tags(role.get("Tags")).get(TAG) == DEPLOYMENT
    assert state["values"]["access_role_arn"] == role["Arn"]
    trust = role["AssumeRolePolicyDocument"]
    ext_ids = [s["Condition"]["StringEquals"]["sts:ExternalId"] for s in trust["Statement"]
               if "sts:ExternalId" in s.get("Condition", {}).get("StringEquals", {})]
    assert ext_ids == [state["values"]["external_id"]], "the recorded external id must be the one the role trusts"
    assert iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"] == ["xacct-default-data-api"]

    found_users = users(world.consumer)
    assert [u["UserName"] for u in found_users] == [USER_NAME]
    assert client(world.consumer, "iam").list_user_policies(UserName=USER_NAME)["PolicyNames"] == [
        "xacct-default-assume-data-api-access"]

    groups = xacct_security_groups(world.consumer, world.vpc_id)
    assert [g["GroupName"] for g in groups] == [SG_NAME]
    sg = groups[0]
    assert _tags(sg.get("Tags")).get(TAG) == DEPLOYMENT
    assert rows["security_group"]["id"] == sg["GroupId"]
    ingress = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
               for p in sg["IpPermissions"] for r in p.get("IpRanges", [])}
    egress = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
              for p in sg["IpPermissionsEgress"] for r in p.get("IpRanges", [])}
    assert ingress == {("tcp", 443, 443, world.vpc_cidr)}
    assert egress == {("tcp", 443, 443, world.vpc_cidr)}, "the default allow-all egress must be gone"

    eps = live_endpoints(world.consumer, world.vpc_id)
    assert len(eps) == 1, f"expected exactly one live endpoint, found {[e['VpcEndpointId'] for e in eps]}"
    ep = eps[0]
    assert ep["ServiceName"].endswith(".rds-data")
    assert _tags(ep.get("Tags")).get(TAG) == DEPLOYMENT
    assert rows["vpc_endpoint"]["id"] == ep["VpcEndpointId"]
    assert [g["GroupId"] for g in ep["Groups"]] == [sg["GroupId"]]
    assert sorted(ep["SubnetIds"]) == sorted(world.subnet_ids)

    assert data_api_on(world)


def assert_nothing_left(world) -> None:
    keys = customer_keys(world.provider)
    assert keys and all(k["KeyState"] == "PendingDeletion" for k in keys), \
        [(k["KeyId"], k["KeyState"]) for k in keys]
    assert secrets(world.provider) == []
    assert roles(world.provider) == []
    assert users(world.consumer) == []
    assert xacct_security_groups(world.consumer, world.vpc_id) == []
    assert live_endpoints(world.consumer, world.vpc_id) == []
    assert not data_api_on(world), "xacct turned the Data API on (--enable-data-api), so teardown turns it off"


def resource_shape(state: dict) -> list[tuple]:
    """The resources a state file records, without the ids AWS makes up (key id, group id, endpoint id)."""
    random_ids = {"kms_key", "kms_key_policy", "security_group", "vpc_endpoint"}
    return sorted((r["kind"], r["account"], r["created"], None if r["kind"] in random_ids else r["id"])
                  for r in state["resources"])
