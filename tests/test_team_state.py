"""Team state in S3 (issue 22): two machines, simulated by two working directories that share nothing but one S3
bucket, see each other's deployments, and a second concurrent writer of one deployment is refused with the holder
named. Conditional writes (If-None-Match / If-Match) do the locking and guard against lost updates."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

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
    s3 = world.consumer.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
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
