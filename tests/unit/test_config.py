"""Pure tests of input validation and deterministic naming (xacct_dataapi/config.py)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from xacct_dataapi.config import Config, Names, state_path_for, validate_name
from xacct_dataapi.errors import USAGE, UsageError

CLUSTER_ARN = "arn:aws:rds:us-west-2:222222222222:cluster:orders-aurora"


def good(**overrides) -> Config:
    base = Config(name="orders", consumer_profile="consumer", provider_profile="provider", cluster="orders-aurora",
                  vpc_id="vpc-0abc1234", subnet_ids=("subnet-0abc1234", "subnet-0def5678"))
    return dataclasses.replace(base, **overrides)


def usage_error(cfg: Config) -> UsageError:
    with pytest.raises(UsageError) as info:
        cfg.validate()
    assert info.value.exit_code == USAGE
    assert info.value.hint  # every usage error says what to do
    return info.value


@pytest.mark.parametrize("bad", ["a_b", "-x", "x-", "", "a" * 40, "a" * 33, "orders prod", "ordérs", "a.b"])
def test_bad_names_are_rejected_and_named(bad):
    with pytest.raises(UsageError) as info:
        validate_name(bad)
    assert repr(bad) in info.value.message
    assert "--name" in info.value.message
    assert repr(bad) in usage_error(good(name=bad)).message


@pytest.mark.parametrize("name", ["a", "7", "orders", "orders-prod", "A1-b2-C3", "a" * 32])
def test_good_names_pass(name):
    assert validate_name(name) == name
    assert good(name=name).validate().name == name


def test_empty_subnets():
    err = usage_error(good(subnet_ids=()))
    assert "--subnets" in err.message and "empty" in err.message


@pytest.mark.parametrize("bad", ["subnet-XYZ12345", "sn-0abc1234", "subnet-0abc", "0abc1234", "subnet-0abc1234 "])
def test_malformed_subnet_is_named(bad):
    err = usage_error(good(subnet_ids=("subnet-0abc1234", bad)))
    assert repr(bad) in err.message


def test_duplicate_subnet_is_named():
    err = usage_error(good(subnet_ids=("subnet-0abc1234", "subnet-0def5678", "subnet-0abc1234")))
    assert "subnet-0abc1234" in err.message and "more than once" in err.message and "subnet-0def5678" not in err.message


@pytest.mark.parametrize("bad", ["vpc-zz", "vpc-0ABC1234", "vpc_0abc1234", "", "subnet-0abc1234"])
def test_malformed_vpc_is_named(bad):
    err = usage_error(good(vpc_id=bad))
    assert repr(bad) in err.message and "--vpc" in err.message


@pytest.mark.parametrize("bad", [
    "arn:aws:rds:us-west-2:2222:cluster:orders",            # short account id
    "arn:aws:rds:us-west-2:222222222222:db:orders",         # an instance, not a cluster
    "arn:aws:rds:us-west-2:222222222222:cluster:1orders",   # id must start with a letter
    "arn:aws:ec2:us-west-2:222222222222:cluster:orders",    # not rds
    "orders_aurora",                                        # not an identifier either
    "",
])
def test_bad_cluster_is_named(bad):
    err = usage_error(good(cluster=bad))
    assert repr(bad) in err.message and "--cluster" in err.message


def test_both_consumer_role_and_user():
    err = usage_error(good(consumer_role="orders-app", consumer_user="orders-app"))
    assert "--consumer-role" in err.message and "--consumer-user" in err.message


@pytest.mark.parametrize("bad", ["has space", "arn:aws:iam::111111111111:user/orders-app", "x" * 65,
                                 "\u043erders-app",  # a Cyrillic o: IAM names are ASCII
                                 "arn:aws:iam::111111111111:role/\u043erders-app"])
def test_bad_consumer_role_is_named(bad):
    assert repr(bad) in usage_error(good(consumer_role=bad)).message


def test_bad_consumer_user_is_named():
    assert repr("a/b") in usage_error(good(consumer_user="a/b")).message
    assert repr("\u043erders-app") in usage_error(good(consumer_user="\u043erders-app")).message


@pytest.mark.parametrize("days", [6, 31, 0, -1])
def test_key_deletion_days_out_of_range(days):
    err = usage_error(good(key_deletion_days=days))
    assert f"--key-deletion-days {days} " in err.message


@pytest.mark.parametrize("days", [7, 30])
def test_key_deletion_days_bounds_pass(days):
    good(key_deletion_days=days).validate()


def test_bad_db_user_and_db_name():
    assert repr("app-user") in usage_error(good(db_user="app-user")).message
    assert repr("1db") in usage_error(good(db_name="1db")).message


@pytest.mark.parametrize("overrides", [
    {},
    {"cluster": CLUSTER_ARN},
    {"cluster": "arn:aws-cn:rds:cn-north-1:222222222222:cluster:orders-aurora"},
    {"consumer_role": "orders-app"},
    {"consumer_role": "arn:aws:iam::111111111111:role/orders-app"},
    {"consumer_role": "arn:aws:iam::111111111111:role/team/app/orders-app"},
    {"consumer_user": "orders-app"},
    {"subnet_ids": ("subnet-0123456789abcdef0",)},
    {"vpc_id": "vpc-0123456789abcdef0"},
    {"db_user": "app_user", "db_name": "orders"},
])
def test_good_inputs_pass(overrides):
    cfg = good(**overrides)
    assert cfg.validate() is cfg


def test_cluster_id_from_arn_or_id():
    assert good(cluster=CLUSTER_ARN).cluster_id == "orders-aurora"
    assert good(cluster="orders-aurora").cluster_id == "orders-aurora"


def test_names_are_deterministic():
    n = Names("orders")
    assert n == Names("orders") and n == good().names
    assert n.prefix == "xacct-orders"
    assert n.key_alias == "alias/xacct-orders"
    assert n.secret == "xacct-orders/db-credentials"
    assert n.access_role == "xacct-orders-data-api-access"
    assert n.access_role_policy == "xacct-orders-data-api"
    assert n.consumer_user == "xacct-orders-data-api-client"
    assert n.consumer_policy == "xacct-orders-assume-data-api-access"
    assert n.security_group == "xacct-orders-rds-data-endpoint"
    assert n.endpoint == "xacct-orders-rds-data"
    assert n.tags() == {"xacct:deployment": "orders", "xacct:managed-by": "xacct"}
    assert Names("other").access_role != n.access_role


def test_names_of_the_longest_deployment_name_fit_aws_limits():
    n = Names("a" * 32)
    assert len(n.access_role) <= 64 and len(n.consumer_user) <= 64  # IAM role / user names
    assert len(n.access_role_policy) <= 128 and len(n.consumer_policy) <= 128  # inline policy names
    assert len(n.key_alias) <= 256 and len(n.secret) <= 512
    assert len(n.security_group) <= 255


def test_state_path_for():
    assert state_path_for("orders", Path("/base")) == Path("/base/.xacct/orders.json")
    assert state_path_for("orders") == Path.cwd() / ".xacct" / "orders.json"


def test_to_json_holds_no_profiles_or_secrets():
    data = good(consumer_role="orders-app").to_json()
    assert data == {
        "name": "orders", "cluster": "orders-aurora", "vpc_id": "vpc-0abc1234",
        "subnet_ids": ["subnet-0abc1234", "subnet-0def5678"], "region": None, "db_user": "app_user", "db_name": None,
        "consumer_role": "orders-app", "consumer_user": None, "enable_data_api": False, "endpoint_policy": "restricted",
        "key_deletion_days": 7, "secret_readers": [], "client_cidrs": [], "require_private_path": False,
    }


def test_from_json_round_trips_to_json_with_todays_profiles_and_region():
    cfg = good(key_deletion_days=21, consumer_role="orders-app", db_name="orders", enable_data_api=True,
               endpoint_policy="full", region="eu-west-1", require_private_path=True,
               secret_readers=("arn:aws:iam::222222222222:role/rotation",))
    data = {**cfg.to_json(), "secret_recovery_days": 7}  # the state file's config also carries teardown choices
    back = Config.from_json(data, consumer_profile="consumer", provider_profile="provider", region="eu-west-1")
    assert back == cfg
    assert back.key_deletion_days == 21  # the old config_from_state fell back to 7 here
    moved = Config.from_json(data, consumer_profile="c2", provider_profile="p2", region="us-east-1")
    assert (moved.consumer_profile, moved.provider_profile, moved.region) == ("c2", "p2", "us-east-1")


@pytest.mark.parametrize("bad", ["orders\n", "orders\r\n"])
def test_trailing_newline_is_not_a_valid_name(bad):
    with pytest.raises(UsageError):
        validate_name(bad)


@pytest.mark.parametrize("reader", ["rotation", "arn:aws:iam::222222222222:root", "arn:aws:iam::2222:role/r",
                                    "arn:aws:sts::222222222222:assumed-role/r/s", ""])
def test_secret_reader_must_be_a_role_or_user_arn(reader):
    with pytest.raises(UsageError, match="--secret-reader"):
        good(secret_readers=(reader,)).validate()


def test_secret_readers_accept_roles_users_and_paths_in_any_partition():
    readers = ("arn:aws:iam::222222222222:role/rotation", "arn:aws-cn:iam::222222222222:user/admins/alice",
               "arn:aws-us-gov:iam::222222222222:role/service-role/query-editor")
    assert good(secret_readers=readers).validate().secret_readers == readers
    with pytest.raises(UsageError, match="more than once"):
        good(secret_readers=readers[:1] * 2).validate()


@pytest.mark.parametrize("role_name, deployment", [
    ("xacct-orders-data-api-access", "orders"), ("xacct-a-b-data-api-access", "a-b"),
    ("app-data-api-access", None), ("xacct--data-api-access", None), ("xacct-orders-data-api", None),
])
def test_an_access_role_names_its_deployment(role_name, deployment):
    assert Names.deployment_of_access_role(role_name) == deployment
    if deployment is not None:
        assert Names(deployment).access_role == role_name


@pytest.mark.parametrize("cidrs", [("0.0.0.0/1", "128.0.0.0/1"), ("0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1")])
def test_client_cidrs_that_together_admit_the_whole_internet_are_refused(cidrs):
    from xacct_dataapi.config import Config
    from xacct_dataapi.errors import UsageError

    cfg = Config(name="orders", consumer_profile="c", provider_profile="p", cluster="orders-aurora",
                 vpc_id="vpc-0abc1234", subnet_ids=("subnet-0abc1234",), client_cidrs=cidrs)
    with pytest.raises(UsageError, match="together these admit the whole internet"):
        cfg.validate()
