"""`xacct status`: the plan as a report, from the state file and read-only calls."""
from __future__ import annotations

from pathlib import Path

from xacct_dataapi import cost
from xacct_dataapi import graph as graph_mod
from xacct_dataapi.connect import handoff_summary
from xacct_dataapi.config import Config
from xacct_dataapi.context import start_context
from xacct_dataapi.errors import StateError
from xacct_dataapi.planner import plan_setup
from xacct_dataapi.status import status_report
from xacct_dataapi.commands.common import sessions_for, load_required


def status(state_path: Path, consumer_profile: str | None = None, provider_profile: str | None = None, *,
           graph: bool = False, region: str | None = None) -> dict:
    """Each step's status; with `graph`, also report["graph"]: the chain as graph.Node roots (not JSON)."""
    state = load_required(state_path)
    if not state.config.get("cluster"):
        raise StateError(f"State file {state_path} records no configuration.", "Run `xacct setup` again to complete it.")
    aws = sessions_for(state, consumer_profile, provider_profile, region)

    def no_password() -> str:
        raise AssertionError("status never needs the password")

    # The state's own name is authoritative: it is the name the resources were made under.
    cfg = Config.from_json({**state.config, "name": state.name}, consumer_profile=aws.consumer_profile,
                           provider_profile=aws.provider_profile, region=aws.region)
    ctx = start_context(cfg, aws, state, no_password, check_data_api=False, recorded=True)
    plan = plan_setup(ctx)
    report = status_report(plan, state)
    report["state_file"] = str(state_path)
    report["handoff"] = handoff_summary(state)
    report["monthly_cost"] = cost.for_state(state)
    if graph:
        report["graph"] = graph_mod.build(plan, report, vpc=state.config.get("vpc_id"))
    return report
