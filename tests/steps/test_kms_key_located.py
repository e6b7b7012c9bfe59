"""The KMS key step is a declaration whose key is `located` (resource_types/kms.py KmsKey): CreateKey takes no name,
so the key is the recorded one while it is usable and this deployment's, else the one the alias names, else one
found by tag. Against moto through the real inspection, with the AWS-side result checked after each apply: a
disabled key is enabled, an alias moved by hand is pointed back, a key unrecorded is adopted (the first of two
tagged, by ARN), a key pending deletion is not reused and is left as it is, an alias naming another deployment's key
is refused by name. Each inspection's request count is pinned (it must not grow)."""
from __future__ import annotations

import pytest

from tests.helpers.accounts import REGION
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from tests.steps.test_steps_moto import Deployment
from xacct_dataapi import aws as aws_mod
from xacct_dataapi import state as state_mod
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Action
from xacct_dataapi.planner import inspect_all
from xacct_dataapi.steps import kms_key

pytestmark = pytest.mark.usefixtures("fast_aws")


def key_step(plan):
    return next(s for s in plan.steps if s.key == "kms_key")


def target(kms, alias: str) -> str:
    return kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]


def tagged_key(kms, dep) -> str:
    tags = [{"TagKey": k, "TagValue": v} for k, v in dep.names.tags().items()]
    return kms.create_key(Tags=tags)["KeyMetadata"]["KeyId"]


def inspection_requests(dep, monkeypatch) -> list[str]:
    """The AWS operations the key step's inspection alone sends."""
    sent: list[str] = []
    original = aws_mod.Sessions.client

    def counting(self, account, service):
        client = original(self, account, service)
        if not getattr(client, "_kms_test_counted", False):
            client.meta.events.register("before-send.*.*", lambda **kw: sent.append(kw["event_name"].split(".")[-1]))
            client._kms_test_counted = True
        return client

    ctx = dep.context()
    ctx.settle()  # the preflight's reads are not the inspection's
    monkeypatch.setattr(aws_mod.Sessions, "client", counting)
    sent.clear()
    inspect_all(ctx, (kms_key.STEP,))
    monkeypatch.setattr(aws_mod.Sessions, "client", original)
    return sorted(sent)


