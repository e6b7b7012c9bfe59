"""Prerequisite: the cluster's Data API (HTTP endpoint) is on.

Serverless v1 clusters switch it with ModifyDBCluster(EnableHttpEndpoint); Serverless v2 and provisioned
clusters need the separate EnableHttpEndpoint operation (ModifyDBCluster silently ignores the flag there).
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.config import Names
from xacct_dataapi.errors import AwsError, error_code
from xacct_dataapi.models import (
    KEPT, NOTHING_CHANGED, Account, Action, Bookkeeping, Call, Inspection, Operation, Record, Resource, Retry, Step,
    StepPlan, Wait, WaitFor,
)

from xacct_dataapi.procedures import procedure
from xacct_dataapi.resource_types.rds import TAG_ENABLED_BY

NUMBER = 0


# A cluster being modified, backed up or scaled answers EnableHttpEndpoint with InvalidResourceStateFault
# (EnableHttpEndpoint API reference, Errors) and ModifyDBCluster with InvalidDBClusterStateFault: it settles by itself.
MODIFYING = Retry(("InvalidResourceStateFault", "InvalidDBClusterStateFault"), (), "the cluster is busy (modifying)")
CLOSING_TAG = "xacct:data-api-closing:"  # + a deployment whose teardown is deciding whether to turn it off


def inspect(ctx, known) -> Inspection:
    enabled = ctx.cluster.http_endpoint_enabled
    # Remembered (in the state file, before the first change) from the first run: if the Data API was off then
    # and is on now without a data_api row, a run was killed after turning it on and before recording that.
    was_on = known.get("data_api_was_on")
    values = {}
    if was_on is None:
        was_on = values["data_api_was_on"] = enabled
    unrecorded = enabled and was_on is False and not ctx.state.find("data_api", ctx.cluster.id)
    enabled_by = (getattr(ctx.cluster, "tags", None) or {}).get(TAG_ENABLED_BY)
    return Inspection({"enabled": enabled, "turned_on_unrecorded": unrecorded, "enabled_by": enabled_by}, values)


def desired(ctx) -> list[Resource]:
    c = ctx.cluster
    return [Resource("data_api", c.id, Account.PROVIDER, arn=c.arn,
                     properties={"HttpEndpointEnabled": True, "EngineMode": c.engine_mode})]


# The switch's state in DescribeDBClusters (JMESPath, waiting.state_of): "on" only for the boolean true AWS documents
# (DBCluster.HttpEndpointEnabled, a Boolean), "off" for false or no flag yet (a cluster modifying). A response is
# untrusted: any other value (the string "false" is truthy in JMESPath) reads as "unreadable: ..." naming it, a state
# no wait expects, so the wait stops at once rather than take it for on or off.
_FLAG = "DBClusters[0].HttpEndpointEnabled"
_ON = f"{_FLAG} == `true`"
_OFF = f"({_FLAG} == `false` || {_FLAG} == null)"
_UNREADABLE = f"join('', ['unreadable: HttpEndpointEnabled is the ', type({_FLAG}), ' ', to_string({_FLAG}), ', not a boolean'])"
SWITCH_STATE = f"{_ON} && 'on' || {_OFF} && 'off' || {_UNREADABLE}"


def _wait(cluster_id: str, on: bool) -> Wait:
    return Wait("rds", "describe_db_clusters", {"DBClusterIdentifier": cluster_id}, state=SWITCH_STATE,
                pending=("off",) if on else ("on",), target=("on",) if on else ("off",),
                what=f"the Data API of cluster {cluster_id} to turn {'on' if on else 'off'}", account=Account.PROVIDER,
                deferred=on)  # turning on overlaps with the other steps; nothing before the end needs it


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    (want,) = desired
    c = ctx.cluster
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, f"the Data API is already on for cluster {c.id}")
    record = Record("data_api", want.id, arn=want.arn, created=True)
    if facts.get("turned_on_unrecorded"):
        step.action, step.reason = Action.REPAIR, f"an interrupted run turned the Data API on for cluster {c.id} but did not record it"
        step.calls = [Bookkeeping(Account.PROVIDER, record=record,
                                  description="record that xacct turned the Data API on (teardown turns it off)")]
        return step
    if facts["enabled"] and facts.get("enabled_by") and not ctx.state.find("data_api", c.id):
        # Another xacct deployment turned it on: this one shares the switch, and whichever deployment on the cluster
        # leaves last turns it off (disable_data_api), so this one records it too.
        step.action = Action.REPAIR
        step.reason = (f"the Data API of cluster {c.id} was turned on by xacct deployment {facts['enabled_by']!r}; "
                       "the last deployment on the cluster to leave turns it off")
        step.calls = [Bookkeeping(Account.PROVIDER, record=record,
                                  description="record the shared Data API switch (the last deployment out turns it off)")]
        return step
    if facts["enabled"]:
        return step
    if c.is_serverless_v1:
        call = Call(Account.PROVIDER, "rds", "modify_db_cluster",
                    {"DBClusterIdentifier": c.id, "EnableHttpEndpoint": True, "ApplyImmediately": True},
                    record=record, wait=_wait(c.id, True), retry=MODIFYING,
                    description="turn on the Data API (Serverless v1)")
    else:
        call = Call(Account.PROVIDER, "rds", "enable_http_endpoint", {"ResourceArn": c.arn},
                    record=record, wait=_wait(c.id, True), retry=MODIFYING, description="turn on the Data API")
    # Tagged before the switch, so a teardown without the state file (by tag) also turns it off again.
    tag = Call(Account.PROVIDER, "rds", "add_tags_to_resource",
               {"ResourceName": c.arn, "Tags": [{"Key": TAG_ENABLED_BY, "Value": ctx.names.deployment}]},
               description=f"tag the cluster: xacct deployment {ctx.names.deployment} turns its Data API on")
    step.action, step.reason = Action.CREATE, f"the Data API is off on cluster {c.id} (--enable-data-api)"
    tagged = (getattr(c, "tags", None) or {}).get(TAG_ENABLED_BY) == ctx.names.deployment  # a re-run after a crash
    step.calls = [call] if tagged else [tag, call]
    return step


def other_deployments_on_cluster(iam, cluster_arn: str, deployment: str) -> list[str]:
    """Other xacct deployments whose access role may run statements on this cluster (read-only).

    Every deployment's access role lives under the cluster's IAM path (config.Names.access_role_path), so they are
    the roles one ListRoles(PathPrefix=that path) returns, whatever else the account holds, no read per role. Only
    whether there is one matters: the pages (1,000 roles each, the most ListRoles gives) are read until one shows
    another deployment, so the cost stays one request with 500 others on the cluster (benchmarks/scale.py; it was a
    page per 100). A role of a deployment last set up by an xacct older than the path sits at `/` and is not seen:
    re-running that deployment's setup moves it (docs/how-it-works.md)."""
    region, cluster_id = cluster_arn.split(":")[3], cluster_arn.rsplit(":", 1)[1]
    path, own = Names.access_role_path(cluster_id, region), Names(deployment).access_role
    found: list[str] = []
    for page in iam.get_paginator("list_roles").paginate(PathPrefix=path, PaginationConfig={"PageSize": 1000}):
        for role in page.get("Roles", []):
            name = role["RoleName"]
            # PathPrefix matches deeper paths too (/xacct/REGION/CLUSTER/more/): only xacct's own path counts.
            if name == own or role.get("Path") != path:
                continue
            found.append(Names.deployment_of_access_role(name) or name)
        if found:
            break
    return sorted(found)


