"""Prerequisite: the cluster's Data API (HTTP endpoint) is on.

Serverless v1 clusters switch it with ModifyDBCluster(EnableHttpEndpoint); Serverless v2 and provisioned
clusters need the separate EnableHttpEndpoint operation (ModifyDBCluster silently ignores the flag there).
"""
from __future__ import annotations

from xacct_dataapi.models import Account, Action, Call, Record, StepPlan, Wait

NUMBER = 0
KEY = "data_api"
TITLE = "Data API enabled on the cluster"
KINDS = ("data_api",)


def inspect(ctx) -> dict:
    enabled = ctx.cluster.http_endpoint_enabled
    # Remembered (in the state file, before the first change) from the first run: if the Data API was off then
    # and is on now without a data_api row, a run was killed after turning it on and before recording that.
    if ctx.values.get("data_api_was_on") is None:
        ctx.values["data_api_was_on"] = enabled
    unrecorded = enabled and ctx.values["data_api_was_on"] is False and not ctx.state.find("data_api", ctx.cluster.id)
    return {"enabled": enabled, "turned_on_unrecorded": unrecorded}


def _wait(cluster_id: str, on: bool) -> Wait:
    return Wait(
        service="rds",
        method="describe_db_clusters",
        params={"DBClusterIdentifier": cluster_id},
        ready=lambda r: bool(r["DBClusters"][0].get("HttpEndpointEnabled")) is on,
        what=f"the Data API of cluster {cluster_id} to turn {'on' if on else 'off'}",
        account=Account.PROVIDER,
        deferred=on,  # turning on overlaps with the other steps; nothing before the end needs it
    )


def plan(ctx, facts: dict) -> StepPlan:
    c = ctx.cluster
    step = StepPlan(NUMBER, KEY, TITLE, Action.NOOP, f"the Data API is already on for cluster {c.id}")
    record = Record("data_api", c.id, arn=c.arn, created=True)
    if facts.get("turned_on_unrecorded"):
        step.action, step.reason = Action.REPAIR, f"an interrupted run turned the Data API on for cluster {c.id} but did not record it"
        step.calls = [Call(Account.PROVIDER, "xacct", "record", {}, record=record,
                           description="record that xacct turned the Data API on (teardown turns it off)")]
        return step
    if facts["enabled"]:
        return step
    if c.is_serverless_v1:
        call = Call(Account.PROVIDER, "rds", "modify_db_cluster",
                    {"DBClusterIdentifier": c.id, "EnableHttpEndpoint": True, "ApplyImmediately": True},
                    record=record, wait=_wait(c.id, True), description="turn on the Data API (Serverless v1)")
    else:
        call = Call(Account.PROVIDER, "rds", "enable_http_endpoint", {"ResourceArn": c.arn},
                    record=record, wait=_wait(c.id, True), description="turn on the Data API")
    step.action, step.reason, step.calls = Action.CREATE, f"the Data API is off on cluster {c.id} (--enable-data-api)", [call]
    return step


def teardown(row, state) -> list[Call]:
    # A composite: it first looks for other xacct deployments on the same cluster and leaves the Data
    # API on for them (turning it off would break their path).
    return [Call(Account.PROVIDER, "xacct", "disable_data_api",
                 {"ClusterId": row.id, "ClusterArn": row.arn, "EngineMode": state.values.get("cluster_engine_mode", "provisioned"),
                  "Deployment": state.name},
                 forget=(row.kind, row.id), wait=_wait(row.id, False),
                 description="turn the Data API back off (xacct turned it on), unless another xacct deployment uses the cluster")]
