"""Ctrl-C and concurrent runs.

Ctrl-C: SIGINT is delivered to the process (os.kill) while AWS is answering a mutating call. The runner must
let that call finish, record it, stop before the next one with Interrupted (exit 130) saying how to resume,
and a re-run must complete with exactly one deployment.

Lock: while another process holds the deployment's lock, setup and teardown refuse (exit 2), naming the
holder's pid and host, and change nothing. A holder that dies releases the lock.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from tests.helpers.accounts import KEY_ALIAS, STATE
from tests.helpers.hooks import CallHooks
from tests.helpers.inventory import assert_exactly_one_deployment, assert_nothing_left, client, roles, users
from tests.helpers.pipeline import plan_for, setup_runner
from xacct_dataapi import state as state_mod
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Config
from xacct_dataapi.errors import INTERRUPTED, Interrupted

pytestmark = pytest.mark.usefixtures("fast_aws")

REPO = Path(__file__).resolve().parents[2]
SETUP_FLAGS = ("--enable-data-api", "--yes")
INTERRUPT_AT = "provider:kms.CreateAlias"  # mid-chain in the provider's account, after the Data API and the key


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture
def sigint_guard():
    """If the runner failed to defer SIGINT, it would raise KeyboardInterrupt here and abort the whole pytest
    session. Catch it instead (and record it) so the test fails cleanly."""
    leaked: list[int] = []

    def fallback(signum, frame):
        leaked.append(signum)

    previous = signal.signal(signal.SIGINT, fallback)
    try:
        yield leaked, fallback
    finally:
        signal.signal(signal.SIGINT, previous)


def _runner_heard(signum: int) -> bool:
    """Whether the handler xacct installed for `signum` (hooks.deferred_sigint: a closure over the run's
    InterruptRequest) has run: the request it sets is set."""
    handler = signal.getsignal(signum)
    cells = getattr(handler, "__closure__", None) or ()
    return any(isinstance(c.cell_contents, threading.Event) and c.cell_contents.is_set() for c in cells)


def send_sigint_at(at: str, signum: int = signal.SIGINT):
    """Ctrl-C right after AWS accepted the call `at`. The after-call hook runs in that chain's thread: the signal
    goes to the main thread, as a terminal's Ctrl-C does. Deterministic on a loaded machine: the hook (of this chain,
    and of the other chain's next call) waits until the main thread's handler has run, so neither chain starts a call
    while the signal is only pending; a fixed pause let the other chain make several calls first under load."""
    sent = threading.Event()

    def after(n: int, label: str) -> None:
        if label == at and not sent.is_set():
            sent.set()
            signal.pthread_kill(threading.main_thread().ident, signum)
        if sent.is_set():
            deadline = time.monotonic() + 20
            while not _runner_heard(signum) and time.monotonic() < deadline:
                time.sleep(0.005)

    return after


@pytest.fixture
def sigterm_guard():
    """As sigint_guard, for SIGTERM: its default handler would kill the pytest process."""
    leaked: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: leaked.append(signum))
    try:
        yield leaked
    finally:
        signal.signal(signal.SIGTERM, previous)


def after_the_interrupt(calls: list[str]) -> list[str]:
    return calls[calls.index(INTERRUPT_AT) + 1:]


def assert_every_call_made_is_recorded(saved, world) -> None:
    """What AWS accepted is in the state: the call in flight in the other chain too."""
    for user in users(world.consumer):
        assert saved.find("iam_user", user["UserName"]) is not None, user
    endpoints = client(world.consumer, "ec2").describe_vpc_endpoints()["VpcEndpoints"]
    for endpoint in endpoints:
        assert saved.find("vpc_endpoint", endpoint["VpcEndpointId"]) is not None


# --- Ctrl-C, at the Runner ------------------------------------------------------------------------


def test_runner_defers_sigint_until_the_call_in_flight_is_recorded(world, password, monkeypatch, sigint_guard):
    leaked, fallback = sigint_guard
    hooks = CallHooks(after=send_sigint_at(INTERRUPT_AT)).install(monkeypatch)
    path = Path(STATE)
    cfg = Config(name="default", consumer_profile="consumer", provider_profile="provider", cluster=world.cluster_id,
                 vpc_id=world.vpc_id, subnet_ids=world.subnet_ids, enable_data_api=True).validate()
    ctx, plan = plan_for(cfg, password, path)
    runner = setup_runner(ctx, plan, path)

    with pytest.raises(Interrupted) as info:
        runner.execute(plan)

    assert leaked == [], "SIGINT reached the default handler: the runner did not defer it"
    assert signal.getsignal(signal.SIGINT) is fallback, "the runner must restore the previous SIGINT handler"
    exc = info.value
    assert exc.exit_code == INTERRUPTED == 130
    assert str(path) in exc.message
    assert "again" in exc.hint and "resume" in exc.hint

    # The call in flight finished and nothing after it was started: in its chain, nothing at all; in the consumer's
    # chain, at most the one call that was in flight at the same moment.
    later = after_the_interrupt(hooks.calls)
    assert len(later) <= 1 and all(c.startswith("consumer:") for c in later), hooks.calls
    provider = [c for c in hooks.calls if c.startswith("provider:")]
    assert provider == ["provider:rds.AddTagsToResource", "provider:rds.ModifyDBCluster", "provider:kms.CreateKey",
                        "provider:kms.CreateAlias"]

    # ...and it is recorded in the state file, with the interruption.
    saved = state_mod.load(path)
    assert saved is not None
    alias = saved.find("kms_alias", KEY_ALIAS)
    key = saved.find("kms_key")
    assert alias is not None and key is not None and saved.find("data_api", world.cluster_id) is not None
    assert saved.last_error is not None and saved.last_error["message"] == "interrupted"
    # AWS agrees: the alias points at the recorded key; the next step's user was never created.
    meta = client(world.provider, "kms").describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]
    assert meta["KeyId"] == key.id
    assert_every_call_made_is_recorded(saved, world)
    assert "provider:kms.PutKeyPolicy" not in hooks.calls

    # Re-running completes, making exactly the calls that were still missing.
    hooks.after, hooks.calls[:] = None, []
    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert res.exit_code == 0, res.output
    assert "provider:kms.CreateKey" not in hooks.calls and "provider:kms.CreateAlias" not in hooks.calls
    assert "provider:kms.PutKeyPolicy" in hooks.calls
    final = json.loads(path.read_text())
    assert final["last_error"] is None
    assert_exactly_one_deployment(world, final)


# --- Ctrl-C, through the CLI ----------------------------------------------------------------------


def test_cli_ctrl_c_exits_130_and_says_how_to_resume(world, password, monkeypatch, sigint_guard):
    leaked, _ = sigint_guard
    hooks = CallHooks(after=send_sigint_at(INTERRUPT_AT)).install(monkeypatch)

    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert leaked == []
    assert res.exit_code == 130, res.output
    assert "interrupted" in flat(res.stderr).lower()
    assert "run the same command again" in flat(res.stderr).lower()
    assert len(after_the_interrupt(hooks.calls)) <= 1, hooks.calls
    first = hooks.calls[:]

    saved = json.loads(Path(STATE).read_text())
    assert saved["last_error"]["message"] == "interrupted"
    assert {"data_api", "kms_key", "kms_alias"} <= {r["kind"] for r in saved["resources"]}
    assert_every_call_made_is_recorded(state_mod.load(Path(STATE)), world)

    hooks.after, hooks.calls[:] = None, []
    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert res.exit_code == 0, res.output
    assert not set(first) & set(hooks.calls), "a resumed run repeated a call the interrupted run had made"
    assert_exactly_one_deployment(world, json.loads(Path(STATE).read_text()))

    res = invoke(["teardown", "--yes"])
    assert res.exit_code == 0, res.output
    assert_nothing_left(world)


def test_cli_sigterm_exits_143_records_and_resumes(world, password, monkeypatch, sigterm_guard):
    """A CI job cancelled mid-setup (SIGTERM): the call in flight is recorded, the run says so and exits 143, and
    a re-run finishes with exactly one deployment."""
    hooks = CallHooks(after=send_sigint_at(INTERRUPT_AT, signal.SIGTERM)).install(monkeypatch)

    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert sigterm_guard == [], "SIGTERM reached the default handler: the runner did not defer it"
    assert res.exit_code == 143, res.output
    assert "terminated (sigterm)" in flat(res.stderr).lower() and "run the same command again" in flat(res.stderr).lower()
    assert len(after_the_interrupt(hooks.calls)) <= 1, hooks.calls
    saved = json.loads(Path(STATE).read_text())
    assert saved["last_error"]["message"] == "interrupted"
    assert {"data_api", "kms_key", "kms_alias"} <= {r["kind"] for r in saved["resources"]}

    hooks.after = None
    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert res.exit_code == 0, res.output
    assert_exactly_one_deployment(world, json.loads(Path(STATE).read_text()))


def test_sigterm_outside_the_executor_exits_143_with_a_message(tmp_path):
    """SIGTERM while xacct is reading (no change in flight: AWS never answers its first request), in a real process
    started the way the installed `xacct` is: a message and exit 143, the shell's code for SIGTERM, no traceback."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    (tmp_path / "config").write_text("".join(
        f"[profile {p}]\nregion = us-west-2\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = x\n"
        for p in ("consumer", "provider")))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "PYTHONPATH": str(REPO),
           "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{silent.getsockname()[1]}", "AWS_MAX_ATTEMPTS": "1"}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "xacct_dataapi", "teardown", "--name", "ghost",
                                 "--consumer-profile", "consumer", "--provider-profile", "provider", "--yes"],
                                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)  # started, parsed, waiting for STS
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        silent.close()
    assert proc.returncode == 143, (proc.returncode, out, err)
    assert "terminated (sigterm) with no change to aws in flight" in flat(err).lower(), err
    assert "Traceback" not in err


