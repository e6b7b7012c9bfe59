"""`xacct verify` and `xacct connect`: the path proven as the application, and handed to it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xacct_dataapi import state as state_mod
from xacct_dataapi import connect as connect_mod
from xacct_dataapi.context import check_accounts
from xacct_dataapi.errors import AwsError, UsageError
from xacct_dataapi.commands.status import status
from xacct_dataapi.commands.common import sessions_for, load_required

if TYPE_CHECKING:  # the use cases only call a Terminal's methods; prompting itself stays at the edge
    from xacct_dataapi.terminal import Terminal


def verify(state_path: Path, ui: Terminal, *, sql: str, as_profile: str | None, database: str | None,
           consumer_profile: str | None = None, provider_profile: str | None = None, wait_timeout: float = 120.0,
           region: str | None = None):
    """Run a statement through the deployment's path, as its consumer principal (read-only for xacct's state).

    The deployment's status comes first: a statement that runs while a step is drifted or missing proves only
    what the sandbox (or a too-wide policy) lets through, so verify refuses until `status` is all done."""
    from xacct_dataapi import verify as verify_mod
    from xacct_dataapi.durations import wait_line
    from xacct_dataapi.waiting import Timing

    report = status(state_path, consumer_profile, provider_profile, region=region)
    if not report["all_done"]:
        bad = [f"{s['number']} {s['title']} ({s['status']})" for s in report["steps"] if s["status"] != "done"]
        # A grant or policy xacct did not make (status "failed" with findings) is kept by setup: only its owner's
        # removal clears it, so the hint says so instead of sending the operator to a re-run that cannot help.
        foreign = any(s.get("foreign") for s in report["steps"])
        fix = ("remove what each finding names (the command is in the finding), then verify again" if foreign
               else "`xacct setup` to repair")
        raise AwsError(f"Not verifying: `xacct status` reports steps that are not done: {'; '.join(bad)}.",
                       f"Run `xacct status --name {report['name']}` for the details and {fix}.")
    state = load_required(state_path)
    aws = sessions_for(state, consumer_profile, provider_profile, region)
    check_accounts(aws, state)
    timing = Timing(on_wait=lambda what, elapsed: ui.note(f"  still waiting for {wait_line(what, elapsed, wait_timeout)}"))
    # verify's temporary access key is recorded (its id, never the secret) before use, under the state lock.
    with state_mod.locked(state_path):
        state = load_required(state_path)
        return verify_mod.verify(state, aws, sql=sql, as_profile=as_profile, database=database,
                                 wait_timeout=wait_timeout, timing=timing, save=lambda: state_mod.save(state, state_path),
                                 note=ui.note)


@dataclass
class ConnectResult:
    text: str
    written: Path | None = None
    changed: bool = False


def connect(state_path: Path, *, fmt: str, source_profile: str | None, credential_source: str | None,
            profile_name: str | None, write: bool) -> ConnectResult:
    """The hand-off, from the state file alone (no AWS call); with `write`, the profile merged into the AWS config."""


    if fmt not in connect_mod.FORMATS:
        raise UsageError(f"--format {fmt!r} is not supported.", f"Use one of: {', '.join(connect_mod.FORMATS)}.")
    handoff = connect_mod.HandOff.from_state(load_required(state_path))
    source = connect_mod.Source.choose(source_profile, credential_source)
    name = connect_mod.default_profile_name(handoff, profile_name)
    result = ConnectResult(connect_mod.render(handoff, fmt, source, name))
    if write:
        if not source.given:
            raise UsageError("--write needs the profile's source of credentials.",
                             "Add --source-profile P (a profile of the consumer principal) or --credential-source "
                             f"{'|'.join(connect_mod.CREDENTIAL_SOURCES)}.")
        block = connect_mod.profile_block(handoff, source, name)
        result.written, result.changed = connect_mod.write_profile(block, name, handoff.name)
    return result
