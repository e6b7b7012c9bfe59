"""`xacct list --refresh`: what AWS still holds of each listed deployment, read in bulk.

One round of paged listing calls per pair of accounts and region the state files name (not one per deployment),
all at once: in the provider, the keys and clusters xacct tagged (the Resource Groups Tagging API), the aliases, the
secrets tagged `xacct:deployment` (ListSecrets, which leaves out those scheduled for deletion), the roles under
`/xacct/REGION/` (every access role's path); in the consumer, the security groups and endpoints tagged
`xacct:managed-by=xacct` and the users (ListUsers: xacct's users sit at `/`, and ListUsers returns no tags). A role or
user named like xacct's is a deployment's only when its tags say so: one ListRoleTags / ListUserTags per such name,
the one cost that grows with the deployments (two requests each, read concurrently). Each
deployment's recorded rows of those kinds are looked up in what came back; the rows that belong to one of them (the
policies, the database user) go with it and are not read.
Deployment names seen in AWS with no state file here are listed too. Whatever AWS returns is untrusted: a name
that is not a valid deployment name is ignored.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from xacct_dataapi.aws import Sessions, is_access_denied
from xacct_dataapi.config import NAME_RE, TAG_DEPLOYMENT, TAG_MANAGED, Names
from xacct_dataapi.errors import AwsError, error_message
from xacct_dataapi.models import Account
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.resource_types.base import read_or_none, tagged_for, tags_of
from xacct_dataapi.resource_types.grants import CONSUMER_USER, C, Grant, P
from xacct_dataapi.resource_types.rds import TAG_ENABLED_BY as ENABLED_BY

CHECKED = ("kms_key", "kms_alias", "secret", "data_api", "iam_role", "iam_user", "security_group", "vpc_endpoint")
RESOURCES_PER_PAGE = 100  # GetResources: at most 100 (docs/aws-facts.md)
ALIASES_PER_PAGE = 100  # ListAliases: Limit at most 100
SECRETS_PER_PAGE = 100  # ListSecrets: MaxResults at most 100
EC2_PAGE = 1000  # DescribeSecurityGroups / DescribeVpcEndpoints: MaxResults at most 1,000
IAM_PAGE = {"PageSize": 1000}  # ListRoles / ListUsers: MaxItems at most 1,000 (default 100)
TAG_READS = 16  # ListRoleTags / ListUserTags in flight at once: one per candidate, kept under IAM's request rate

LIST = ("list",)
# In Inventory.found, a role or user whose tags the operator may not read (a policy narrowed with --name): whose it is
# is unknown, so a row naming it is neither present nor missing but unchecked. Never a deployment name (NAME_RE).
UNREADABLE = "?"
# The operator's IAM grants for these reads (permissions.py assembles them). Statements of their own, although
# setup and teardown's statements hold some of the same actions: what `list --refresh` needs stays in one place.
GRANTS: tuple[Grant, ...] = (
    Grant("ListXacctResources", P, {"tag:GetResources": LIST, "iam:ListRoles": LIST, "kms:ListAliases": LIST,
                                    "secretsmanager:ListSecrets": LIST}, ("*",),
          why_star="These List actions have no resource type: `list --refresh` reads the keys and clusters xacct "
                   "tagged, the aliases, the tagged secrets, and the access roles under `/xacct/REGION/`."),
    Grant("ListXacctConsumerResources", C,
          {"ec2:DescribeSecurityGroups": LIST, "ec2:DescribeVpcEndpoints": LIST, "iam:ListUsers": LIST}, ("*",),
          why_star="These Describe and List actions have no resource type: `list --refresh` reads the groups and "
                   "endpoints tagged `xacct:managed-by`, and the account's users (xacct's sit at `/`)."),
    # The tags of each role and user named like xacct's (ListRoles and ListUsers return none): whose it is. An access
    # role on any cluster of the region (all of them under /xacct/REGION/); --name narrows both to that deployment's.
    Grant("ReadTagsOfXacctRoles", P, {"iam:ListRoleTags": LIST},
          ("arn:{p}:iam::{provider}:role/xacct/{region}/*/xacct-{name}-data-api-access",)),
    Grant("ReadTagsOfXacctUsers", C, {"iam:ListUserTags": LIST}, (CONSUMER_USER,)),
)


@dataclass
class Inventory:
    """What one pair of accounts holds: per checked kind, resource id -> the deployment it is tagged or named for
    ("" when AWS names none, e.g. the shared endpoint)."""

    accounts: dict[str, str]
    found: dict[str, dict[str, str]] = field(default_factory=dict)

    def names(self) -> set[str]:
        return {name for ids in self.found.values() for name in ids.values() if name and name != UNREADABLE}

    def kinds_of(self, name: str) -> list[str]:
        return [kind for kind in CHECKED if name in self.found.get(kind, {}).values()]


def _valid(name: str | None) -> str:
    return name if name and NAME_RE.match(name) else ""


def _pages(client, operation: str, key: str, **kwargs) -> list[dict]:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]


def _tagged(aws: Sessions, filters: list[dict], types: list[str]) -> list[tuple[str, dict[str, str]]]:
    items = _pages(aws.client(Account.PROVIDER, "resourcegroupstaggingapi"), "get_resources", "ResourceTagMappingList",
                   TagFilters=filters, ResourceTypeFilters=types, ResourcesPerPage=RESOURCES_PER_PAGE)
    return [(m["ResourceARN"], tags_of(m.get("Tags"))) for m in items]


def _keys(aws: Sessions) -> dict[str, dict[str, str]]:
    """Keys tagged for a deployment that its alias still names: teardown deletes the alias and schedules the key's
    deletion, but leaves the key its tag (resource_types/kms.py), and GetResources says nothing of a key's state."""
    tagged, aliases = gather(
        lambda: _tagged(aws, [{"Key": TAG_MANAGED, "Values": ["xacct"]}], ["kms:key"]),
        lambda: _pages(aws.client(Account.PROVIDER, "kms"), "list_aliases", "Aliases", Limit=ALIASES_PER_PAGE))
    named = {a.get("AliasName") or "": a.get("TargetKeyId") for a in unwrap(aliases)}
    tagged_for = {arn.rsplit("/", 1)[-1]: _valid(tags.get(TAG_DEPLOYMENT)) for arn, tags in unwrap(tagged)}
    keys = {key_id: name for key_id, name in tagged_for.items() if name and named.get(Names(name).key_alias) == key_id}
    # An alias is a deployment's as KMS shows it (KmsAlias.judge): in its namespace and pointing at a key tagged for
    # it; anyone may name an alias `alias/xacct-ghost`, and a step may add one under `alias/xacct-NAME/`.
    owners = {alias: tagged_for.get(target) for alias, target in named.items()}
    return {"kms_key": keys,
            "kms_alias": {alias: name for alias, name in owners.items() if name and Names(name).owns_alias(alias)}}


