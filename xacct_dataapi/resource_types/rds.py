"""RDS: the cluster's Data API switch, a row only when xacct turned it on (the cluster is never xacct's)."""
from __future__ import annotations

from xacct_dataapi.resource_types.base import GONE, NOT_OURS, OURS, Ownership, ResourceType, read_or_none, tags_of

TAG_ENABLED_BY = "xacct:data-api-enabled-by"  # on the cluster: the deployment that turned its Data API on


class DataApiSwitch(ResourceType):
    kind, service, noun = "data_api", "rds", "Data API switch of cluster"

    def read(self, client, row):
        found = read_or_none(client.describe_db_clusters, DBClusterIdentifier=row.id)
        clusters = (found or {}).get("DBClusters", [])
        return {**clusters[0], "Tags": tags_of(clusters[0].get("TagList"))} if clusters else None

    def judge(self, found, row, names):
        by = found["Tags"].get(TAG_ENABLED_BY)
        if by == names.deployment:
            return Ownership(OURS, f"deployment {names.deployment!r} turned it on")
        if by is None and not found.get("HttpEndpointEnabled"):
            return Ownership(GONE, "the Data API is already off")
        return Ownership(NOT_OURS, f"the cluster says it was turned on by {by!r}" if by else
                         "the cluster carries no xacct:data-api-enabled-by tag")


TYPES = (DataApiSwitch(),)
