"""Property tests (hypothesis) over deployment names, regions, partitions and account ids, on every document the
steps' desired() produce and on the operator policy `xacct permissions` generates; and parliament on every policy
document xacct writes, where only the understood findings are allowed."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xacct_dataapi import permissions, policies
from xacct_dataapi.config import Config
from xacct_dataapi.planner import generate_missing_values
from xacct_dataapi.context import Cluster, ConsumerPrincipal, Context, Inputs
from xacct_dataapi.models import Account, render_value
from xacct_dataapi.state import State
from xacct_dataapi.steps import STEPS

REGIONS = {
    "aws": ["us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2", "sa-east-1", "me-central-1"],
    "aws-cn": ["cn-north-1", "cn-northwest-1"],
    "aws-us-gov": ["us-gov-west-1", "us-gov-east-1"],
}
ARN = re.compile(r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
                 r"(?P<account>\d{12}|aws|):(?P<resource>\S+)$")
GLOBAL_SERVICES = ("iam", "route53")  # their ARNs have no region
# Where AWS documents "*" as a key policy's Resource ("this key"); the default key policy's root statement is
# AWS's own "kms:*" (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
KEY_POLICY_STAR_SIDS = {"EnableProviderAccountIamPolicies", "AllowAccessRoleDecryptViaSecretsManager"}
AWS_DEFAULT_KEY_POLICY_ACTION = ("EnableProviderAccountIamPolicies", "kms:*")

names = st.from_regex(r"\A[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?\Z")
accounts = st.from_regex(r"\A[0-9]{12}\Z")  # AWS account ids are ASCII digits (\d would draw any Unicode digit)
partitions = st.sampled_from(sorted(REGIONS))
cluster_ids = st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,62}\Z")


@st.composite
def deployments(draw):
    partition = draw(partitions)
    provider, consumer = draw(st.lists(accounts, min_size=2, max_size=2, unique=True))
    return SimpleNamespace(partition=partition, region=draw(st.sampled_from(REGIONS[partition])), provider=provider,
                           consumer=consumer, name=draw(names), cluster=draw(cluster_ids),
                           adopted_role=draw(st.booleans()), private=draw(st.booleans()),
                           readers=draw(st.lists(st.from_regex(r"\A[A-Za-z0-9+=,.@_-]{1,64}\Z"), max_size=2, unique=True)))


def context(d) -> Context:
    cluster_arn = f"arn:{d.partition}:rds:{d.region}:{d.provider}:cluster:{d.cluster}"
    readers = tuple(f"arn:{d.partition}:iam::{d.provider}:role/{r}" for r in d.readers)
    cfg = Config(name=d.name, consumer_profile="c", provider_profile="p", cluster=cluster_arn, vpc_id="vpc-0abc1234",
                 subnet_ids=("subnet-0abc1234",), region=d.region, consumer_role="app" if d.adopted_role else None,
                 secret_readers=readers, require_private_path=d.private).validate()
    principal = (ConsumerPrincipal("role", "app", f"arn:{d.partition}:iam::{d.consumer}:role/app", adopted=True)
                 if d.adopted_role else ConsumerPrincipal(
                     "user", cfg.names.consumer_user, policies.user_arn(d.consumer, cfg.names.consumer_user, d.partition),
                     adopted=False))
    cluster = Cluster(d.cluster, cluster_arn, "aurora-postgresql", "provisioned", "c.example", 5432, "db", True)
    values = {"key_id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
              "key_arn": f"arn:{d.partition}:kms:{d.region}:{d.provider}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
              "secret_arn": f"arn:{d.partition}:secretsmanager:{d.region}:{d.provider}:secret:{cfg.names.secret}-AbCdEf",
              "access_role_arn": policies.role_arn(d.provider, cfg.names.access_role, d.partition),
              "endpoint_id": "vpce-0123456789abcdef0", "external_id": "xacct-" + "0" * 32, "security_group_id": "sg-0abc"}
    aws = SimpleNamespace(region=d.region)
    ctx = Context(cfg, aws, State(name=d.name), Inputs(d.consumer, d.provider, cluster, "10.0.0.0/16", principal),
                  lambda: "pw", values=values)
    generate_missing_values(ctx, STEPS)  # as plan_setup does after the inspections (the external id)
    return ctx


def documents(ctx) -> dict[str, dict]:
    return {name: render_value(doc) for step in STEPS for r in step.desired(ctx) for name, doc in r.documents.items()}


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_arns_well_formed(doc, partition: str, region: str, accounts_: set[str]) -> None:
    for s in strings(doc):
        if not s.startswith("arn:"):
            assert "arn:" not in s, s
            continue
        m = ARN.match(s)
        assert m, f"malformed ARN {s!r}"
        assert m["partition"] == partition, s
        if m["service"] in GLOBAL_SERVICES:
            assert m["region"] == "", s
        else:
            assert m["region"] == region, s
        # AWS managed policies are arn:PARTITION:iam::aws:policy/NAME (IAM User Guide, "AWS managed policies").
        aws_managed = m["service"] == "iam" and m["account"] == "aws" and m["resource"].startswith("policy/")
        assert m["account"] in accounts_ or aws_managed or (m["service"] == "route53" and m["account"] == ""), s


def actions_of(statement: dict) -> list[str]:
    a = statement.get("Action", [])
    return [a] if isinstance(a, str) else a


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deployments())
def test_written_documents_hold_for_any_deployment(d):
    docs = documents(context(d))
    assert {"key_policy", "secret_policy", "access_role_trust", "access_role_permissions", "consumer_assume_role",
            "endpoint_policy"} <= set(docs)
    for name, doc in docs.items():
        assert_arns_well_formed(doc, d.partition, d.region, {d.provider, d.consumer})
        for s in doc["Statement"]:
            for action in actions_of(s):
                if (s["Sid"], action) == AWS_DEFAULT_KEY_POLICY_ACTION and name == "key_policy":
                    continue
                assert "*" not in action, (name, s["Sid"], action)
            if s.get("Resource") == "*" or "*" in (s.get("Resource") or []):
                assert name == "key_policy" and s["Sid"] in KEY_POLICY_STAR_SIDS, (name, s["Sid"])
    perms = {s["Sid"]: s for s in docs["access_role_permissions"]["Statement"]}
    assert ("Condition" in perms["RunDataApiStatements"]) is d.private
    assert d.consumer not in json.dumps(docs["key_policy"])  # the consumer acts only through the access role


@settings(max_examples=60, deadline=None)
@given(partitions.flatmap(lambda p: st.tuples(st.just(p), st.sampled_from(REGIONS[p]))),
       st.lists(accounts, min_size=2, max_size=2, unique=True), st.one_of(st.just("*"), names),
       st.sampled_from(("all",) + permissions.COMMANDS))
def test_operator_policy_holds_for_any_scope(partition_region, ids, name, command):
    partition, region = partition_region
    scope = permissions.Scope(partition=partition, region=region, provider=ids[0], consumer=ids[1], cluster="orders",
                              vpc="vpc-0abc1234", name=name, consumer_role="app", consumer_user="appuser")
    for side in Account:
        doc = permissions.policy(side, command, scope)
        assert_arns_well_formed(doc, partition, region, set(ids))
        for s in doc["Statement"]:
            assert all("*" not in a for a in actions_of(s)), s
            if s["Resource"] == "*":
                assert all(a in dict(permissions.star_actions()) for a in actions_of(s))


# --- parliament on every document xacct writes --------------------------------------------------------------

# Findings AWS's own shapes produce, and nothing else: a trust policy has no Resource; the key policy's "*" is
# "this key"; parliament flags sts:AssumeRole as able to expose credentials (informational).
EXPECTED_FINDINGS = {
    "access_role_trust": {"MALFORMED"},
    "key_policy": {"RESOURCE_STAR"},
    "consumer_assume_role": {"CREDENTIALS_EXPOSURE"},
}


@pytest.mark.parametrize("private", [False, True])
@pytest.mark.parametrize("adopted_role", [False, True])
def test_parliament_finds_only_the_expected(private, adopted_role):
    parliament = pytest.importorskip("parliament")
    d = SimpleNamespace(partition="aws", region="us-west-2", provider="222222222222", consumer="111111111111",
                        name="orders", cluster="orders-aurora", adopted_role=adopted_role, private=private,
                        readers=["rotation-lambda"])
    for name, doc in documents(context(d)).items():
        found = {f.issue for f in parliament.analyze_policy_string(json.dumps(doc)).findings}
        assert found <= EXPECTED_FINDINGS.get(name, set()), (name, found)


def test_parliament_is_not_vacuous_on_a_grant_nobody_uses():
    parliament = pytest.importorskip("parliament")
    doc = policies.consumer_assume_policy("*")
    assert "RESOURCE_STAR" in {f.issue for f in parliament.analyze_policy_string(json.dumps(doc)).findings}
