"""Team state in S3 (issue 22): two machines, simulated by two working directories that share nothing but one S3
bucket, see each other's deployments, and a second concurrent writer of one deployment is refused with the holder
named. Conditional writes (If-None-Match / If-Match) do the locking and guard against lost updates."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import grant, world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi import state as state_mod
from xacct_dataapi import state_s3
from xacct_dataapi.cli import cli
from xacct_dataapi.errors import StateError
from xacct_dataapi.state_s3 import S3Location

pytestmark = pytest.mark.usefixtures("fast_aws")

BUCKET = "team-xacct-state"
TEAM = f"s3://{BUCKET}/xacct/"


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture
def bucket(world, monkeypatch):
    monkeypatch.setenv("XACCT_STATE_PROFILE", "consumer")
    monkeypatch.setattr(state_s3, "_clients", {})
    monkeypatch.setattr(state_s3, "_etags", {})
    s3 = world.consumer.client("s3")  # the administrator's: makes the bucket, and looks at it
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    grant(world, state_bucket=TEAM)  # the operators get `xacct permissions --state-bucket TEAM` too
    return s3


def machine(tmp_path: Path, name: str, monkeypatch) -> Path:
    """Another machine: its own working directory (so no local state or lock file is shared)."""
    folder = tmp_path / name
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def listed(state: str = TEAM) -> list[str]:
    res = invoke(["list", "--state", state, "--output", "json"])
    assert res.exit_code == 0, res.output
    return sorted(d["name"] for d in json.loads(res.stdout))


def test_two_machines_share_one_bucket(world, password, bucket, tmp_path, monkeypatch):
    machine(tmp_path, "a", monkeypatch)
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--state", TEAM, name="orders"))
    assert res.exit_code == 0, res.output
    assert not Path(".xacct").exists(), "team state writes nothing locally"
    body = json.loads(bucket.get_object(Bucket=BUCKET, Key="xacct/orders.json")["Body"].read())
    assert body["name"] == "orders" and body["resources"] and password not in json.dumps(body)
    keys = [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["xacct/orders.json"], "the lock object is gone once the run ends"

    machine(tmp_path, "b", monkeypatch)
    assert listed() == ["orders"]
    monkeypatch.setenv("XACCT_STATE", TEAM)  # the same, as the environment's default
    res = invoke(world.setup_args("--enable-data-api", "--yes", name="billing"))
    assert res.exit_code == 0, res.output
    status = invoke(["status", "--name", "orders", "--output", "json"])
    assert status.exit_code == 0, status.output  # machine b reads machine a's deployment

    monkeypatch.delenv("XACCT_STATE")
    machine(tmp_path, "c", monkeypatch)
    assert listed() == ["billing", "orders"]
    res = invoke(["teardown", "--name", "orders", "--state", TEAM, "--yes"])
    assert res.exit_code == 0, res.output
    assert listed() == ["billing"]


def test_a_second_writer_is_refused_with_the_holder_named(world, password, bucket, tmp_path, monkeypatch):
    machine(tmp_path, "a", monkeypatch)
    assert invoke(world.setup_args("--enable-data-api", "--yes", "--state", TEAM, name="orders")).exit_code == 0
    loc = S3Location.parse(TEAM).for_name("orders")
    with state_mod.locked(loc):  # machine a is in the middle of a run
        held = json.loads(bucket.get_object(Bucket=BUCKET, Key="xacct/orders.json.lock")["Body"].read())
        machine(tmp_path, "b", monkeypatch)
        res = invoke(world.setup_args("--enable-data-api", "--yes", "--state", TEAM, name="orders"))
        assert res.exit_code == 2, res.output
        text = " ".join(res.output.split())
        assert f"pid {os.getpid()}" in text and held["id"] in text and "force-unlock" in text
        assert invoke(["teardown", "--name", "orders", "--state", TEAM, "--yes"]).exit_code == 2

        wrong = invoke(["force-unlock", "not-the-id", "--name", "orders", "--state", TEAM, "--yes"])
        assert wrong.exit_code == 2 and held["id"] in wrong.output
        res = invoke(["force-unlock", held["id"], "--name", "orders", "--state", TEAM, "--yes"])
        assert res.exit_code == 0, res.output
        res = invoke(world.setup_args("--enable-data-api", "--yes", "--state", TEAM, name="orders"))
        assert res.exit_code == 0, res.output
    # Machine a's run ends after the takeover: it does not remove the lock it no longer holds (none left here).
    assert [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["xacct/orders.json"]


def test_a_writer_that_lost_its_lock_cannot_overwrite_a_newer_state(world, password, bucket, tmp_path, monkeypatch):
    machine(tmp_path, "a", monkeypatch)
    assert invoke(world.setup_args("--enable-data-api", "--yes", "--state", TEAM, name="orders")).exit_code == 0
    loc = S3Location.parse(TEAM).for_name("orders")
    stale = state_mod.load(loc)
    newer = json.loads(bucket.get_object(Bucket=BUCKET, Key=loc.key)["Body"].read())
    newer["values"]["marker"] = "written by another machine"
    bucket.put_object(Bucket=BUCKET, Key=loc.key, Body=json.dumps(newer).encode())
    with pytest.raises(StateError, match="changed by another writer"):
        state_mod.save(stale, loc)
    kept = json.loads(bucket.get_object(Bucket=BUCKET, Key=loc.key)["Body"].read())
    assert kept["values"]["marker"] == "written by another machine"


@pytest.mark.parametrize("args", [["list", "--state", "s3://no-such-bucket/x/"],
                                  ["status", "--name", "orders", "--state", "s3://no-such-bucket/x/"]])
def test_a_missing_bucket_is_a_clear_error(world, bucket, args):
    res = invoke(args)
    assert res.exit_code == 2, res.output
    assert "no-such-bucket" in res.output and "does not exist" in res.output and "never creates" in res.output


def test_a_malformed_location_names_the_value(world):
    res = CliRunner().invoke(cli, ["list", "--state", "s3://"])
    assert res.exit_code == 2 and "s3://" in res.output


def test_asking_whether_a_deployment_exists_does_not_download_its_state(world, bucket):
    """`exists()` is a HEAD: a listing or a `--name` check must not fetch every state object's body."""
    loc = S3Location.parse(f"{TEAM}orders.json")
    assert not loc.exists()
    bucket.put_object(Bucket=BUCKET, Key=loc.key, Body=b"{}")
    sent: list[str] = []
    state_s3._client().meta.events.register("before-call.s3", lambda model, **_: sent.append(model.name))
    assert loc.exists()
    assert sent == ["HeadObject"]


