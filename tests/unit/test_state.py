"""Pure tests of the state file (xacct_dataapi/state.py): atomic save, backup, refusal to touch bad files, the lock.

The "never a password" test drives the real Runner over a full setup plan with a fake AWS (canned responses, no
network), checking the state file after every save.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
from tests.helpers.pipeline import prepare_state
from xacct_dataapi import state as state_mod
from xacct_dataapi.config import Config
from xacct_dataapi.planner import generate_missing_values
from xacct_dataapi.context import Cluster, ConsumerPrincipal, Context, Inputs
from xacct_dataapi.errors import LockedError, StateError
from xacct_dataapi.runner import Runner
from xacct_dataapi.state import SCHEMA_VERSION, ResourceRow, State, load, locked, save
from xacct_dataapi.steps import STEPS
from xacct_dataapi.steps.endpoint_members import MemberFacts, policy_for, policy_text

REPO = Path(__file__).resolve().parents[2]
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{PROVIDER}:key/{KEY_ID}"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{PROVIDER}:secret:xacct-orders/db-credentials-AbC123"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{PROVIDER}:cluster:orders-aurora"
PASSWORD = "Pa55-w0rd-that-must-never-be-stored"


def sample_state() -> State:
    return State(
        name="orders",
        region=REGION,
        profiles={"consumer": "consumer", "provider": "provider"},
        accounts={"consumer": CONSUMER, "provider": PROVIDER},
        config={"cluster": "orders-aurora", "subnet_ids": ["subnet-0abc1234"], "key_deletion_days": 7},
        values={"key_id": KEY_ID, "key_arn": KEY_ARN, "external_id": "xacct-00112233445566778899aabbccddeeff"},
        resources=[
            ResourceRow(1, "kms_key", KEY_ID, "provider", arn=KEY_ARN),
            ResourceRow(6, "consumer_role", "orders-app", "consumer", arn=f"arn:aws:iam::{CONSUMER}:role/orders-app",
                        created=False),
        ],
    )


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


@pytest.fixture
def d(tmp_path) -> Path:
    """A directory of its own (tests/conftest.py puts AWS config files in tmp_path)."""
    out = tmp_path / "state-dir"
    out.mkdir()
    return out


def test_save_load_round_trip(tmp_path):
    path = tmp_path / ".xacct" / "orders.json"
    s = sample_state()
    save(s, path)  # creates the directory
    loaded = load(path)
    assert loaded is not None
    assert loaded == s
    assert loaded.to_json() == s.to_json()
    assert loaded.created_at and loaded.updated_at
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["resources"][1] == {"step": 6, "kind": "consumer_role", "id": "orders-app",
                                    "arn": f"arn:aws:iam::{CONSUMER}:role/orders-app", "name": None,
                                    "account": "consumer", "created": False}


def test_file_mode_is_0600(d):
    path = d / "orders.json"
    old = os.umask(0o022)
    try:
        save(sample_state(), path)
        save(sample_state(), path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_name("orders.json.bak").stat().st_mode) == 0o600


def test_second_save_keeps_the_previous_as_bak_and_leaves_no_temp_files(d):
    path = d / "orders.json"
    s = sample_state()
    save(s, path)
    assert files_in(d) == {"orders.json"}
    first = path.read_bytes()
    s.values["secret_arn"] = SECRET_ARN
    s.resources.append(ResourceRow(3, "secret", "xacct-orders/db-credentials", "provider", arn=SECRET_ARN))
    save(s, path)
    bak = d / "orders.json.bak"
    assert bak.read_bytes() == first
    assert path.read_bytes() != first
    assert json.loads(path.read_text())["values"]["secret_arn"] == SECRET_ARN
    second = path.read_bytes()
    save(s, path)
    assert bak.read_bytes() == second
    assert files_in(d) == {"orders.json", "orders.json.bak"}


def _fail_nth_replace(monkeypatch, n: int) -> None:
    """Make the n-th os.replace in state.py fail (1: the .bak copy, 2: the state file itself)."""
    real, count = os.replace, [0]

    def replace(src, dst):
        count[0] += 1
        if count[0] == n:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(state_mod.os, "replace", replace)


def test_failed_save_leaves_the_old_state_and_no_temp_file(d, monkeypatch):
    path = d / "orders.json"
    save(sample_state(), path)
    before = path.read_bytes()
    _fail_nth_replace(monkeypatch, 2)
    s = sample_state()
    s.values["secret_arn"] = SECRET_ARN
    with pytest.raises(OSError):
        save(s, path)
    assert path.read_bytes() == before
    assert load(path) is not None
    assert not [n for n in files_in(d) if n.endswith(".tmp")]


def test_failed_backup_copy_leaves_no_temp_file(d, monkeypatch):
    path = d / "orders.json"
    save(sample_state(), path)
    before = path.read_bytes()
    _fail_nth_replace(monkeypatch, 1)
    with pytest.raises(OSError):
        save(sample_state(), path)
    assert path.read_bytes() == before
    assert not [n for n in files_in(d) if n.endswith(".tmp")]


def test_load_missing_file_returns_none(d):
    assert load(d / "nothing.json") is None
    assert load(d / "no-dir" / "nothing.json") is None


@pytest.mark.parametrize("content", [b"{oops", b"", b"\xff\xfe not utf-8", b'{"schema_version": 1, "name": "o"'])
def test_invalid_json_raises_and_leaves_the_file_untouched(d, content):
    path = d / "orders.json"
    path.write_bytes(content)
    with pytest.raises(StateError) as info:
        load(path)
    assert str(path) in info.value.message
    assert ".bak" in info.value.hint
    assert path.read_bytes() == content
    assert files_in(d) == {"orders.json"}


@pytest.mark.parametrize("version", [2, 0, None, "1"])
def test_unknown_schema_version_raises_and_leaves_the_file_untouched(d, version):
    path = d / "orders.json"
    data = sample_state().to_json()
    data["schema_version"] = version
    content = json.dumps(data).encode()
    path.write_bytes(content)
    with pytest.raises(StateError) as info:
        load(path)
    assert repr(version) in info.value.message
    assert path.read_bytes() == content
    assert files_in(d) == {"orders.json"}


@pytest.mark.parametrize("content", [b"[]", b"42", b'{"schema_version": 1}', b'{"schema_version": 1, "name": "o", "resources": [{"x": 1}]}'])
def test_structurally_wrong_state_raises(d, content):
    path = d / "orders.json"
    path.write_bytes(content)
    with pytest.raises(StateError):
        load(path)
    assert path.read_bytes() == content


def test_a_torn_down_deployment_leaves_no_state_backup_or_lock_file(d):
    """Clutter: 19 .lock/.bak files after an afternoon of trying it (issue: live with it). After a complete teardown
    nothing is left to record, so the state, its backup and the lock file all go."""
    path = d / "orders.json"
    with state_mod.locked(path):
        save(sample_state(), path)
        save(sample_state(), path)  # a second save makes the .bak
        assert files_in(d) >= {"orders.json", "orders.json.bak", "orders.json.lock"}
        state_mod.remove(path)
    assert files_in(d) == set()


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc, where no one may create a file")
def test_a_lock_in_an_unwritable_place_says_so_instead_of_blaming_another_process():
    # Was: "locked by another xacct process: unknown" for --state /proc/xacct.json (even root cannot create it).
    with pytest.raises(StateError) as info:
        with state_mod.locked(Path("/proc/xacct-test.json")):
            pass
    assert "Cannot create the lock file /proc/xacct-test.json.lock" in info.value.message
    assert "another xacct process" not in info.value.message


def test_record_and_forget():
    s = State(name="o")
    s.record(ResourceRow(7, "security_group", "sg-1", "consumer"))
    s.record(ResourceRow(7, "security_group", "sg-1", "consumer", name="later"))
    assert len(s.resources) == 1 and s.resources[0].name == "later"
    s.forget("security_group", "sg-1")
    assert s.resources == []


# --- no password, ever ----------------------------------------------------------------------------

class FakeClient:
    """Returns canned responses for the calls a fresh setup makes; records every call and its params."""

    RESPONSES = {
        "create_key": {"KeyMetadata": {"KeyId": KEY_ID, "Arn": KEY_ARN}},
        "create_role": {"Role": {"Arn": f"arn:aws:iam::{PROVIDER}:role/xacct-orders-data-api-access"}},
        "create_secret": {"ARN": SECRET_ARN},
        "create_security_group": {"GroupId": "sg-0abc1234abcd12345"},
        "create_vpc_endpoint": {"VpcEndpoint": {"VpcEndpointId": "vpce-0abc1234abcd12345"}},
        "describe_db_clusters": {"DBClusters": [{"HttpEndpointEnabled": True}]},
        # As AWS describes the new endpoint: this deployment's member tag, the policy it derives, the group.
        "describe_vpc_endpoints": {"VpcEndpoints": [{
            "VpcEndpointId": "vpce-0abc1234abcd12345", "State": "available", "VpcId": "vpc-0abc1234",
            "Tags": [{"Key": "xacct:member:orders", "Value": CLUSTER_ARN}], "Groups": [{"GroupId": "sg-0abc1234abcd12345"}],
            "PolicyDocument": policy_text(policy_for({"orders": MemberFacts(CLUSTER_ARN)}))}]},
    }

    def __init__(self, service: str, log: list):
        self.service, self.log = service, log

    def __getattr__(self, method: str):
        def call(**params):
            self.log.append((self.service, method, params))
            return json.loads(json.dumps(self.RESPONSES.get(method, {})))
        return call


class FakeAws:
    region = REGION

    def __init__(self):
        self.log: list = []

    def client(self, account, service):
        return FakeClient(service, self.log)


def fresh_context(aws, state: State) -> Context:
    cfg = Config(name="orders", consumer_profile="consumer", provider_profile="provider", cluster="orders-aurora",
                 vpc_id="vpc-0abc1234", subnet_ids=("subnet-0abc1234",), enable_data_api=True).validate()
    cluster = Cluster("orders-aurora", CLUSTER_ARN, "aurora-postgresql", "serverless",
                      "orders-aurora.cluster-c0ffee.us-west-2.rds.amazonaws.com", 5432, "orders", False)
    user = cfg.names.consumer_user
    principal = ConsumerPrincipal("user", user, f"arn:aws:iam::{CONSUMER}:user/{user}", adopted=False)
    ctx = Context(cfg, aws, state, Inputs(CONSUMER, PROVIDER, cluster, "10.20.0.0/16", principal), lambda: PASSWORD,
                  values={"cluster_arn": CLUSTER_ARN, "consumer_principal_arn": principal.arn})
    generate_missing_values(ctx, STEPS)  # as plan_setup does after the inspections (the external id)
    return ctx


FRESH_FACTS = {
    "data_api": {"enabled": False},
    "kms_key": {"found": {}},
    "consumer_principal": {"found": {}},
    "key_policy": {"found": {}},  # a declared step: nothing found (steps/declared.py)
    "secret": {"found": {}},
    "access_role": {"found": {}},
    "secret_policy": {"found": {}},
    "endpoint": {"sg": None, "endpoint": None, "conflicts": []},
    "nacl_check": {"acls": {}},
}


def test_state_never_contains_the_password(tmp_path, monkeypatch):
    from xacct_dataapi.models import Plan

    path = tmp_path / ".xacct" / "orders.json"
    aws = FakeAws()
    s = State(name="orders")
    ctx = fresh_context(aws, s)
    plan = Plan("setup", [st.make_plan(ctx, FRESH_FACTS[st.key]) for st in STEPS if st.applies is None or st.applies(ctx)])
    prepare_state(ctx)

    saved_texts: list[str] = []
    real_save = state_mod.save

    def checking_save(state, p):
        real_save(state, p)
        saved_texts.append(p.read_text())
        for f in p.parent.iterdir():
            assert PASSWORD not in f.read_text(errors="replace"), f.name

    monkeypatch.setattr(state_mod, "save", checking_save)
    Runner(aws, s, path, sleep=lambda _: None, secrets=ctx.secret_inputs()).execute(plan)

    # The password did go to AWS (so the check below is not vacuous) ...
    (create_secret,) = [p for svc, m, p in aws.log if m == "create_secret"]
    assert json.loads(create_secret["SecretString"])["password"] == PASSWORD
    # ... and the state was saved after every mutating call, never holding it.
    assert len(saved_texts) == len(plan.calls)
    text = path.read_text()
    assert PASSWORD not in text
    assert "SecretString" not in text
    assert {r["kind"] for r in json.loads(text)["resources"]} >= {"secret", "kms_key", "iam_role", "vpc_endpoint"}
    assert load(path).values["secret_arn"] == SECRET_ARN


# --- the lock -------------------------------------------------------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from xacct_dataapi.state import locked
with locked(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(600)
"""


def test_second_holder_is_refused_with_pid_and_host_then_takes_over_after_sigkill(tmp_path):
    path = tmp_path / ".xacct" / "orders.json"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
    try:
        line = holder.stdout.readline()
        assert line.strip() == "locked", holder.stderr.read() if holder.poll() is not None else line
        with pytest.raises(LockedError) as info:
            with locked(path):
                pytest.fail("the lock was taken twice")
        msg = info.value.message
        assert f"pid {holder.pid}" in msg
        assert f"host {socket.gethostname()}" in msg
        assert str(path) in msg
        assert info.value.exit_code == 2
    finally:
        holder.kill()  # SIGKILL: no cleanup runs in the holder
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()
    assert holder.returncode == -9
    # The OS released the lock with the process; the stale owner file does not block the next run.
    with locked(path):
        owner = json.loads(path.with_name("orders.json.lock.owner").read_text())
        assert owner["pid"] == os.getpid()
    assert not path.with_name("orders.json.lock.owner").exists()


def test_lock_is_released_on_exit_and_on_exception(d):
    path = d / "orders.json"
    with locked(path):
        pass
    with pytest.raises(RuntimeError):
        with locked(path):
            raise RuntimeError("x")
    with locked(path):
        pass
