"""The acceptance sweeper (as terraform-provider-aws's sweepers): find what acceptance runs left, by their tag, and
delete it — only what carries the tag, read again right before each delete.

    python -m tests.acceptance.sweeper [--run-id ID | --all] [--yes]

Real AWS with the XACCT_ACC variables (docs/aws-acceptance.md); a running sandbox with XACCT_ACC_SANDBOX=DIR.
Order: each run's xacct deployments first (`xacct teardown` by name: xacct finds its own resources by name and
tag and deletes only what AWS shows is theirs), then the IAM users, roles and policies, the writer and the cluster
(botocore waiters until gone), the subnets and the VPCs.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Callable

from botocore.exceptions import ClientError

from tests.acceptance.leftovers import deployments_left
from tests.acceptance.world import IAM_PATH, TAG, deployment_names
from tests.helpers.inventory import tags_of as _tags

GONE = ("NotFound", "NoSuchEntity", "DBClusterNotFoundFault", "DBInstanceNotFound", "InvalidVpcID.NotFound",
        "InvalidSubnetID.NotFound")


def _gone(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in GONE or code.endswith(".NotFound")


# Not yet: a subnet whose endpoint's network interfaces AWS has not released, a cluster or writer still being
# created (a run killed early) or modified.
BUSY = ("DependencyViolation", "InvalidDBClusterStateFault", "InvalidDBInstanceState")


def until_released(delete: Callable[[], None], patience: float, pause: float = 15.0) -> None:
    """delete(), again while AWS answers that the resource is still in use or busy, for up to `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return delete()
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in BUSY or time.monotonic() > deadline:
                raise
            time.sleep(min(pause, patience / 10))


@dataclass(frozen=True)
class Kind:
    """One kind of tagged resource: how to list it with its tags, read one's tags again, and delete it."""

    name: str
    side: str  # consumer | provider | both
    service: str
    listing: Callable  # client -> [(id, tags)]
    tags_of: Callable  # client, id -> tags (re-read before the delete)
    delete: Callable  # client, id, waits -> None


def _iam_list(kind: str):
    operation, key, ident = {"policy": ("list_policies", "Policies", "Arn"),
                             "role": ("list_roles", "Roles", "RoleName"),
                             "user": ("list_users", "Users", "UserName")}[kind]
    # The roles and policies live under the acceptance path; the application's user at `/` (as an adopted user would:
    # xacct's generated grant names a user without a path), so users are read by name first, then by tag.
    scope = {"policy": {"Scope": "Local", "PathPrefix": IAM_PATH}, "role": {"PathPrefix": IAM_PATH}, "user": {}}[kind]

    def listing(iam):
        items = [item for page in iam.get_paginator(operation).paginate(**scope) for item in page[key]]
        return [(item[ident], _iam_tags(kind)(iam, item[ident])) for item in items
                if kind != "user" or item[ident].startswith("acc-")]
    return listing


def _iam_tags(kind: str):
    def tags_of(iam, ident):
        arg = {"policy": "PolicyArn", "role": "RoleName", "user": "UserName"}[kind]
        return _tags(getattr(iam, f"list_{kind}_tags")(**{arg: ident})["Tags"])
    return tags_of


def _delete_user(iam, name, _waits) -> None:
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    _detach_and_delete(iam, "user", name)


def _delete_role(iam, name, _waits) -> None:
    _detach_and_delete(iam, "role", name)


def _detach_and_delete(iam, kind, name) -> None:
    arg = {"role": "RoleName", "user": "UserName"}[kind]
    for policy in getattr(iam, f"list_attached_{kind}_policies")(**{arg: name})["AttachedPolicies"]:
        getattr(iam, f"detach_{kind}_policy")(**{arg: name, "PolicyArn": policy["PolicyArn"]})
    for policy_name in getattr(iam, f"list_{kind}_policies")(**{arg: name})["PolicyNames"]:
        getattr(iam, f"delete_{kind}_policy")(**{arg: name, "PolicyName": policy_name})
    getattr(iam, f"delete_{kind}")(**{arg: name})


def _delete_policy(iam, arn, _waits) -> None:
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=arn)


def _rds(kind: str):
    noun, key = ("DBCluster", "DBClusters") if kind == "cluster" else ("DBInstance", "DBInstances")
    ident = f"{noun}Identifier"

    def listing(rds):
        pager = rds.get_paginator(f"describe_db_{kind}s")
        return [(item[ident], _tags(item.get("TagList"))) for page in pager.paginate() for item in page[key]
                if item.get("Status") != "deleting"]

    def tags_of(rds, name):
        return _tags(getattr(rds, f"describe_db_{kind}s")(**{ident: name})[key][0].get("TagList"))

    def delete(rds, name, waits):
        getattr(rds, f"delete_db_{kind}")(**{ident: name, "SkipFinalSnapshot": True})
        rds.get_waiter(f"db_{kind}_deleted").wait(**{ident: name, "WaiterConfig": waits})

    return listing, tags_of, delete


def _ec2(kind: str):
    key, ident = {"subnet": ("Subnets", "SubnetId"), "vpc": ("Vpcs", "VpcId")}[kind]

    def listing(ec2):
        found = getattr(ec2, f"describe_{kind}s")(Filters=[{"Name": "tag-key", "Values": [TAG]}])[key]
        return [(item[ident], _tags(item.get("Tags"))) for item in found]

    def tags_of(ec2, rid):
        return _tags(getattr(ec2, f"describe_{kind}s")(**{f"{ident}s": [rid]})[key][0].get("Tags"))

    def delete(ec2, rid, _waits):
        getattr(ec2, f"delete_{kind}")(**{ident: rid})

    return listing, tags_of, delete


# Dependents before what they depend on: the user's key and the roles' policies, the writer before its cluster,
# subnets before their VPC.
KINDS = (
    Kind("iam user", "consumer", "iam", _iam_list("user"), _iam_tags("user"), _delete_user),
    Kind("iam role", "both", "iam", _iam_list("role"), _iam_tags("role"), _delete_role),
    Kind("iam policy", "both", "iam", _iam_list("policy"), _iam_tags("policy"), _delete_policy),
    Kind("db instance", "provider", "rds", *_rds("instance")),
    Kind("db cluster", "provider", "rds", *_rds("cluster")),
    Kind("subnet", "consumer", "ec2", *_ec2("subnet")),
    Kind("vpc", "consumer", "ec2", *_ec2("vpc")),
)


def _clients(target, kind: Kind) -> list[tuple[str, object]]:
    sides = ("consumer", "provider") if kind.side == "both" else (kind.side,)
    return [(side, target.client(target.consumer_profile if side == "consumer" else target.provider_profile,
                                 kind.service)) for side in sides]


def inventory(target, run_id: str | None = None) -> list[str]:
    """Everything carrying the acceptance tag (of one run, or of any), as 'side kind id (tag value)'."""
    found = []
    for kind in KINDS:
        for side, client in _clients(target, kind):
            for rid, tags in kind.listing(client):
                if TAG in tags and (run_id is None or tags[TAG] == run_id):
                    found.append(f"{side} {kind.name} {rid} ({TAG}={tags[TAG]})")
    return found


def sweep(target, run_id: str | None = None, say: Callable[[str], None] = print) -> dict:
    """Delete every resource tagged with the acceptance tag (of run_id, or of any run), after tearing down each
    run's xacct deployments. Returns {"deleted": [...], "kept": [...], "failed": [...]}."""
    waits = {"Delay": 30, "MaxAttempts": 60} if target.aws else {"Delay": 1, "MaxAttempts": 30}
    report: dict[str, list[str]] = {"deleted": [], "kept": [], "failed": []}
    found = [(kind, side, client, rid, tags[TAG]) for kind in KINDS for side, client in _clients(target, kind)
             for rid, tags in kind.listing(client) if TAG in tags and (run_id is None or tags[TAG] == run_id)]
    for run in sorted({value for *_, value in found} | ({run_id} if run_id else set())):
        left = deployments_left(target, deployment_names(run))
        for name in sorted(left):
            res = target.xacct("teardown", "--name", name, "--yes", "--consumer-profile", target.consumer_profile,
                               "--provider-profile", target.provider_profile, "--region", target.region, code=None)
            say(f"xacct teardown --name {name}: exit {res.returncode}")
            if res.returncode not in (0,):
                report["failed"].append(f"xacct deployment {name}: {(res.stderr or res.stdout).strip()[-300:]}")
    for kind, side, client, rid, value in found:
        what = f"{side} {kind.name} {rid}"
        try:
            if kind.tags_of(client, rid).get(TAG) != value:  # read again: untagged since, or another run's now
                report["kept"].append(f"{what}: no longer tagged {TAG}={value}")
                continue
            until_released(lambda: kind.delete(client, rid, waits), patience=1800 if target.aws else 5)
            report["deleted"].append(what)
            say(f"deleted {what}")
        except ClientError as e:
            if _gone(e):
                report["deleted"].append(f"{what} (already gone)")
            else:
                report["failed"].append(f"{what}: {e}")
                say(f"could not delete {what}: {e}")
    return report


def main(argv: list[str] | None = None) -> int:
    from tests.acceptance.__main__ import target_from_environment

    parser = argparse.ArgumentParser(prog="python -m tests.acceptance.sweeper", description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id", help="sweep one run's resources (the value of its xacct-acceptance tag)")
    which.add_argument("--all", action="store_true", help="sweep every acceptance run's resources")
    parser.add_argument("--yes", action="store_true", help="delete without asking")
    args = parser.parse_args(argv)
    with target_from_environment(need_existing_sandbox=True) as target:
        left = inventory(target, args.run_id)
        print("\n".join(left) or "Nothing tagged xacct-acceptance was found.")
        if not args.yes and left and input("Delete all of it (and the runs' xacct deployments)? [y/N] ").lower() != "y":
            return 1
        report = sweep(target, args.run_id)
    for line in report["kept"] + report["failed"]:
        print(line, file=sys.stderr)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
