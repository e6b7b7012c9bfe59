"""Crash safety: kill `xacct setup` right after AWS accepted each of its mutating calls, before xacct could
record it; the next run must converge on exactly one deployment, and teardown must leave nothing.

The crash points are not a hand-written list: a clean setup run under moto, made at collection time,
records every mutating call (anything but Describe*/Get*/List*) that AWS accepted. The test is then
parametrized over that list, so a new call in the product is a new crash point here.

Also here: the DB password never reaches the state file, its backup, or any output (also with --debug,
also when a call fails).
"""
from __future__ import annotations

import io
import json
import tempfile
import traceback
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console
from rich.traceback import Traceback
from typer.testing import CliRunner

from tests.helpers.accounts import SECRET_NAME, STATE
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import (authorization_paused, grant, least_privilege,  # noqa: F401 (the `world` fixture)
                                     world_of_operators)
from tests.helpers.hooks import CallHooks, Killed, client_error
from tests.helpers.inventory import (assert_exactly_one_deployment, assert_nothing_left, live_endpoints, secrets,
                                     xacct_security_groups)
from tests.helpers.profiles import isolate
from tests.helpers.speed import speed_up_aws
from tests.helpers.world import open_sessions, seed
from xacct_dataapi import state as state_mod
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Names

pytestmark = pytest.mark.usefixtures("fast_aws")

SETUP_FLAGS = ("--enable-data-api", "--yes")


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


# --- the clean run, at collection time ---------------------------------------------------------


def resource_shape(state: dict) -> list[tuple]:
    """The resources a state file records, without the ids AWS makes up (key id, group id, endpoint id)."""
    random_ids = {"kms_key", "kms_key_policy", "security_group", "vpc_endpoint"}
    return sorted((r["kind"], r["account"], r["created"], None if r["kind"] in random_ids else r["id"])
                  for r in state["resources"])


@contextmanager
def collection_world(prefix: str):
    """A fresh moto backend at collection time, with the two-account world seeded and every mutating call recorded:
    yields (world, hooks, state_path). xacct runs as the least-privilege operators the tests use (world_of_operators),
    so the clean runs are the operators' calls and a call their policy denies fails the collection."""
    from moto import mock_aws

    from xacct_dataapi.sandbox import limits

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, pytest.MonkeyPatch.context() as mp:
        isolate(mp, Path(tmp))
        mp.setenv("XACCT_DB_PASSWORD", "collection-time-password")
        speed_up_aws(mp)
        limits.install()
        with mock_aws(config={"core": {"mock_credentials": False}}), least_privilege(seed(*open_sessions())) as world:
            hooks = CallHooks().install(mp)  # after the operators are made: only xacct's calls are recorded
            yield world, hooks, Path(tmp) / "clean.json"