def test_cli_ctrl_c_during_teardown_keeps_what_is_left_and_resumes(world, password, monkeypatch, sigint_guard):
    leaked, _ = sigint_guard
    assert invoke(world.setup_args(*SETUP_FLAGS)).exit_code == 0
    recorded = len(json.loads(Path(STATE).read_text())["resources"])
    hooks = CallHooks(after=send_sigint_at("provider:iam.DeleteRolePolicy")).install(monkeypatch)  # an early deletion

    res = invoke(["teardown", "--yes"])
    assert leaked == []
    assert res.exit_code == 130, res.output
    assert "run the same command again" in flat(res.stderr).lower()
    saved = json.loads(Path(STATE).read_text())
    assert saved["last_error"]["message"] == "interrupted"
    assert 0 < len(saved["resources"]) < recorded  # what was deleted is forgotten, the rest stays recorded

    hooks.after = None
    res = invoke(["teardown", "--yes"])
    assert res.exit_code == 0, res.output
    assert not Path(STATE).exists()
    assert_nothing_left(world)


# --- the deployment lock --------------------------------------------------------------------------

HOLDER = """
import sys
from pathlib import Path
from xacct_dataapi import state
with state.locked(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


@pytest.fixture
def lock_holder(tmp_path):
    """Another process holding the deployment's lock until told to stop (or killed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / STATE)], cwd=tmp_path, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        if line != "locked":
            proc.kill()
            pytest.fail(f"the lock holder did not start: {line!r} {proc.communicate()[1]}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()


def release(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "released"
    assert proc.wait() == 0


def test_setup_and_teardown_refuse_while_another_process_holds_the_lock(world, password, lock_holder):
    holder = f"pid {lock_holder.pid} on host {socket.gethostname()}"

    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert res.exit_code == 2, res.output
    assert holder in flat(res.stderr), res.stderr
    assert "locked by another xacct process" in flat(res.stderr)
    # Nothing changed: no state, nothing in AWS.
    assert not Path(STATE).exists()
    assert roles(world.provider) == [] and users(world.consumer) == []

    res = invoke(["teardown", "--yes"])
    assert res.exit_code == 2, res.output
    assert holder in flat(res.stderr), res.stderr

    release(lock_holder)
    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert res.exit_code == 0, res.output
    assert_exactly_one_deployment(world, json.loads(Path(STATE).read_text()))


def test_lock_of_a_killed_holder_is_taken_over(world, password, lock_holder):
    """A holder that dies (SIGKILL: no cleanup, its owner file stays) does not block the next run."""
    lock_holder.kill()
    lock_holder.wait()
    res = invoke(["teardown", "--yes"])
    assert res.exit_code == 2, res.output  # the lock is taken: teardown got as far as finding no deployment
    assert "No deployment named 'default'" in flat(res.stderr) and "locked" not in flat(res.stderr)
