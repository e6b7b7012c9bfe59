"""The acceptance suite's throwaway world: what xacct needs and nothing else, every piece tagged
`xacct-acceptance=<run id>`, built with the target's administrator profiles and deleted by the sweeper (the one
deletion path, so a failed or killed run is cleaned exactly as a finished one).

Consumer account: two VPCs (DNS on) with two private subnets each (no internet gateway, no route out), the
application's IAM user and its access key, and an operator role. Provider account: an Aurora Serverless v2
PostgreSQL cluster at minimum capacity with its db.serverless writer and the Data API on, and an operator role. Each
operator role holds exactly `xacct permissions --side SIDE --for all` for this world (both VPCs), nothing else: the
suite runs xacct as those operators.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from xacct_dataapi import permissions
from xacct_dataapi.cost import HOURS_PER_MONTH, PRICES, PRICES_AS_OF, PRICES_REGION
from xacct_dataapi.preflight import partition_for_region

TAG = "xacct-acceptance"
IAM_PATH = "/xacct-acceptance/"
VPC_CIDRS = ("10.61.0.0/16", "10.62.0.0/16")
DATABASE = "app"
MASTER_USER = "acc_admin"
# The Data API serves Aurora PostgreSQL Serverless v2 from 13.11/14.8/15.3/16.1 on (docs/aws-facts.md).
# XACCT_ACC_ENGINE_VERSION picks another where 16.4 is not offered (or no longer).
ENGINE, ENGINE_VERSION = "aurora-postgresql", os.environ.get("XACCT_ACC_ENGINE_VERSION") or "16.4"
MIN_ACU, MAX_ACU = 0.5, 1.0
# https://aws.amazon.com/rds/aurora/pricing/ (us-east-1, Aurora Standard): per ACU-hour of Serverless v2.
ACU_HOUR_USD = 0.12
EXPECTED_MINUTES = (35, 60)  # cluster and writer ~15, two endpoints ~5, teardowns and deletions ~15-30
MANAGED_POLICY_CHARS = 6000  # IAM: a managed policy holds 6,144 characters; a role takes 10 attached by default


@dataclass
class Built:
    """What create() made (also found again by the sweeper through the tag)."""

    consumer_account: str = ""
    provider_account: str = ""
    vpcs: list[tuple[str, list[str]]] = field(default_factory=list)  # (vpc id, its two subnet ids)
    cluster_arn: str = ""
    operator_profiles: dict[str, str] = field(default_factory=dict)  # side -> profile in the suite's config
    app_profile: str = ""


class World:
    def __init__(self, target, run_id: str) -> None:
        self.target, self.run_id = target, run_id
        self.prefix = f"acc-{run_id}"
        self.app_user, self.operator_role = f"{self.prefix}-app", f"{self.prefix}-operator"
        self.cluster_id, self.writer_id = f"{self.prefix}-aurora", f"{self.prefix}-writer"
        self.deployments = deployment_names(run_id)
        self.built = Built()
        # The DB login the secret will hold: the sandbox's seeded user, or this cluster's master (never written down).
        self.db_user, self.db_password = target.db_login or (MASTER_USER, secrets.token_urlsafe(24))

    def tags(self) -> list[dict[str, str]]:
        return [{"Key": TAG, "Value": self.run_id}, {"Key": "Name", "Value": self.prefix}]

    # -- before anything is made -------------------------------------------------------------------------------

    def plan(self) -> str:
        """What create() will make, how long the run takes and what it costs: printed before asking."""
        low, high = EXPECTED_MINUTES
        return "\n".join([
            f"The acceptance run {self.run_id} creates, each tagged {TAG}={self.run_id}:",
            f"  consumer ({self.target.consumer_profile}): 2 VPCs ({', '.join(VPC_CIDRS)}) with 2 private subnets "
            f"each; IAM user {self.app_user} with an access key; role {self.operator_role} (xacct permissions)",
            f"  provider ({self.target.provider_profile}): Aurora Serverless v2 {ENGINE} {ENGINE_VERSION} cluster "
            f"{self.cluster_id} ({MIN_ACU}-{MAX_ACU} ACU, Data API on) with writer {self.writer_id}; "
            f"role {self.operator_role}",
            f"  then, through xacct: deployments {' and '.join(self.deployments)} (a key, a secret, roles and one "
            "rds-data endpoint in 2 AZs per VPC used), all torn down",
            f"Region {self.target.region}. Expected time: {low}-{high} minutes.",
            f"Cost: {estimate(high / 60)}",
            "Everything is deleted at the end, also on failure; `python -m tests.acceptance.sweeper` removes "
            "what a killed run left.",
        ])

    # -- create ---------------------------------------------------------------------------------------------------

    def create(self, progress=lambda _: None) -> Built:
        consumer = self.target.session(self.target.consumer_profile)
        provider = self.target.session(self.target.provider_profile)
        self.built.consumer_account = consumer.client("sts").get_caller_identity()["Account"]
        self.built.provider_account = provider.client("sts").get_caller_identity()["Account"]
        self._create_cluster(provider.client("rds"))  # the slowest first; the VPCs are made while it comes up
        self._create_vpcs(consumer.client("ec2"))
        self._create_app_user(consumer.client("iam"))
        self._wait_for_cluster(provider.client("rds"))
        progress("world")
        for side, session in (("consumer", consumer), ("provider", provider)):
            self._create_operator(side, session.client("iam"))
        self._wait_until_usable([*self.built.operator_profiles.values(), self.built.app_profile])
        progress("operators")
        return self.built

    def _create_vpcs(self, ec2) -> None:
        zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]
                 if z.get("State", "available") == "available"
                 and z.get("ZoneType", "availability-zone") == "availability-zone"]  # not Local or Wavelength Zones
        for n, cidr in enumerate(VPC_CIDRS):
            spec = lambda kind: [{"ResourceType": kind, "Tags": self.tags()}]  # noqa: E731
            vpc_id = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=spec("vpc"))["Vpc"]["VpcId"]
            self.built.vpcs.append((vpc_id, []))
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})  # the endpoint's private DNS
            base = cidr.split(".")
            for k, zone in enumerate(zones[:2]):
                subnet = ec2.create_subnet(VpcId=vpc_id, AvailabilityZone=zone, TagSpecifications=spec("subnet"),
                                           CidrBlock=f"{base[0]}.{base[1]}.{k + 1}.0/24")["Subnet"]["SubnetId"]
                self.built.vpcs[n][1].append(subnet)

    def _create_app_user(self, iam) -> None:
        """The application: its own IAM user (adopted by the first deployment with --consumer-user)."""
        iam.create_user(UserName=self.app_user, Tags=self.tags())  # at `/`: see sweeper._iam_list
        key = iam.create_access_key(UserName=self.app_user)["AccessKey"]
        self.built.app_profile = f"{self.prefix}-app"
        self.target.add_profile(self.built.app_profile, {"aws_access_key_id": key["AccessKeyId"],
                                                         "aws_secret_access_key": key["SecretAccessKey"]})

    def _create_cluster(self, rds) -> None:
        rds.create_db_cluster(
            DBClusterIdentifier=self.cluster_id, Engine=ENGINE, EngineVersion=ENGINE_VERSION,
            ServerlessV2ScalingConfiguration={"MinCapacity": MIN_ACU, "MaxCapacity": MAX_ACU},
            MasterUsername=self.db_user if self.target.aws else MASTER_USER, MasterUserPassword=self.db_password,
            DatabaseName=DATABASE, StorageEncrypted=True, DeletionProtection=False, BackupRetentionPeriod=1,
            Tags=self.tags())
        rds.create_db_instance(DBInstanceIdentifier=self.writer_id, DBClusterIdentifier=self.cluster_id,
                               Engine=ENGINE, DBInstanceClass="db.serverless", Tags=self.tags())

    def _wait_for_cluster(self, rds) -> None:
        rds.get_waiter("db_cluster_available").wait(DBClusterIdentifier=self.cluster_id, WaiterConfig=self.waits())
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=self.writer_id, WaiterConfig=self.waits())
        cluster = rds.describe_db_clusters(DBClusterIdentifier=self.cluster_id)["DBClusters"][0]
        self.built.cluster_arn = cluster["DBClusterArn"]
        if not cluster.get("HttpEndpointEnabled"):
            rds.enable_http_endpoint(ResourceArn=self.built.cluster_arn)

    def waits(self) -> dict:
        """botocore waiter settings: AWS takes minutes (a Serverless v2 writer ~10), the sandbox none."""
        return {"Delay": 30, "MaxAttempts": 60} if self.target.aws else {"Delay": 1, "MaxAttempts": 30}

    def operator_policy(self, side: str) -> dict:
        """`xacct permissions --side SIDE --for all` for this world, once per VPC (setup moves between them),
        merged: the statements that name a VPC list both."""
        docs = [permissions.policy_for_cli(side, "all", region=self.target.region, cluster=self.cluster_id,
                                           provider=self.built.provider_account, vpc=vpc_id,
                                           consumer=self.built.consumer_account, consumer_user=self.app_user)
                for vpc_id, _ in self.built.vpcs]
        return merge_policies(docs)

    def _create_operator(self, side: str, iam) -> None:
        account = self.built.consumer_account if side == "consumer" else self.built.provider_account
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": f"arn:{partition_for_region(self.target.region)}:iam::{account}:root"}}]}
        role = iam.create_role(RoleName=self.operator_role, Path=IAM_PATH, Tags=self.tags(),
                               AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        for n, statements in enumerate(policy_chunks(self.operator_policy(side))):
            doc = {"Version": permissions.VERSION, "Statement": statements}
            arn = iam.create_policy(PolicyName=f"{self.operator_role}-{side}-{n}", Path=IAM_PATH, Tags=self.tags(),
                                    PolicyDocument=json.dumps(doc, separators=(",", ":")))["Policy"]["Arn"]
            iam.attach_role_policy(RoleName=self.operator_role, PolicyArn=arn)
        profile = f"{self.prefix}-op-{side}"
        admin = self.target.consumer_profile if side == "consumer" else self.target.provider_profile
        self.target.add_profile(profile, {"role_arn": role["Arn"], "source_profile": admin,
                                          "role_session_name": f"{self.prefix}-{side}"})
        self.built.operator_profiles[side] = profile

    def _wait_until_usable(self, profiles: list[str]) -> None:
        """IAM is eventually consistent: a new role or access key is not usable everywhere at once."""
        deadline = time.monotonic() + (120 if self.target.aws else 10)
        for profile in profiles:
            while True:
                try:
                    self.target.session(profile).client("sts").get_caller_identity()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(5 if self.target.aws else 0.2)

    def destroy(self) -> dict:
        from tests.acceptance.sweeper import sweep

        return sweep(self.target, self.run_id)

    @contextmanager
    def existing(self, progress=lambda _: None) -> Iterator[World]:
        """The world for the block; afterwards, also when creating it or the block failed, whatever still carries
        this run's tag is swept (a finished lifecycle has already deleted its world itself)."""
        from tests.acceptance.sweeper import inventory

        try:
            self.create(progress)
            yield self
        finally:
            if inventory(self.target, self.run_id):
                self.destroy()


