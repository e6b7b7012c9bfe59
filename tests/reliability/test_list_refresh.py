"""`xacct list --refresh` (issue 27): what AWS still holds of each deployment, read in bulk, run as the least-privilege
operators holding only `xacct permissions --for list` (the sandbox's authorization decides every request in-process).
Deployments set up, one torn down, one whose state file is gone, one whose secret was deleted behind xacct's back;
the listing is checked against what AWS holds, and its requests do not grow with the number of deployments."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
from tests.helpers.counting import RequestCounter
from tests.helpers.operators import authorization_paused, world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi import state as state_mod
from xacct_dataapi.cli import cli
from xacct_dataapi.commands.refresh import CHECKED
from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED, Names, state_path_for
from xacct_dataapi.sandbox import operators

pytestmark = pytest.mark.usefixtures("fast_aws")


def xacct(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def only_list_permissions(world) -> None:
    """Each operator's policy becomes exactly `xacct permissions --side S --for list`."""
    for side, admin in (("consumer", world.consumer), ("provider", world.provider)):
        operators.attach(admin.client("iam"), operators.generated_policy(
            side, region=REGION, provider=PROVIDER, consumer=CONSUMER, cluster=world.cluster_id, vpc=world.vpc_id,
            command="list"))


def all_permissions(world) -> None:
    for side, admin in (("consumer", world.consumer), ("provider", world.provider)):
        operators.attach(admin.client("iam"), operators.generated_policy(
            side, region=REGION, provider=PROVIDER, consumer=CONSUMER, cluster=world.cluster_id, vpc=world.vpc_id))


def refreshed(world, counter: RequestCounter) -> tuple[dict[str, dict], Counter]:
    only_list_permissions(world)
    counter.take()
    out = json.loads(xacct("list", "--refresh", "--output", "json"))
    requests = counter.take()
    all_permissions(world)
    return {d["name"]: d for d in out}, requests


TAG_READS = ("provider:iam.ListRoleTags", "consumer:iam.ListUserTags")


def listing_and_tag_reads(requests: Counter) -> tuple[int, int]:
    """The bulk listing calls, and the tag reads of each role and user named like xacct's (one each)."""
    tag_reads = sum(requests[op] for op in TAG_READS)
    return sum(requests.values()) - tag_reads, tag_reads


def checked_rows(name: str) -> list[str]:
    return [r.kind for r in state_mod.load(state_path_for(name)).resources if r.kind in CHECKED]


def test_list_refresh_shows_what_aws_holds(world, password, monkeypatch):
    counter = RequestCounter().install(monkeypatch)
    for name in ("alpha", "bravo"):
        xacct(*world.setup_args("--enable-data-api", "--yes", name=name))
    two, requests_with_two = refreshed(world, counter)
    assert set(two) == {"alpha", "bravo"}
    for name in ("charlie", "delta", "echo"):
        xacct(*world.setup_args("--yes", name=name))

    # charlie torn down (AWS and its state gone); delta's state file lost; echo's secret deleted behind xacct's back.
    xacct("teardown", "--name", "charlie", "--yes")
    assert not Path(state_path_for("charlie")).exists()
    Path(state_path_for("delta")).unlink()
    with authorization_paused():
        world.provider.client("secretsmanager").delete_secret(SecretId=Names("echo").secret,
                                                              ForceDeleteWithoutRecovery=True)
    listed, requests_with_five = refreshed(world, counter)

    assert set(listed) == {"alpha", "bravo", "delta", "echo"}
    for name in ("alpha", "bravo"):  # every checked row AWS holds (alpha's includes the Data API switch)
        assert listed[name]["aws"] == {"checked": True, "present": checked_rows(name), "missing": []}
    assert "data_api" in listed["alpha"]["aws"]["present"]
    echo = listed["echo"]["aws"]
    assert echo["missing"] == ["secret"] and set(echo["present"]) == set(checked_rows("echo")) - {"secret"}
    # delta: found in AWS alone, by its tags and names, what it still holds there.
    assert listed["delta"]["state_file"] is None and listed["delta"]["consumer"] == CONSUMER
    assert set(listed["delta"]["aws"]["present"]) == {"kms_key", "kms_alias", "secret", "iam_role", "iam_user",
                                                    "security_group"}
    ec2 = world.consumer.client("ec2")
    assert ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["xacct-delta-rds-data-endpoint"]}])[
        "SecurityGroups"]  # what the listing says, AWS holds
    # Flat: one round of listing calls per pair of accounts, whatever the number of deployments (one page each here);
    # plus one ListRoleTags and one ListUserTags per deployment holding its role and user (whose they are).
    listing_two, tag_reads_two = listing_and_tag_reads(requests_with_two)
    listing_five, tag_reads_five = listing_and_tag_reads(requests_with_five)
    assert listing_five == listing_two <= 10, (requests_with_two, requests_with_five)
    assert (tag_reads_two, tag_reads_five) == (2 * 2, 2 * 4), (requests_with_two, requests_with_five)

    # At 80 columns, as an operator's terminal shows it.
    monkeypatch.setenv("COLUMNS", "80")
    only_list_permissions(world)
    text = xacct("list", "--refresh")
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert "AWS lacks:" in text and "no state file" in text and "AWS has all 9" in text and "charlie" not in text