def some_of(names: list[str], shown: int = 3) -> str:
    """A few names for a one-line note (hundreds of deployments may share a cluster)."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def deployments_before_the_path(iam, deployment: str) -> list[str]:
    """Deployments last set up by an xacct older than the per-cluster IAM path: an access role named like xacct's
    (`xacct-NAME-data-api-access`) at path `/` (read-only).

    Which cluster such a role reaches is only in its inline policy, and the operator policy grants no read of other
    deployments' roles (docs/permissions.md), so teardown takes any of them as a possible user of the cluster. One
    paged ListRoles of the account (MaxItems at most 1000 a page, IAM API reference, ListRoles,
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRoles.html): it grows with the account's roles, not with deployments, and
    is made only by the teardown that would turn the Data API off."""
    found = []
    for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1000}):
        for role in page.get("Roles", []):
            other = Names.deployment_of_access_role(role["RoleName"])
            if role.get("Path") == "/" and other is not None and other != deployment:
                found.append(other)
    return sorted(found)


@procedure("rds:disable_data_api_unless_shared", actions=(
    "rds:DescribeDBClusters", "rds:AddTagsToResource", "rds:RemoveTagsFromResource", "iam:ListRoles",
    "rds:ModifyDBCluster", "rds:DisableHttpEndpoint"))
def disable_data_api(ops, ClusterId: str, ClusterArn: str, EngineMode: str | None, Deployment: str) -> dict:
    """Off again only if no other xacct deployment uses the cluster (turning it off would break their path).
    Serverless v1 switches with ModifyDBCluster; v2 and provisioned clusters with DisableHttpEndpoint. The cluster is
    read first: its engine mode when the state does not hold it (a teardown by tag), and whether the switch and the
    tag are still there (a re-run after a crash repeats nothing)."""
    try:
        found = ops.client("rds").describe_db_clusters(DBClusterIdentifier=ClusterId)["DBClusters"][0]
    except ClientError as exc:
        if error_code(exc) in ("DBClusterNotFoundFault", "ResourceNotFoundFault"):
            return {NOTHING_CHANGED: "already gone"}
        raise
    tags = {t["Key"] for t in found.get("TagList") or []}
    mark = CLOSING_TAG + Deployment
    on = _switch_of(found, ClusterId)
    if not on and TAG_ENABLED_BY not in tags:  # off, decided (a re-run after a crash)
        _untag(ops, ClusterArn, [mark] if mark in tags else [])
        return {NOTHING_CHANGED: "already off"}
    # The mark goes on before the other deployments are read: a setup whose role appeared after that read waits
    # while the mark is there (confirm_wait), so it never ends well on a switch this teardown is about to turn off.
    marked = [mark] if mark in tags else _tag(ops, ClusterArn, mark)
    iam = ops.client("iam")
    others = other_deployments_on_cluster(iam, ClusterArn, Deployment)
    if others:
        _untag(ops, ClusterArn, marked)
        ops.note(f"Left the Data API on for cluster {ClusterId}: xacct deployment(s) {some_of(others)} use it.")
        return {NOTHING_CHANGED: KEPT + "in use by other xacct deployments"}
    older = deployments_before_the_path(iam, Deployment)  # after: not needed while one on the path uses the cluster
    if older:
        _untag(ops, ClusterArn, marked)
        ops.note(f"Left the Data API on for cluster {ClusterId}: xacct deployment(s) {some_of(older)} were set up "
                 "by an older xacct (access role at path /) and may use it. Re-run their `xacct setup` (it moves "
                 "the role under the cluster's path); once none uses this cluster, turn the Data API off with "
                 f"`aws rds disable-http-endpoint --resource-arn {ClusterArn}`.")
        return {NOTHING_CHANGED: KEPT + "maybe in use by older xacct deployments"}
    if TAG_ENABLED_BY not in tags and on:
        # On, but xacct's tag is gone: whoever removed it took the switch over; xacct leaves it as it is.
        _untag(ops, ClusterArn, marked)
        ops.note(f"Left the Data API on for cluster {ClusterId}: it no longer carries {TAG_ENABLED_BY}.")
        return {NOTHING_CHANGED: "left: xacct did not turn it on"}
    switched = on
    if switched and (EngineMode or found.get("EngineMode", "provisioned")) == "serverless":
        ops.call("rds", "modify_db_cluster", DBClusterIdentifier=ClusterId, EnableHttpEndpoint=False, ApplyImmediately=True)
    elif switched:
        ops.call("rds", "disable_http_endpoint", ResourceArn=ClusterArn)
    _untag(ops, ClusterArn, [TAG_ENABLED_BY, *marked] if TAG_ENABLED_BY in tags else marked)
    # Switched: the item's Wait then polls until the Data API is off.
    return {} if switched else {NOTHING_CHANGED: "already off"}


def _switch_of(cluster: dict, cluster_id: str) -> bool:
    """Whether the Data API is on, as DescribeDBClusters documents it (a Boolean, absent while modifying). A response
    is untrusted: another value (the string "false") stops the teardown before it changes anything, never read as on."""
    flag = cluster.get("HttpEndpointEnabled")
    if flag is not None and not isinstance(flag, bool):
        raise AwsError(f"Cluster {cluster_id}'s HttpEndpointEnabled reads {flag!r}, not a boolean: xacct cannot tell "
                       "whether its Data API is on.", "Check the cluster in the RDS console; re-run teardown later.")
    return flag is True


def _tag(ops, cluster_arn: str, key: str) -> list[str]:
    try:
        ops.call("rds", "add_tags_to_resource", ResourceName=cluster_arn, Tags=[{"Key": key, "Value": "1"}])
    except ClientError as exc:
        if error_code(exc) in ("DBClusterNotFoundFault", "ResourceNotFoundFault"):
            return []
        raise
    return [key]


def _untag(ops, cluster_arn: str, keys: list[str]) -> None:
    if keys:
        ops.call("rds", "remove_tags_from_resource", ResourceName=cluster_arn, TagKeys=keys)


# While a teardown's closing mark is on the cluster, "being decided"; then "on", or "off" with what happened (JMESPath).
STAYS_ON_STATE = (f"DBClusters[0].TagList[?starts_with(Key, '{CLOSING_TAG}')] && 'being decided' || "
                  f"{_ON} && 'on' || {_OFF} && 'off: another xacct deployment\\'s teardown turned it "
                  "off while this setup ran (it saw no deployment left on the cluster); run setup again with "
                  f"--enable-data-api' || {_UNREADABLE}")


def confirm_wait(ctx) -> WaitFor:
    """For a setup that found the Data API on and adds its access role (its fact on the cluster): once the role
    exists, the switch must still be on, after any teardown deciding about it (its closing mark) has decided."""
    c = ctx.cluster
    return WaitFor(Account.PROVIDER, wait=Wait(
        "rds", "describe_db_clusters", {"DBClusterIdentifier": c.id}, state=STAYS_ON_STATE,
        pending=("being decided",), target=("on",), what=f"the Data API of cluster {c.id} to stay on",
        account=Account.PROVIDER), description=f"confirm the Data API of cluster {c.id} is still on")


def teardown(row, state) -> list:
    return [Operation(Account.PROVIDER, name="rds:disable_data_api_unless_shared",
                      params={"ClusterId": row.id, "ClusterArn": row.arn,
                              "EngineMode": state.values.get("cluster_engine_mode"), "Deployment": state.name},
                      forget=(row.kind, row.id), wait=_wait(row.id, False),
                      description="turn the Data API back off (xacct turned it on), unless another xacct deployment "
                                  "uses the cluster")]


def discover(find) -> list:
    """The cluster whose Data API this deployment turned on: it carries the deployment's tag (set before the switch)."""
    from xacct_dataapi.state import ResourceRow

    arns = find.tagged_arns(Account.PROVIDER, "rds:cluster", key=TAG_ENABLED_BY)
    return [ResourceRow(NUMBER, "data_api", arn.rsplit(":", 1)[1], Account.PROVIDER.value, arn=arn) for arn in sorted(arns)]


STEP = Step(NUMBER, "data_api", "Data API enabled on the cluster", ("data_api",), inspect=inspect, desired=desired,
            plan=plan, teardown=teardown, provides=("data_api_was_on",), discover=discover,
            teardown_rank={"data_api": 2})  # last: the cluster keeps serving until every grant is gone
