"""RDS: the cluster's Data API switch, a row only when xacct turned it on (the cluster is never xacct's)."""
from __future__ import annotations

from xacct_dataapi.resource_types.base import GONE, OURS, Ownership, ResourceType, read_or_none, tags_of

TAG_ENABLED_BY = "xacct:data-api-enabled-by"  # on the cluster: the deployment that turned its Data API on


class DataApiSwitch(ResourceType):
    kind, service, noun = "data_api", "rds", "Data API switch of cluster"

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