def test_the_key_is_located_repaired_adopted_and_never_reused_pending_deletion(world, password, monkeypatch):
    dep = Deployment(world, password)
    kms = world.provider.client("kms")
    alias = dep.names.key_alias
    # a fresh setup reads the alias and searches by tag at once: nothing more
    assert inspection_requests(dep, monkeypatch) == ["DescribeKey", "GetResources"]
    dep.apply()
    key_id = dep.load().find("kms_key").id
    # a re-run: the alias and its key's tags, nothing else
    assert inspection_requests(dep, monkeypatch) == ["DescribeKey", "ListResourceTags"]

    # disabled by hand: enabled again, nothing else
    kms.disable_key(KeyId=key_id)
    ctx, plan = dep.plan()
    assert key_step(plan).action is Action.REPAIR and [c.label for c in key_step(plan).calls] == ["kms:enable_key"]
    assert key_step(plan).problems == [f"key {key_id} is disabled"]
    dep.apply(ctx, plan)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"

    # the alias moved by hand to another key tagged for the deployment: pointed back at the recorded key, which
    # stays; the other key is not this run's to touch
    other = tagged_key(kms, dep)
    kms.update_alias(AliasName=alias, TargetKeyId=other)
    ctx, plan = dep.plan()
    assert [c.label for c in key_step(plan).calls] == ["kms:update_alias"]
    assert key_step(plan).problems == [f"{alias} points at key {other}, desired key {key_id}"]
    dep.apply(ctx, plan)
    assert target(kms, alias) == key_id and dep.load().find("kms_key").id == key_id
    assert kms.describe_key(KeyId=other)["KeyMetadata"]["KeyState"] == "Enabled"

    # the state file lost the key and the alias, and the alias is gone: the first key tagged for the deployment (by
    # ARN) is adopted, the alias made again to name it
    state = dep.load()
    state.forget("kms_key", key_id)
    state.forget("kms_alias", alias)
    state.values.pop("key_id"), state.values.pop("key_arn")
    state_mod.save(state, dep.path)
    kms.delete_alias(AliasName=alias)
    first = min((kms.describe_key(KeyId=k)["KeyMetadata"]["Arn"], k) for k in (key_id, other))[1]
    ctx, plan = dep.plan()
    assert [c.label for c in key_step(plan).calls] == ["record", "kms:create_alias"]
    dep.apply(ctx, plan)
    assert target(kms, alias) == first and dep.load().find("kms_key").id == first
    second = other if first == key_id else key_id
    kms.schedule_key_deletion(KeyId=second, PendingWindowInDays=7)

    # pending deletion (by hand): not reused; a new key is made, the alias pointed at it, the old key left pending
    kms.schedule_key_deletion(KeyId=first, PendingWindowInDays=7)
    ctx, plan = dep.plan()
    assert [c.label for c in key_step(plan).calls][:2] == ["kms:create_key", "kms:update_alias"]
    dep.apply(ctx, plan)
    new = dep.load().find("kms_key").id
    assert new not in (first, second) and target(kms, alias) == new
    assert kms.describe_key(KeyId=first)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert [r.id for r in dep.load().resources if r.kind == "kms_key"] == [new]

    # the alias pointed at a key that is not this deployment's: refused by name, nothing changed
    foreign = kms.create_key(Tags=[{"TagKey": "xacct:deployment", "TagValue": "someone-else"}])["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName=alias, TargetKeyId=foreign)
    with pytest.raises(UsageError) as refused:
        dep.plan()
    assert alias in refused.value.message and "not deployment 'orders'" in refused.value.message
    assert target(kms, alias) == foreign


def test_the_declared_search_and_discovery_walk_the_tagged_keys_alike(world, password):
    """One walk (kms._usable_keys) for both: the keys tagged for the deployment (both xacct tags, as the key's own
    ownership test asks), by ARN, each described once at most and only while still wanted: the declared step's
    search stops at the first usable key, discovery takes every one; neither describes a key missing xacct's tags,
    and discovery's tag search is the finder's, which the aliases' discovery shares (one GetResources)."""
    from xacct_dataapi.aws import Sessions
    from xacct_dataapi.discover import Finder
    from xacct_dataapi.models import Account
    from xacct_dataapi.resource_types import TYPES

    dep = Deployment(world, password)
    kms = world.provider.client("kms")
    usable = [tagged_key(kms, dep) for _ in range(2)]
    pending = tagged_key(kms, dep)
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=7)
    half = kms.create_key(Tags=[{"TagKey": "xacct:deployment", "TagValue": "orders"}])["KeyMetadata"]["KeyId"]
    arn = {k: kms.describe_key(KeyId=k)["KeyMetadata"]["Arn"] for k in (*usable, pending, half)}
    walked = sorted((*usable, pending), key=arn.get)  # the keys tagged for the deployment, in the walk's order

    aws = Sessions.from_profiles("consumer", "provider", REGION)  # the operators'
    sent: list[tuple[str, str]] = []
    for service in ("kms", "resourcegroupstaggingapi"):
        aws.client(Account.PROVIDER, service).meta.events.register(
            "provide-client-params.*.*", lambda params, model, **_: sent.append((model.name, params.get("KeyId", ""))))

    finder = Finder(aws, "orders")
    assert TYPES["kms_key"].find(finder) == sorted((k, arn[k]) for k in usable)
    TYPES["kms_alias"].find(finder)
    assert [k for name, k in sent if name == "DescribeKey"] == [arn[k] for k in walked]
    assert [name for name, _ in sent].count("GetResources") == 1

    sent.clear()
    found = TYPES["kms_key"].search(lambda service: aws.client(Account.PROVIDER, service), dep.names)
    first = next(k for k in walked if k != pending)
    assert found["KeyId"] == first and found["Tags"] == dep.names.tags()
    assert [k for name, k in sent if name == "DescribeKey"] == [arn[k] for k in walked[:walked.index(first) + 1]]
    assert arn[half] not in str(sent)
