"""`python -m tests.acceptance [--yes] [PYTEST ARGS]` (what `make acceptance` runs): the acceptance suite, after
showing, on real AWS, what the run will create, how long it takes and what it costs, and asking.

Without XACCT_ACC it runs against the sandbox (as `make test` does), asking nothing. With XACCT_ACC=1 it needs
XACCT_ACC_CONSUMER_PROFILE, XACCT_ACC_PROVIDER_PROFILE and XACCT_ACC_REGION (exit 2 naming what is missing,
before any request); XACCT_ACC_YES=1 is the same as --yes.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.acceptance.target import (OptInIncomplete, RUN_ID_VAR, SANDBOX_VAR, YES_VAR, Target, opted_in)

SUITE = Path(__file__).resolve().parent


class NoTarget(SystemExit):
    """Exit 2 with a message: the environment names no usable target."""

    def __init__(self, message: str) -> None:
        print(f"Error: {message}", file=sys.stderr)
        super().__init__(2)


def new_run_id() -> str:
    return os.environ.get(RUN_ID_VAR) or secrets.token_hex(3)


@contextmanager
def target_from_environment(need_existing_sandbox: bool = False) -> Iterator[Target]:
    """The target the environment names: real AWS (opted in), a running sandbox (XACCT_ACC_SANDBOX=DIR), or, unless
    need_existing_sandbox, a sandbox of its own for as long as the block runs."""
    try:
        opt_in = opted_in(os.environ)
    except OptInIncomplete as e:
        raise NoTarget(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="xacct-acc-") as workdir:
        if opt_in:
            yield Target.real_aws(opt_in, Path(workdir))
        elif os.environ.get(SANDBOX_VAR):
            yield Target.sandbox(running_sandbox(Path(os.environ[SANDBOX_VAR])), Path(workdir))
        elif need_existing_sandbox:
            raise NoTarget(f"no target: a sandbox's resources die with it. Set {SANDBOX_VAR}=DIR (a running "
                           "sandbox) or opt in to real AWS (docs/aws-acceptance.md).")
        else:
            from xacct_dataapi.sandbox import Sandbox

            with Sandbox(Path(workdir) / "sandbox") as sandbox:
                yield Target.sandbox(sandbox.info, Path(workdir))


def running_sandbox(directory: Path):
    from xacct_dataapi.sandbox import SandboxInfo

    try:
        return SandboxInfo.from_json(json.loads((directory / "sandbox.json").read_text()))
    except (OSError, ValueError) as e:
        raise NoTarget(f"{SANDBOX_VAR}={directory} is not a running sandbox ({e}).") from None


def main(argv: list[str]) -> int:
    yes = "--yes" in argv or os.environ.get(YES_VAR) == "1"
    pytest_args = [a for a in argv if a != "--yes"]
    try:
        opt_in = opted_in(os.environ)
    except OptInIncomplete as e:
        raise NoTarget(str(e)) from None
    env = dict(os.environ)
    if opt_in:
        from tests.acceptance.world import World

        run_id = new_run_id()
        with tempfile.TemporaryDirectory() as workdir:
            print(World(Target.real_aws(opt_in, Path(workdir)), run_id).plan())
        if not yes and input("Create it and run the suite on these two accounts? [y/N] ").strip().lower() != "y":
            print("Nothing was created.")
            return 1
        env.update({YES_VAR: "1", RUN_ID_VAR: run_id})
    return subprocess.call([sys.executable, "-m", "pytest", str(SUITE), "-p", "no:cacheprovider", *pytest_args],
                           env=env, cwd=SUITE.parent.parent)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