def test_list_refresh_names_a_refused_listing_call(world, password, monkeypatch):
    xacct(*world.setup_args("--enable-data-api", "--yes", name="alpha"))
    for side, admin in (("consumer", world.consumer), ("provider", world.provider)):  # status's reads only
        operators.attach(admin.client("iam"), operators.generated_policy(
            side, region=REGION, provider=PROVIDER, consumer=CONSUMER, cluster=world.cluster_id, vpc=world.vpc_id,
            command="status"))
    res = CliRunner().invoke(cli, ["list", "--refresh"])
    assert res.exit_code == 1, res.output
    assert "--for list" in res.output and "Traceback" not in res.output
    assert json.loads(xacct("list", "--output", "json"))[0]["name"] == "alpha"  # without --refresh: the state alone


def test_list_refresh_takes_an_alias_for_a_deployment_only_as_kms_does(world, password):
    """An alias is a deployment's when it is in its namespace and points at a key tagged for it (KmsAlias.judge), not
    on its name alone: a hand-made `alias/xacct-ghost` on an untagged key is no deployment `ghost`, and one naming
    `orders` but pointing elsewhere is not orders' alias; an alias under `alias/xacct-orders/` (a step reusing the
    alias type, recorded under its own step number) is orders' and present."""
    xacct(*world.setup_args("--enable-data-api", "--yes", name="orders"))
    kms = world.provider.client("kms")
    with authorization_paused():
        foreign = kms.create_key(Description="hand-made")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/xacct-ghost", TargetKeyId=foreign)
        kms.create_alias(AliasName="alias/xacct-orders-x", TargetKeyId=foreign)
        key_id = kms.describe_key(KeyId=Names("orders").key_alias)["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/xacct-orders/reporting", TargetKeyId=key_id)
    state = state_mod.load(state_path_for("orders"))
    state.resources.append(state_mod.ResourceRow(10, "kms_alias", "alias/xacct-orders/reporting", "provider"))
    state_mod.save(state, state_path_for("orders"))

    listed, _ = refreshed(world, RequestCounter())

    assert set(listed) == {"orders"}, listed  # no `ghost`, no `orders-x`
    assert listed["orders"]["aws"]["missing"] == [], listed["orders"]["aws"]
    assert listed["orders"]["aws"]["present"].count("kms_alias") == 2