def run_clean(args: list[str], state_path: Path, what: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--state", str(state_path)])
    if result.exit_code != 0:
        raise RuntimeError(f"the clean {what} run failed (exit {result.exit_code}): {result.output}")


def record_clean_run() -> dict:
    """One uninterrupted setup in a fresh moto backend: its mutating calls, and the resources it recorded."""
    with collection_world("xacct-clean-run-") as (world, hooks, state_path):
        run_clean(world.setup_args(*SETUP_FLAGS), state_path, "setup")
        state = json.loads(state_path.read_text())
        setup_calls = list(hooks.calls)
        hooks.calls.clear()
        run_clean(["teardown", "--yes"], state_path, "teardown")
        return {"calls": setup_calls, "shape": resource_shape(state), "teardown_calls": list(hooks.calls)}


def record_replacement_run() -> list[str]:
    """The mutating calls of a setup that moves a deployment to another VPC (replace, never forget)."""
    with collection_world("xacct-replace-run-") as (world, hooks, state_path):
        vpc, subnets = world.second_vpc()
        grant(world, vpcs=(world.vpc_id, vpc))  # the administrator's `xacct permissions --vpc VPC_A,VPC_B` for the move
        for args in (world.setup_args(*SETUP_FLAGS), world.args_in(world.setup_args(*SETUP_FLAGS), vpc, subnets)):
            hooks.calls.clear()
            run_clean(args, state_path, "replacement")
        return list(hooks.calls)


@contextmanager
def access_role_at_root(mp: pytest.MonkeyPatch):
    """What an xacct before the IAM path made: the access role at `/` (and every policy naming that ARN)."""
    with mp.context() as inner:
        inner.setattr(Names, "access_role_path", staticmethod(lambda cluster_id, region: "/"))
        yield


def record_migration_run() -> list[str]:
    """The mutating calls of a setup that moves a role made at `/` under the cluster's path (delete, create, and
    the policies that name the role rewritten)."""
    with collection_world("xacct-migrate-run-") as (world, hooks, state_path):
        with pytest.MonkeyPatch.context() as mp, access_role_at_root(mp):
            run_clean(world.setup_args(*SETUP_FLAGS), state_path, "setup at /")
        hooks.calls.clear()
        run_clean(world.setup_args(*SETUP_FLAGS), state_path, "migration")
        return list(hooks.calls)


_CLEAN: dict = {}


def clean_run() -> dict:
    if not _CLEAN:
        try:
            _CLEAN.update(record_clean_run())
            _CLEAN["replace_calls"] = record_replacement_run()
            _CLEAN["migrate_calls"] = record_migration_run()
        except Exception as exc:  # reported by test_clean_run_has_crash_points, not as a collection error
            _CLEAN.update({"calls": [], "shape": [], "teardown_calls": [], "replace_calls": [], "migrate_calls": [],
                           "error": f"{type(exc).__name__}: {exc}"})
    return _CLEAN


def pytest_generate_tests(metafunc):
    for fixture, key in (("crash_point", "calls"), ("teardown_crash_point", "teardown_calls"),
                         ("replace_crash_point", "replace_calls"), ("migrate_crash_point", "migrate_calls")):
        if fixture in metafunc.fixturenames:
            # Named by (label, occurrence), sorted: the two accounts' chains interleave differently from run to run
            # (and from one pytest-xdist worker's collection to another's), the position within a chain does not.
            calls = clean_run()[key]
            points = sorted({kill_point(calls, k) for k in range(1, len(calls) + 1)})
            metafunc.parametrize(fixture, points, ids=[f"{label.replace(':', '-')}-{n}" for label, n in points])


def test_clean_run_has_crash_points():
    run = clean_run()
    assert "error" not in run, run.get("error")
    # Every resource that has no name AWS could deduplicate on is among the crash points.
    for expected in ("provider:kms.CreateKey", "provider:secretsmanager.CreateSecret", "provider:iam.CreateRole",
                     "consumer:iam.CreateUser", "consumer:ec2.CreateSecurityGroup", "consumer:ec2.CreateVpcEndpoint",
                     "provider:rds.ModifyDBCluster"):
        assert expected in run["calls"], run["calls"]
    for expected in ("consumer:ec2.DeleteVpcEndpoints", "consumer:ec2.DeleteSecurityGroup", "provider:iam.DeleteRole",
                     "provider:secretsmanager.DeleteSecret", "consumer:iam.DeleteUser", "provider:kms.ScheduleKeyDeletion",
                     "provider:rds.ModifyDBCluster"):
        assert expected in run["teardown_calls"], run["teardown_calls"]
    for expected in ("provider:iam.DeleteRolePolicy", "provider:iam.DeleteRole", "provider:iam.CreateRole",
                     "provider:kms.PutKeyPolicy", "provider:secretsmanager.PutResourcePolicy"):
        assert expected in run["migrate_calls"], run["migrate_calls"]


# --- kill at each point --------------------------------------------------------------------------


def _load_state_checked(path: Path) -> dict:
    """The state file must be valid JSON that xacct's own loader accepts; so must its backup, if any."""
    text = path.read_text()
    data = json.loads(text)
    assert state_mod.load(path) is not None
    bak = path.with_name(path.name + ".bak")
    if bak.exists():
        json.loads(bak.read_text())
        assert state_mod.load(bak) is not None
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], f"temporary files left next to the state file: {leftovers}"
    return data


