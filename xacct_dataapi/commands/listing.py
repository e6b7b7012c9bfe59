"""`xacct list`, `xacct force-unlock` and `permissions --name`: what is recorded here or in team state."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from xacct_dataapi import cost
from xacct_dataapi import state as state_mod
from xacct_dataapi import state_s3
from xacct_dataapi.state_s3 import S3Location
from xacct_dataapi.config import Config, state_dir, validate_name
from xacct_dataapi.errors import Declined, StateError, UsageError
from xacct_dataapi.commands.common import resolve_state_path

if TYPE_CHECKING:  # the use cases only call a Terminal's methods; prompting itself stays at the edge
    from xacct_dataapi.terminal import Terminal


def force_unlock(path: Path | S3Location, lock_id: str, ui: Terminal) -> dict:
    """Remove the team state lock `lock_id` of the deployment at `path`, after asking."""
    if not isinstance(path, S3Location):
        raise UsageError(f"{path} is a local state file: its lock is released by the OS when its holder dies.",
                         "force-unlock is for team state in S3 (--state s3://BUCKET/PREFIX/).")
    if not ui.confirm(f"Remove lock {lock_id} on {path}? Only do so if its holder is gone for good."):
        raise Declined("Declined: the lock was left in place.", "Re-run and answer yes, or pass --yes.")
    return state_s3.force_unlock(path, lock_id)


def recorded_scope(name: str) -> dict:
    """What `permissions --name` fills from the deployment's state, if it is recorded here (or in team state)."""
    state = state_mod.load(resolve_state_path(None, validate_name(name)))
    if state is None:
        return {}
    cfg = Config.from_json({**state.config, "name": state.name}, consumer_profile=None, provider_profile=None,
                           region=state.region)
    return {k: v for k, v in {
        "region": state.region, "provider": state.accounts.get("provider"), "consumer": state.accounts.get("consumer"),
        "cluster": cfg.cluster_id, "vpc": cfg.vpc_id, "consumer_role": cfg.consumer_role,
        "consumer_user": cfg.consumer_user, "create_db_user": cfg.create_db_user, "admin_secret": cfg.admin_secret,
    }.items() if v}


# What `xacct permissions` prints where it knows no value (its options' defaults).
PLACEHOLDERS = {"provider": "PROVIDER", "consumer": "CONSUMER", "cluster": "CLUSTER_ID", "vpc": "VPC_ID"}


def permissions_scope(name: str, given: dict) -> dict:
    """`permissions`' scope: each value given as a flag, else (--name of a recorded deployment) the state's, else the
    placeholder."""
    recorded = recorded_scope(name) if name != "*" else {}
    return {k: v if v not in (None, PLACEHOLDERS.get(k)) else recorded.get(k, v) for k, v in given.items()}


def list_deployments(base: Path | None = None, where: Path | S3Location | None = None, refresh: bool = False) -> list[dict]:
    """Every deployment with a state file in .xacct/ (or under the team state's S3 prefix, `where` or XACCT_STATE),
    summarised from the state alone (no call to the deployments' accounts); with `refresh`, also what AWS still holds
    of each, and the deployments AWS holds with no state file here (commands/refresh.py: listing calls in bulk)."""
    if where is not None and not isinstance(where, S3Location):
        raise UsageError(f"--state {where}: list takes a team state location (s3://BUCKET/PREFIX/).",
                         "Run it without --state to list the state files in .xacct/ here.")
    if where is None and os.environ.get("XACCT_STATE", "").startswith(state_s3.SCHEME):
        where = S3Location.parse(os.environ["XACCT_STATE"])
    if where is not None:
        paths = state_s3.states_under(where.folder)
    else:
        folder = state_dir(base)
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    found, listed = [], []
    for path in paths:
        try:
            state = state_mod.load(path)
        except StateError as exc:
            found.append({"name": path.stem, "state_file": str(path), "summary": f"unreadable: {exc.message}"})
            continue
        if state is None:
            continue
        c, err = state.config, state.last_error or {}
        if err.get("message") == "interrupted":
            summary = f"{err.get('during', 'setup')} interrupted"
        elif err:
            summary = f"step {err.get('step')} failed"
        else:
            summary = "complete" if state.resources else "empty"
        endpoint = next((r.id for r in state.resources if r.kind == "vpc_endpoint"), None)
        found.append({"name": state.name, "state_file": str(path), "region": state.region,
                      "consumer": state.accounts.get("consumer"), "provider": state.accounts.get("provider"),
                      "cluster": c.get("cluster"), "vpc": c.get("vpc_id"), "resources": len(state.resources),
                      "summary": summary, "monthly_cost": cost.for_state(state), "endpoint": endpoint})
        listed.append((found[-1], [(r.kind, r.id) for r in state.resources],
                       (state.profiles.get("consumer"), state.profiles.get("provider"), state.region)))
    found = _count_shared_endpoints_once(found)
    if not refresh:
        return found
    from xacct_dataapi.commands.refresh import refresh as ask_aws

    unreadable = [d for d in found if "region" not in d]
    return ask_aws(listed) + unreadable


def _count_shared_endpoints_once(found: list[dict]) -> list[dict]:
    """A shared endpoint is billed once: the first deployment listed on it carries its cost, the others name it."""
    first: dict[str, str] = {}
    for d in found:
        ep = d.get("endpoint")
        if ep is None:
            continue
        if ep not in first:
            first[ep] = d["name"]
            d["endpoint_shared_with"] = [o["name"] for o in found if o.get("endpoint") == ep and o is not d]
            continue
        recorded = d["monthly_cost"]
        kept = [line for line in recorded["lines"] if not line["what"].startswith("interface endpoint")]
        d["monthly_cost"] = {**recorded, "lines": kept, "usd_per_month": round(sum(x["usd"] for x in kept), 2),
                             "endpoint_counted_with": first[ep]}
    return found
