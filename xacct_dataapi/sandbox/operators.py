"""The sandbox's least-privilege operators: in each account a user `xacct-operator` whose only policies are exactly
what `xacct permissions --side SIDE --for all` prints for the sandbox's accounts, region, cluster and VPC, reached
through the profiles OPERATOR_CONSUMER_PROFILE / OPERATOR_PROVIDER_PROFILE (its VPC and the default VPC: `--vpc A,B`,
so the move `sandbox up` offers is within them). The sandbox evaluates them as AWS does
(authz/), so a call xacct makes that the generated policy does not allow fails there as it would on AWS.

The policies are attached as customer-managed policies, as an administrator would on AWS: an inline user policy holds
2,048 characters, a managed policy 6,144, and a user at most 10 attached managed policies (IAM quotas, which the
sandbox enforces: limits.py). `grant()` replaces them (a few IAM calls): a test narrows the operator to one command's
policy, one deployment's --name or an adopted principal without another sandbox.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from xacct_dataapi.sandbox.info import (CONSUMER_PROFILE, OPERATOR_CONSUMER_PROFILE, OPERATOR_PROVIDER_PROFILE,
                                        PROVIDER_PROFILE)

OPERATOR_USER = "xacct-operator"
POLICY_PREFIX = "xacct-generated"
MANAGED_POLICY_CHARS = 6144  # IAM quota: a managed policy document, whitespace excluded
ATTACHED_PER_USER = 10  # IAM quota: managed policies attached to one user
# side -> (the admin profile that sets the operator up, the operator's profile)
PROFILES = {"consumer": (CONSUMER_PROFILE, OPERATOR_CONSUMER_PROFILE),
            "provider": (PROVIDER_PROFILE, OPERATOR_PROVIDER_PROFILE)}


def managed_policy_documents(doc: dict) -> list[dict]:
    """The policy's statements packed, in order, into as few managed-policy documents as fit IAM's size quota."""
    chunks: list[list[dict]] = []
    for statement in doc["Statement"]:
        candidate = [*(chunks[-1] if chunks else []), statement]
        if not chunks or len(_compact({"Version": doc["Version"], "Statement": candidate})) > MANAGED_POLICY_CHARS:
            chunks.append([statement])
        else:
            chunks[-1] = candidate
    if len(chunks) > ATTACHED_PER_USER:
        raise ValueError(f"the generated policy needs {len(chunks)} managed policies; a user holds {ATTACHED_PER_USER}")
    return [{"Version": doc["Version"], "Statement": statements} for statements in chunks]


def _compact(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


def attach(iam: Any, doc: dict, user: str = OPERATOR_USER) -> list[str]:
    """Replace the user's generated managed policies by `doc`'s (the ARNs attached). Policies not made here stay."""
    for attached in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]:
        if attached["PolicyName"].startswith(POLICY_PREFIX):
            iam.detach_user_policy(UserName=user, PolicyArn=attached["PolicyArn"])
            iam.delete_policy(PolicyArn=attached["PolicyArn"])
    arns = []
    batch = uuid.uuid4().hex[:8]  # a replaced policy's name may still be in use while IAM deletes it
    for n, part in enumerate(managed_policy_documents(doc)):
        arn = iam.create_policy(PolicyName=f"{POLICY_PREFIX}-{batch}-{n}", PolicyDocument=_compact(part))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
        arns.append(arn)
    return arns


def generated_policy(side: str, *, region: str, provider: str, consumer: str, cluster: str, vpc: str,
                     command: str = "all", name: str = "*", consumer_user: str | None = None,
                     consumer_role: str | None = None, create_db_user: bool = False,
                     state_bucket: str | None = None, role_arn: str | None = None,
                     secret_arn: str | None = None) -> dict:
    """Exactly what `xacct permissions --side SIDE --for COMMAND --name NAME ...` prints for these values."""
    from xacct_dataapi import permissions

    return permissions.policy_for_cli(side, command, name=name, region=region, provider=provider, consumer=consumer,
                                      cluster=cluster, vpc=vpc, consumer_user=consumer_user,
                                      consumer_role=consumer_role, create_db_user=create_db_user or None,
                                      state_bucket=state_bucket, role_arn=role_arn, secret_arn=secret_arn)


def create(iam_by_side: dict[str, Any], **scope: Any) -> dict[str, tuple[str, str]]:
    """Make the operator user in each account (`iam_by_side`: an admin IAM client per side) with the generated
    policies for `scope` (generated_policy's keywords); returns each operator profile's (key id, secret)."""
    keys = {}
    for side, iam in iam_by_side.items():
        iam.create_user(UserName=OPERATOR_USER, Tags=[{"Key": "xacct:sandbox", "Value": "operator"}])
        attach(iam, generated_policy(side, **scope))
        key = iam.create_access_key(UserName=OPERATOR_USER)["AccessKey"]
        keys[PROFILES[side][1]] = (key["AccessKeyId"], key["SecretAccessKey"])
    return keys


def default_vpc(ec2: Any) -> dict | None:
    """The consumer account's default VPC (the second VPC `sandbox up` offers for a move), or None."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    return vpcs[0] if vpcs else None


def vpcs_of(ec2: Any, vpc_id: str) -> str:
    """The operators' `--vpc`: the sandbox's VPC and, if the account has one, its default VPC, joined by a comma."""
    default = default_vpc(ec2)
    return ",".join([vpc_id, *([default["VpcId"]] if default else [])])


def grant(info: Any, command: str = "all", name: str = "*", *, consumer_user: str | None = None,
          consumer_role: str | None = None, create_db_user: bool = False) -> dict[str, dict]:
    """Give a running sandbox's operators exactly `xacct permissions --for COMMAND --name NAME [--consumer-user U]
    [--consumer-role R] --state-bucket TEAM_STATE` (through the admin profiles); returns each side's policy."""
    from xacct_dataapi.sandbox.info import botocore_session, client_config

    docs = {}
    consumer = botocore_session(info.config_file, info.credentials_file, PROFILES["consumer"][0])
    vpcs = vpcs_of(consumer.create_client("ec2", region_name=info.region, endpoint_url=info.endpoint_url,
                                          config=client_config()), info.vpc_id)
    for side, (admin, _operator) in PROFILES.items():
        session = botocore_session(info.config_file, info.credentials_file, admin)
        iam = session.create_client("iam", region_name=info.region, endpoint_url=info.endpoint_url,
                                    config=client_config())
        docs[side] = generated_policy(side, region=info.region, provider=info.provider_account,
                                      consumer=info.consumer_account, cluster=info.cluster_id, vpc=vpcs,
                                      command=command, name=name, consumer_user=consumer_user,
                                      consumer_role=consumer_role, create_db_user=create_db_user,
                                      state_bucket=getattr(info, "team_state", "") or None)
        attach(iam, docs[side])
    return docs