def test_list_refresh_takes_a_role_or_user_for_a_deployment_only_by_its_tags(world, password):
    """A role or user is a deployment's when it carries the deployment's name and its tags (xacct:deployment and
    xacct:managed-by, as resource_types/iam.py judges a row), not on its name alone: anyone may create one named
    `xacct-ghost-data-api-access`, and orders' own, retagged or untagged behind xacct's back, is no longer orders'."""
    xacct(*world.setup_args("--enable-data-api", "--yes", name="orders"))
    iam_p, iam_c = world.provider.client("iam"), world.consumer.client("iam")
    theirs = [{"Key": TAG_DEPLOYMENT, "Value": "billing"}, {"Key": TAG_MANAGED, "Value": "xacct"}]
    with authorization_paused():
        iam_p.create_role(RoleName=Names("ghost").access_role, AssumeRolePolicyDocument="{}",
                          Path=Names.access_role_path(world.cluster_id, REGION))
        iam_c.create_user(UserName=Names("ghost").consumer_user)
        iam_c.create_user(UserName=Names("mimic").consumer_user, Tags=theirs)  # tagged for another deployment
        iam_p.tag_role(RoleName=Names("orders").access_role, Tags=theirs)
        iam_c.untag_user(UserName=Names("orders").consumer_user, TagKeys=[TAG_DEPLOYMENT])

    listed, _ = refreshed(world, RequestCounter())

    assert set(listed) == {"orders"}, listed  # no `ghost`, no `mimic`, and no `billing` (named for orders)
    assert sorted(listed["orders"]["aws"]["missing"]) == ["iam_role", "iam_user"], listed["orders"]["aws"]
    # AWS still holds them all: they are there, only not credited to a deployment they are not tagged for.
    assert iam_c.get_user(UserName=Names("orders").consumer_user)["User"]["UserName"]
    assert iam_p.get_role(RoleName=Names("ghost").access_role)["Role"]["RoleName"]


def test_list_refresh_by_an_operator_narrowed_to_one_deployment_leaves_the_others_principals_unchecked(
        world, password, monkeypatch):
    """`xacct permissions --for list --name orders` lets the operator read the tags of orders' role and user alone:
    billing's are neither credited nor reported missing (AWS refused to say whose they are), but unchecked."""
    for name in ("orders", "billing"):
        xacct(*world.setup_args("--enable-data-api", "--yes", name=name))
    for side, admin in (("consumer", world.consumer), ("provider", world.provider)):
        operators.attach(admin.client("iam"), operators.generated_policy(
            side, region=REGION, provider=PROVIDER, consumer=CONSUMER, cluster=world.cluster_id, vpc=world.vpc_id,
            command="list", name="orders"))

    listed = {d["name"]: d for d in json.loads(xacct("list", "--refresh", "--output", "json"))}

    assert listed["orders"]["aws"] == {"checked": True, "present": checked_rows("orders"), "missing": []}
    billing = listed["billing"]["aws"]
    assert sorted(billing["unchecked"]) == ["iam_role", "iam_user"] and billing["missing"] == [], billing
    assert set(billing["present"]) == set(checked_rows("billing")) - {"iam_role", "iam_user"}
    monkeypatch.setenv("COLUMNS", "80")
    text = xacct("list", "--refresh")
    assert "not allowed" in text and "(--for list)" in text and max(len(line) for line in text.splitlines()) <= 80, text


@pytest.mark.parametrize("side, service, call, params", [
    ("provider", "resourcegroupstaggingapi", "get_resources", ("ResourcesPerPage", 100)),
    ("provider", "secretsmanager", "list_secrets", ("MaxResults", 100)),
    ("provider", "kms", "list_aliases", ("Limit", 100)),
    ("consumer", "ec2", "describe_security_groups", ("MaxResults", 1000)),
    ("consumer", "ec2", "describe_vpc_endpoints", ("MaxResults", 1000)),
])
def test_the_sandbox_takes_the_page_sizes_aws_takes(world, side, service, call, params):
    """list --refresh asks for the largest pages AWS allows (commands/refresh.py); one more is refused, as AWS does."""
    from botocore.exceptions import ClientError

    param, most = params
    client = getattr(world, side).client(service)
    getattr(client, call)(**{param: most})
    with pytest.raises(ClientError) as refused:
        getattr(client, call)(**{param: most + 1})
    assert str(most + 1) in str(refused.value)