def by_account(calls: list[str]) -> dict[str, list[str]]:
    chains: dict[str, list[str]] = {}
    for call in calls:
        chains.setdefault(call.split(":", 1)[0], []).append(call)
    return chains


def kill_point(calls: list[str], k: int) -> tuple[str, int]:
    """The k-th call of a clean run as (label, its occurrence among the calls with that label): the provider's
    and consumer's chains run at once, so only the position within its own chain is the same from run to run."""
    return calls[k - 1], calls[:k].count(calls[k - 1])


def assert_each_chain_is_a_prefix_of_the_clean_one(made: list[str], clean: list[str]) -> None:
    """Each account's calls so far are the clean run's, in its order (the chains interleave freely)."""
    clean_chains = by_account(clean)
    for account, chain in by_account(made).items():
        assert chain == clean_chains[account][:len(chain)], f"{account} diverged from the clean run: {chain}"


def test_kill_after_call_then_rerun_converges(world, password, monkeypatch, crash_point):
    crash = crash_point
    label = crash[0]
    hooks = CallHooks(kill_on=crash).install(monkeypatch)

    with pytest.raises(Killed):
        invoke(world.setup_args(*SETUP_FLAGS))
    assert hooks.dead and label in hooks.lost, f"the run diverged from the clean run before crash point {crash}"
    assert_each_chain_is_a_prefix_of_the_clean_one(hooks.calls, clean_run()["calls"])
    before = list(hooks.calls)

    path = Path(STATE)
    crashed = _load_state_checked(path)  # setup saves a valid state before its first mutating call
    assert crashed["name"] == "default"

    # The resume run: no crash. It must finish and converge on exactly one deployment.
    hooks.revive()
    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert res.exit_code == 0, res.output
    # Every change was made exactly once across the two runs, also the ones AWS accepted but the killed run never
    # recorded: none repeated, none missed (a repair may order a security group's rule changes differently).
    assert sorted(before + hooks.calls) == sorted(clean_run()["calls"])
    state = _load_state_checked(path)
    assert state["last_error"] is None
    assert resource_shape(state) == clean_run()["shape"], "the resumed deployment must record what a clean run records"
    assert_exactly_one_deployment(world, state)

    # Converged: a third run changes nothing.
    hooks.calls.clear()
    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert res.exit_code == 0, res.output
    assert hooks.calls == [], f"a run after convergence made mutating calls: {hooks.calls}"

    res = invoke(["teardown", "--yes"])
    assert res.exit_code == 0, res.output
    assert not path.exists()
    assert_nothing_left(world)


def test_kill_during_teardown_then_rerun_finishes(world, password, monkeypatch, teardown_crash_point):
    """The same for teardown: killed right after each deletion AWS accepted, a re-run removes the rest."""
    crash = teardown_crash_point
    label = crash[0]
    hooks = CallHooks().install(monkeypatch)
    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert res.exit_code == 0, res.output

    hooks.revive()
    hooks.kill_on = crash
    with pytest.raises(Killed):
        invoke(["teardown", "--yes"])
    assert hooks.dead and label in hooks.lost, f"the teardown diverged from the clean one before crash point {crash}"
    assert_each_chain_is_a_prefix_of_the_clean_one(hooks.calls, clean_run()["teardown_calls"])
    before, lost = list(hooks.calls), list(hooks.lost)
    path = Path(STATE)
    _load_state_checked(path)

    hooks.revive()
    res = invoke(["teardown", "--yes"])
    assert res.exit_code == 0, res.output
    assert not path.exists()
    assert_nothing_left(world)
    # It resumed where it stopped: what the killed run made is not made again, except a deletion whose record was
    # lost (each is idempotent).
    left = Counter(clean_run()["teardown_calls"]) - Counter(before) + Counter(lost)
    again = Counter(hooks.calls) - left
    # Leaving the endpoint is one Operation: mark it closing (CreateTags), then delete it. When the other account's
    # chain is the one killed between those two calls, the mark landed but the Operation was never recorded, so the
    # re-run marks again (the same tag, idempotent) before the delete. Nothing else may be made twice.
    if "consumer:ec2.CreateTags" in before and "consumer:ec2.DeleteVpcEndpoints" not in before:
        again.pop("consumer:ec2.CreateTags", None)
    assert not again, (again, hooks.calls)