def _secrets(aws: Sessions) -> dict[str, dict[str, str]]:
    """ListSecrets leaves out the secrets scheduled for deletion (teardown's, unless --secret-recovery-days 0)."""
    found = _pages(aws.client(Account.PROVIDER, "secretsmanager"), "list_secrets", "SecretList",
                   Filters=[{"Key": "tag-key", "Values": [TAG_DEPLOYMENT]}], MaxResults=SECRETS_PER_PAGE)
    named = [(s.get("Name"), _valid(tags_of(s.get("Tags")).get(TAG_DEPLOYMENT))) for s in found]
    return {"secret": {secret: name for secret, name in named if name and secret == Names(name).secret}}


def _clusters(aws: Sessions) -> dict[str, dict[str, str]]:
    found = _tagged(aws, [{"Key": ENABLED_BY}], ["rds:cluster"])
    return {"data_api": {arn.rsplit(":", 1)[1]: _valid(tags.get(ENABLED_BY)) for arn, tags in found}}


def _named_for(items: list[dict], key: str, deployment_of) -> dict[str, str]:
    """name -> the deployment it is named for (Names' inverse of the name xacct gives), for the names that are one."""
    named = [(item.get(key) or "", _valid(deployment_of(item.get(key) or ""))) for item in items]
    return {value: name for value, name in named if name}


def _tagged_for_their_name(iam, entity: str, named: dict[str, str]) -> dict[str, str]:
    """The principals of `named` (name -> the deployment it is named for) that AWS shows as that deployment's: tagged
    xacct:deployment=it and xacct:managed-by=xacct (resource_types/iam.py judges a row the same way). Anyone may
    create a role or user of xacct's name. ListRoles and ListUsers return no tags, and GetResources does not cover
    IAM roles and users (docs/aws-facts.md), so each candidate costs one ListRoleTags / ListUserTags (at most 50
    tags: one page), TAG_READS at a time. One gone since the listing is left out; one whose tags the operator may
    not read is UNREADABLE."""
    names = sorted(named)
    tags: dict[str, dict[str, str] | str | None] = {}
    for start in range(0, len(names), TAG_READS):
        batch = names[start:start + TAG_READS]
        results = gather(*[lambda n=n: _tags_or_none(iam, entity, n) for n in batch])
        tags.update(zip(batch, [unwrap(r) for r in results]))
    return {n: UNREADABLE if tags[n] == UNREADABLE else named[n] for n in names
            if tags[n] is not None and (tags[n] == UNREADABLE or tagged_for(tags[n], named[n]))}


def _tags_or_none(iam, entity: str, name: str) -> dict[str, str] | str | None:
    """Its tags; None when it is gone; UNREADABLE when the operator may not read them (a policy narrowed with --name
    reads its own deployment's alone)."""
    try:
        found = read_or_none(getattr(iam, f"list_{entity}_tags"), **{f"{entity.title()}Name": name})
    except ClientError as exc:
        if is_access_denied(exc):
            return UNREADABLE
        raise
    return None if found is None else tags_of(found.get("Tags"))