def deployment_names(run_id: str) -> tuple[str, str]:
    """The xacct deployments of one run: the sweeper tears them down by name (xacct tags them with their name)."""
    return f"acc-{run_id}-a", f"acc-{run_id}-b"


def merge_policies(docs: list[dict]) -> dict:
    merged: dict[tuple, dict] = {}
    for doc in docs:
        for st in doc["Statement"]:
            key = (st["Sid"], json.dumps(st["Action"]), json.dumps(st.get("Condition"), sort_keys=True))
            have = merged.setdefault(key, {**st, "Resource": []})
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            have["Resource"] += [r for r in resources if r not in have["Resource"]]
    statements = [{**st, "Resource": st["Resource"][0] if len(st["Resource"]) == 1 else st["Resource"]}
                  for st in merged.values()]
    return {"Version": permissions.VERSION, "Statement": statements}


def policy_chunks(doc: dict, limit: int = MANAGED_POLICY_CHARS) -> list[list[dict]]:
    """The statements packed, in order, into as few managed policies as fit."""
    chunks: list[list[dict]] = [[]]
    for st in doc["Statement"]:
        candidate = {"Version": doc["Version"], "Statement": [*chunks[-1], st]}
        if chunks[-1] and len(json.dumps(candidate, separators=(",", ":"))) > limit:
            chunks.append([st])
        else:
            chunks[-1].append(st)
    if len(chunks) > 10:
        raise ValueError(f"the operator policy needs {len(chunks)} managed policies; a role takes 10")
    return chunks


def estimate(hours: float) -> str:
    """An ESTIMATE of one run's bill, from list prices (docs/aws-acceptance.md cites them)."""
    billed = math.ceil(hours)  # an endpoint's partial hour is a full hour
    aurora = MIN_ACU * ACU_HOUR_USD * hours
    endpoints = 2 * 2 * billed * PRICES["endpoint_az_hour"].usd  # one endpoint per VPC used, 2 AZs each
    keys_secrets = 2 * hours / HOURS_PER_MONTH * (PRICES["kms_key_month"].usd + PRICES["secret_month"].usd)
    total = aurora + endpoints + keys_secrets
    return (f"estimate ≈ ${total:.2f} (Aurora {MIN_ACU} ACU × {hours:.1f} h × ${ACU_HOUR_USD} = ${aurora:.2f}; "
            f"endpoints 2 × 2 AZ × {billed} h × ${PRICES['endpoint_az_hour'].usd} = ${endpoints:.2f}; keys and "
            f"secrets ${keys_secrets:.2f}), {PRICES_REGION} list prices as of {PRICES_AS_OF}; storage, I/O and "
            "data processed are cents")