def test_kill_while_moving_to_another_vpc_then_rerun_converges(world, password, monkeypatch, replace_crash_point):
    """Replacement flow: killed after each call of a setup that moves the deployment to another VPC, a re-run
    finishes the move; the old VPC ends empty (nothing orphaned, nothing forgotten) and teardown leaves nothing."""
    crash = replace_crash_point
    label = crash[0]
    hooks = CallHooks().install(monkeypatch)
    assert invoke(world.setup_args(*SETUP_FLAGS)).exit_code == 0
    vpc_b, subnets_b = world.second_vpc()
    grant(world, vpcs=(world.vpc_id, vpc_b))  # the administrator's `xacct permissions --vpc VPC_A,VPC_B` for the move
    moved = world.args_in(world.setup_args(*SETUP_FLAGS), vpc_b, subnets_b)

    hooks.revive()
    hooks.kill_on = crash
    with pytest.raises(Killed):
        invoke(moved)
    assert hooks.dead and label in hooks.lost, f"the move diverged from the clean one before crash point {crash}"
    assert_each_chain_is_a_prefix_of_the_clean_one(hooks.calls, clean_run()["replace_calls"])
    _load_state_checked(Path(STATE))

    hooks.revive()
    res = invoke(moved)
    assert res.exit_code == 0, res.output
    assert live_endpoints(world.consumer, world.vpc_id) == [] and xacct_security_groups(world.consumer, world.vpc_id) == []
    assert len(live_endpoints(world.consumer, vpc_b)) == 1 and len(xacct_security_groups(world.consumer, vpc_b)) == 1
    hooks.calls.clear()
    assert invoke(moved).exit_code == 0 and hooks.calls == [], hooks.calls  # converged
    assert invoke(["teardown", "--yes"]).exit_code == 0
    assert_nothing_left(world)
    assert live_endpoints(world.consumer, vpc_b) == [] and xacct_security_groups(world.consumer, vpc_b) == []


def test_kill_while_moving_the_role_under_its_path_then_rerun_converges(world, password, monkeypatch,
                                                                       migrate_crash_point):
    """A role made at `/` (before the IAM path) is replaced by setup: killed after each call of that run (after the
    delete, before the create, ...), a re-run finishes the move, each change made once; the deployment ends as a
    fresh one (the role at the path, every policy naming its new ARN) and teardown leaves nothing."""
    crash = migrate_crash_point
    label = crash[0]
    hooks = CallHooks().install(monkeypatch)
    with access_role_at_root(monkeypatch):
        assert invoke(world.setup_args(*SETUP_FLAGS)).exit_code == 0

    hooks.revive()
    hooks.kill_on = crash
    with pytest.raises(Killed):
        invoke(world.setup_args(*SETUP_FLAGS))
    assert hooks.dead and label in hooks.lost, f"the migration diverged from the clean one before crash point {crash}"
    assert_each_chain_is_a_prefix_of_the_clean_one(hooks.calls, clean_run()["migrate_calls"])
    before = list(hooks.calls)
    _load_state_checked(Path(STATE))

    hooks.revive()
    res = invoke(world.setup_args(*SETUP_FLAGS))
    assert res.exit_code == 0, res.output
    # Each change made once across the two runs (the role deleted once, created once), none missed.
    assert sorted(before + hooks.calls) == sorted(clean_run()["migrate_calls"])
    state = _load_state_checked(Path(STATE))
    assert resource_shape(state) == clean_run()["shape"]
    assert_exactly_one_deployment(world, state)
    hooks.calls.clear()
    assert invoke(world.setup_args(*SETUP_FLAGS)).exit_code == 0 and hooks.calls == [], hooks.calls  # converged
    assert invoke(["teardown", "--yes"]).exit_code == 0
    assert_nothing_left(world)