def _roles(aws: Sessions) -> dict[str, dict[str, str]]:
    iam = aws.client(Account.PROVIDER, "iam")
    roles = _pages(iam, "list_roles", "Roles", PathPrefix=f"/xacct/{aws.region}/", PaginationConfig=IAM_PAGE)
    return {"iam_role": _tagged_for_their_name(iam, "role", _named_for(roles, "RoleName",
                                                                      Names.deployment_of_access_role))}


def _users(aws: Sessions) -> dict[str, dict[str, str]]:
    iam = aws.client(Account.CONSUMER, "iam")
    # xacct makes its users at `/` (and the operator may read the tags of `user/xacct-*` alone): one elsewhere is not.
    users = [u for u in _pages(iam, "list_users", "Users", PaginationConfig=IAM_PAGE) if u.get("Path") == "/"]
    return {"iam_user": _tagged_for_their_name(iam, "user", _named_for(users, "UserName",
                                                                      Names.deployment_of_consumer_user))}


def _ec2(aws: Sessions) -> dict[str, dict[str, str]]:
    ec2, managed = aws.client(Account.CONSUMER, "ec2"), [{"Name": f"tag:{TAG_MANAGED}", "Values": ["xacct"]}]
    groups, endpoints = gather(
        lambda: _pages(ec2, "describe_security_groups", "SecurityGroups", Filters=managed, MaxResults=EC2_PAGE),
        lambda: _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=managed, MaxResults=EC2_PAGE))
    return {"security_group": {g["GroupId"]: _valid(tags_of(g.get("Tags")).get(TAG_DEPLOYMENT)) for g in unwrap(groups)},
            # Shared by every member: present for each member that records it, named for none.
            "vpc_endpoint": {e["VpcEndpointId"]: "" for e in unwrap(endpoints)
                             if e.get("State", "").lower() not in ("deleted", "deleting")}}


def read_inventory(aws: Sessions, what: str) -> Inventory:
    """Every listing call for one pair of accounts, at once. `what` names the pair in an error."""
    results = gather(lambda: aws.account_id(Account.CONSUMER), lambda: aws.account_id(Account.PROVIDER),
                     lambda: _keys(aws), lambda: _secrets(aws), lambda: _clusters(aws), lambda: _roles(aws),
                     lambda: _users(aws), lambda: _ec2(aws))
    for _, exc in results:
        if isinstance(exc, ClientError):
            raise AwsError(f"list --refresh ({what}): AWS refused a listing call: {error_message(exc)}.",
                           "Give the profile the reads of `xacct permissions --side consumer|provider --for list`.")
    consumer, provider, *parts = [unwrap(r) for r in results]
    inventory = Inventory({"consumer": consumer, "provider": provider})
    for part in parts:
        inventory.found.update(part)
    return inventory


def compare(deployment: dict, rows: list[tuple[str, str]], inventory: Inventory) -> dict:
    """What AWS shows of one deployment's recorded rows (kind, id) of the checked kinds."""
    recorded = {"consumer": deployment.get("consumer"), "provider": deployment.get("provider")}
    if recorded != inventory.accounts:
        return {"checked": False, "why": f"the profiles now reach accounts {inventory.accounts}, the state records "
                                         f"{recorded}"}
    present, missing, unchecked = [], [], []
    for kind, rid in rows:
        if kind in CHECKED:
            owner = inventory.found.get(kind, {}).get(rid)
            (unchecked if owner == UNREADABLE else present if owner is not None else missing).append(kind)
    return {"checked": True, "present": present, "missing": missing, **({"unchecked": unchecked} if unchecked else {})}


def refresh(listed: list[tuple[dict, list[tuple[str, str]], tuple]]) -> list[dict]:
    """`listed`: (entry, its recorded rows (kind, id), (consumer profile, provider profile, region)) per state file.
    Each entry gains `aws` (what AWS shows of it); the deployments AWS shows with no state file are appended."""
    pairs = sorted({where for _, _, where in listed}, key=str)
    results = gather(*[lambda where=where: read_inventory(Sessions.from_profiles(*where), _describe(where))
                       for where in pairs])
    inventories = dict(zip(pairs, [unwrap(r) for r in results]))
    out = []
    for entry, rows, where in listed:
        out.append({**entry, "aws": compare(entry, rows, inventories[where])})
    for where, inventory in inventories.items():
        known = {entry["name"] for entry, _, w in listed if w == where}
        for name in sorted(inventory.names() - known):
            out.append({"name": name, "state_file": None, "region": where[2], **inventory.accounts,
                        "summary": "no state file here", "aws": {"checked": True, "present": inventory.kinds_of(name),
                                                                 "missing": []}})
    return out


def _describe(where: tuple) -> str:
    consumer, provider, region = where
    return f"--consumer-profile {consumer}, --provider-profile {provider}, region {region}"