def operator_s3():
    import boto3

    return boto3.Session(profile_name="consumer").client("s3")


def test_without_the_state_statements_the_operator_is_refused(world, monkeypatch):
    """S3 is authorised in the sandbox as on AWS: the operator holding only `--for all` (no --state-bucket) may not
    read the team state, and xacct says which permissions to grant and how to print them."""
    monkeypatch.setenv("XACCT_STATE_PROFILE", "consumer")
    monkeypatch.setattr(state_s3, "_clients", {})
    world.consumer.client("s3").create_bucket(Bucket=BUCKET,
                                              CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    res = CliRunner().invoke(cli, ["list", "--state", TEAM])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "Access denied" in text and f"--state-bucket {TEAM}" in text


def test_the_state_statements_reach_the_prefix_and_nothing_else(world, bucket):
    from botocore.exceptions import ClientError

    bucket.put_object(Bucket=BUCKET, Key="elsewhere/secret.json", Body=b"{}")
    s3 = operator_s3()
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.get_object(Bucket=BUCKET, Key="elsewhere/secret.json")
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.list_objects_v2(Bucket=BUCKET)  # no s3:prefix: outside the listing statement's condition
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.put_object(Bucket=BUCKET, Key="elsewhere/x.json", Body=b"{}")
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="xacct/").get("KeyCount") == 0
    s3.put_object(Bucket=BUCKET, Key="xacct/a.json", Body=b"{}", IfNoneMatch="*")
    with pytest.raises(ClientError, match="PreconditionFailed"):  # the conditional write, as the lock takes it
        s3.put_object(Bucket=BUCKET, Key="xacct/a.json", Body=b"{}", IfNoneMatch="*")
    # A missing key is 403, not 404, to a caller who may list the bucket only under a prefix (the implied
    # ListBucket check carries no s3:prefix in the sandbox); state_s3 then lists under the key to tell.
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=BUCKET, Key="xacct/none.json")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert not S3Location.parse(f"{TEAM}none.json").exists() and S3Location.parse(f"{TEAM}a.json").exists()


def test_permissions_prints_the_state_statements():
    res = CliRunner().invoke(cli, ["permissions", "--side", "consumer", "--for", "status", "--output", "json",
                                   "--state-bucket", TEAM])
    assert res.exit_code == 0, res.output
    by_sid = {st["Sid"]: st for st in json.loads(res.stdout)["Statement"]}
    assert by_sid["TeamStateObjects"]["Resource"] == f"arn:aws:s3:::{BUCKET}/xacct/*"
    assert by_sid["TeamStateList"] == {"Sid": "TeamStateList", "Effect": "Allow", "Action": "s3:ListBucket",
                                       "Resource": f"arn:aws:s3:::{BUCKET}",
                                       "Condition": {"StringLike": {"s3:prefix": "xacct/*"}}}
    bad = CliRunner().invoke(cli, ["permissions", "--side", "consumer", "--state-bucket", "s3://b/x*/"])
    assert bad.exit_code == 2 and "s3://b/x*/" in bad.output


def test_permissions_for_a_state_bucket_never_cover_the_whole_bucket():
    def statements(url):
        res = CliRunner().invoke(cli, ["permissions", "--side", "consumer", "--for", "status", "--output", "json",
                                       "--state-bucket", url])
        return res, res.exit_code == 0 and {st["Sid"]: st for st in json.loads(res.stdout)["Statement"]}

    # Without the trailing slash the last part is still the folder, not an object at the bucket's root.
    _, by_sid = statements(f"s3://{BUCKET}/xacct")
    assert by_sid["TeamStateObjects"]["Resource"] == f"arn:aws:s3:::{BUCKET}/xacct/*"
    assert by_sid["TeamStateList"]["Condition"] == {"StringLike": {"s3:prefix": "xacct/*"}}
    for root in (f"s3://{BUCKET}/", f"s3://{BUCKET}/orders.json"):
        res, _ = statements(root)
        assert res.exit_code == 2 and "bucket's root" in res.output and f"s3://{BUCKET}/xacct/" in res.output