# --- the password never leaks --------------------------------------------------------------------


def _files_under(directory: Path) -> dict[str, str]:
    return {str(p): p.read_text(errors="replace") for p in directory.rglob("*") if p.is_file()}


def test_password_never_written_or_printed(world, password, monkeypatch):
    hooks = CallHooks().install(monkeypatch)
    res = invoke(world.setup_args(*SETUP_FLAGS, "--debug"))
    assert res.exit_code == 0, res.output
    assert "provider:secretsmanager.CreateSecret" in hooks.calls

    # Not vacuous: the password did reach AWS, inside the secret (which only the access role may read).
    with authorization_paused():
        value = world.provider.client("secretsmanager").get_secret_value(SecretId=SECRET_NAME)
    assert json.loads(value["SecretString"])["password"] == password

    path = Path(STATE)
    bak = path.with_name(path.name + ".bak")
    assert path.exists() and bak.exists()
    for where, text in _files_under(path.parent).items():
        assert password not in text, f"the password is in {where}"
    assert password not in res.stdout
    assert password not in res.stderr

    res = invoke(["status"])
    assert password not in res.output
    res = invoke(["teardown", "--yes", "--debug"])
    assert res.exit_code == 0, res.output
    assert password not in res.output
    for where, text in _files_under(path.parent).items():
        assert password not in text, f"the password is in {where}"


def _rendered_traceback(exc_info) -> str:
    """The traceback as `--debug` shows it (typer's rich traceback, locals off as in cli.py), and as plain text."""
    plain = "".join(traceback.format_exception(*exc_info))
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(Traceback.from_exception(*exc_info, show_locals=False))
    return plain + "\n" + console.export_text()


def _exception_chain(exc: BaseException | None) -> list[BaseException]:
    out = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


METHODS = {"CreateSecret": "secretsmanager.create_secret", "PutResourcePolicy": "secretsmanager.put_resource_policy"}


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("failing", ["CreateSecret", "PutResourcePolicy"])
def test_password_not_in_failure_output(world, password, monkeypatch, failing, debug):
    """A call fails (the one carrying the password, or a later one): the error, with or without --debug,
    never shows the password; the state file written on failure does not hold it either."""
    CallHooks(fail={failing: client_error(failing)}).install(monkeypatch)
    args = world.setup_args(*SETUP_FLAGS, *(["--debug"] if debug else []))
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert password not in res.stdout
    assert password not in res.stderr
    if debug:
        # --debug re-raises the error so the user sees a traceback; it must not carry the password either.
        assert res.exc_info is not None and not isinstance(res.exception, SystemExit)
        assert failing.lower() in str(res.exception).replace("_", "").lower()
        assert password not in _rendered_traceback(res.exc_info)
        for exc in _exception_chain(res.exception):
            assert password not in str(exc) and password not in repr(exc)
            assert password not in repr(getattr(exc, "args", ()))
    else:
        assert "Error:" in res.stderr and "injected by the test" in res.stderr

    state = json.loads(Path(STATE).read_text())
    assert state["last_error"]["method"] == METHODS[failing]
    for where, text in _files_under(Path(STATE).parent).items():
        assert password not in text, f"the password is in {where}"
    if failing == "PutResourcePolicy":
        assert [s["Name"] for s in secrets(world.provider)] == [SECRET_NAME]
