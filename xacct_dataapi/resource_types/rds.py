"""RDS: the cluster's Data API switch, a row only when xacct turned it on (the cluster is never xacct's)."""
from __future__ import annotations

from xacct_dataapi.resource_types.base import GONE, OURS, Ownership, ResourceType, read_or_none, tags_of
from xacct_dataapi.resource_types.grants import CLUSTER, P, SETUP, TEARDOWN, Grant

TAG_ENABLED_BY = "xacct:data-api-enabled-by"  # on the cluster: the deployment that turned its Data API on


class DataApiSwitch(ResourceType):
    kind, service, noun, doctor_link = "data_api", "rds", "Data API switch of cluster", "cluster"

    def cloudformation(self, t, r, ctx) -> None:
        t.leave_out(r.kind, f"The Data API of cluster {r.id} is a property of the cluster (AWS::RDS::DBCluster "
                            "EnableHttpEndpoint: true), owned by the stack that owns the cluster; or run `aws rds "
                            "enable-http-endpoint --resource-arn ARN`.")

    def read(self, client, row):
        found = read_or_none(client.describe_db_clusters, DBClusterIdentifier=row.id)
        clusters = (found or {}).get("DBClusters", [])
        return {**clusters[0], "Tags": tags_of(clusters[0].get("TagList"))} if clusters else None

    def judge(self, found, row, names):
        """The switch is shared by every xacct deployment on the cluster (docs/reliability.md): the recorded row only
        lets this deployment take part in deciding, and the switch-off itself turns it off only if xacct turned it on
        (the cluster's tag) and no other deployment uses it. So the cluster is never refused here, only found gone."""
        by = found["Tags"].get(TAG_ENABLED_BY)
        if by is None and not found.get("HttpEndpointEnabled"):
            return Ownership(GONE, "the Data API is already off")
        return Ownership(OURS, f"xacct deployment {by!r} turned it on; the last deployment on it turns it off" if by
                         else "the switch-off decides (it leaves on a Data API xacct did not turn on)")


TYPES = (DataApiSwitch(),)

# The operator's IAM grants for these calls (permissions.py assembles them; docs/permissions.md).
GRANTS: tuple[Grant, ...] = (
    # setup (before turning the Data API on) and doctor: the writer's instance class (not on T classes).
    Grant("ReadClusterWriter", P, {"rds:DescribeDBInstances": ("setup", "doctor")}, ("arn:{p}:rds:{region}:{provider}:db:*",)),
    Grant("ToggleDataApiOnlyWithEnableDataApi", P,
          {"rds:EnableHttpEndpoint": SETUP, "rds:DisableHttpEndpoint": TEARDOWN,
           "rds:ModifyDBCluster": ("setup", "teardown"),  # ModifyDBCluster: Serverless v1 only
           # the xacct:data-api-enabled-by tag, set before the switch, so a teardown by tag also turns it off; a
           # teardown's xacct:data-api-closing:<name> mark while it decides whether it is the last one out
           "rds:AddTagsToResource": ("setup", "teardown"), "rds:RemoveTagsFromResource": TEARDOWN}, (CLUSTER,)),
    Grant("FindOtherDeploymentsOnCluster", P, {"iam:ListRoles": TEARDOWN}, ("*",),
          why_star="ListRoles has no resource type. Teardown lists the roles under the cluster's IAM path "
                   "(`/xacct/REGION/CLUSTER_ID/`) to see whether another xacct deployment still uses the cluster's "
                   "Data API before turning it off, and, when none is there, the account's roles for an access role "
                   "left at `/` by an older xacct."),
)
