"""verify's temporary access key: recorded in the state (its id, never the secret) before it is used, deleted after,
and deleted by the next verify when a run was killed while holding it."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import STATE, USER_NAME
from tests.helpers.hooks import Killed
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi import verify as verify_mod
from xacct_dataapi.cli import cli
from xacct_dataapi.state import State

pytestmark = pytest.mark.usefixtures("fast_aws")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def keys(world) -> list[str]:
    return [k["AccessKeyId"] for k in world.consumer.client("iam").list_access_keys(UserName=USER_NAME)["AccessKeyMetadata"]]


def recorded() -> list[dict]:
    return json.loads(Path(STATE).read_text())["values"].get(verify_mod.TEMP_KEYS, [])


@pytest.fixture
def deployed(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    return world


def test_the_key_is_recorded_before_use_without_its_secret_and_deleted_after(deployed, monkeypatch):
    seen, secrets = [], []
    real_retry, real_session = verify_mod._retry, verify_mod.boto3.Session

    def session(*args, **kw):
        if kw.get("aws_secret_access_key") and not kw.get("aws_session_token"):
            secrets.append(kw["aws_secret_access_key"])  # the minted key's secret
        return real_session(*args, **kw)

    def spy(fn, *args, **kw):
        if not seen:  # the first use of the key: AssumeRole with it
            seen.append((recorded(), Path(STATE).read_text()))
            assert [e["id"] for e in seen[0][0]] == keys(deployed) and len(keys(deployed)) == 1
        return real_retry(fn, *args, **kw)

    monkeypatch.setattr(verify_mod, "_retry", spy)
    monkeypatch.setattr(verify_mod.boto3, "Session", session)
    res = invoke(["verify", "--output", "json"])
    assert res.exit_code == 0, res.output
    (entries, text), (secret,) = seen[0], secrets
    assert entries[0]["user"] == USER_NAME and set(entries[0]) == {"user", "since", "id"}
    assert secret not in text and secret not in res.output and secret not in Path(STATE).read_text()
    assert keys(deployed) == [] and recorded() == []


def test_a_key_left_by_a_killed_run_is_deleted_by_the_next(deployed, monkeypatch):
    def killed(*args, **kw):
        raise Killed("power cut while holding the key")

    with monkeypatch.context() as mp:
        mp.setattr(verify_mod, "_retry", killed)
        mp.setattr(verify_mod, "delete_leftover_keys", lambda *a: None)  # a killed process cleans nothing up
        with pytest.raises(Killed):
            invoke(["verify"])
    left = keys(deployed)
    assert len(left) == 1 and [e["id"] for e in recorded()] == left
    assert invoke(["verify"]).exit_code == 0
    assert keys(deployed) == [] and recorded() == []


def test_a_key_whose_id_was_never_recorded_is_found_by_its_creation_time(deployed):
    iam = deployed.consumer.client("iam")
    app_key = iam.create_access_key(UserName=USER_NAME)["AccessKey"]["AccessKeyId"]  # the operator's, made earlier
    state = json.loads(Path(STATE).read_text())
    since = datetime.now(timezone.utc) + timedelta(seconds=1)
    state["values"][verify_mod.TEMP_KEYS] = [{"user": USER_NAME, "since": since.isoformat()}]
    Path(STATE).write_text(json.dumps(state))
    later = {"AccessKeyId": "AKIAKILLEDBEFORERECORD", "CreateDate": since + timedelta(seconds=1)}
    earlier = {"AccessKeyId": app_key, "CreateDate": since - timedelta(seconds=5)}
    deleted = []

    class FakeIam:
        def list_access_keys(self, UserName):
            return {"AccessKeyMetadata": [earlier, later]}

        def delete_access_key(self, UserName, AccessKeyId):
            deleted.append(AccessKeyId)

    st = State.from_json(state, Path(STATE))
    verify_mod.delete_leftover_keys(FakeIam(), st, lambda: None)
    assert deleted == ["AKIAKILLEDBEFORERECORD"]  # not the key made before the record
    assert st.values[verify_mod.TEMP_KEYS] == []


def test_a_user_holding_its_two_keys_is_named_not_blamed_on_the_trust_policy(deployed):
    """A new user's trial: `connect` says to make the user an access key; with two of them (a rotation), verify's own
    temporary key hits IAM's quota of two, and verify blamed the access role's trust policy. It now names the quota
    and the way out (--as-profile), makes no key, and leaves no record behind."""
    iam = deployed.consumer.client("iam")
    held = sorted(iam.create_access_key(UserName=USER_NAME)["AccessKey"]["AccessKeyId"] for _ in range(2))
    res = invoke(["verify"])
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    assert f"user {USER_NAME}" in said and "the two access keys IAM allows" in said and "--as-profile" in said
    assert "trust policy" not in said
    assert sorted(keys(deployed)) == held and recorded() == []
