"""The sandbox's two accounts: mint each account's admin key, write the profiles, check they land where they
should, and seed the consumer's VPC and the provider's Aurora cluster. See the package docstring for how moto
tells the accounts apart.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any, Callable

from xacct_dataapi.sandbox.info import (ADMIN_USER, CLUSTER_ID, CONFIG_NAME, CONSUMER_ACCOUNT, CONSUMER_PROFILE,
                                        CREDENTIALS_NAME, DATABASE_NAME, PROVIDER_ACCOUNT, PROVIDER_PROFILE, REGION,
                                        SUBNETS, VPC_CIDR, SandboxError, SandboxInfo, botocore_session, client_config,
                                        write_private)
from xacct_dataapi.sandbox import operators

TEAM_STATE_BUCKET = f"xacct-team-state-{CONSUMER_ACCOUNT}"
OPERATOR_PROFILES = tuple(operator for _admin, operator in operators.PROFILES.values())

# Engine -> (EngineVersion, MasterUsername) of a Serverless v2 / provisioned cluster, whose Data API is switched by
# the EnableHttpEndpoint / DisableHttpEndpoint operations (answered by the sandbox itself: realism.py). Versions with
# the Data API on Serverless v2 and provisioned: PostgreSQL 13.11+/14.8+/15.3+/16.1+, MySQL 3.x (docs/aws-facts.md).
ENGINES: dict[str, tuple[str, str]] = {
    "aurora-postgresql": ("16.4", "postgres"),
    "aurora-mysql": ("8.0.mysql_aurora.3.08.0", "admin"),
}
# `--engine-mode serverless`: a Serverless v1 cluster (end of life 2025-03-31), switched by ModifyDBCluster's flag.
# moto honours that flag only for EngineMode="serverless" and a fixed list of versions (moto/rds/models.py,
# DBCluster.enable_http_endpoint); these versions are on that list.
ENGINES_V1: dict[str, tuple[str, str]] = {
    "aurora-postgresql": ("11.13", "postgres"),
    "aurora-mysql": ("5.7.mysql_aurora.2.07.2", "admin"),
}
ENGINE_MODES = ("provisioned", "serverless")


def _account_header_hook(account_id: str) -> Callable[..., None]:
    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account_id

    return add_header


def _warm_moto_ec2() -> None:
    """Import moto's EC2 models now rather than inside the first EC2 request.

    Importing ``moto.ec2.models`` costs ~0.6 s, half of it because a class body calls
    ``boto3.Session().get_available_regions("ec2", ...)`` three times, each time on a
    new session that re-reads botocore's large ec2 service model. While this thread
    imports, ``get_service_data`` is memoised for this thread only, so the model is
    read once. Any failure of the shortcut falls back to a plain import.
    """
    import sys

    if "moto.ec2.models" in sys.modules:
        return
    try:
        import botocore.session

        original = botocore.session.Session.get_service_data
        me = threading.get_ident()
        cache: dict[tuple[str, Any], Any] = {}

        def get_service_data(self: Any, service_name: str, api_version: Any = None) -> Any:
            if threading.get_ident() != me:
                return original(self, service_name, api_version)
            key = (service_name, api_version)
            if key not in cache:
                cache[key] = original(self, service_name, api_version)
            return cache[key]

        botocore.session.Session.get_service_data = get_service_data  # type: ignore[method-assign]
        try:
            import moto.ec2.models  # noqa: F401
        finally:
            botocore.session.Session.get_service_data = original  # type: ignore[method-assign]
    except ImportError:
        raise
    except Exception:  # pragma: no cover - the shortcut is an optimisation only
        import moto.ec2.models  # noqa: F401


def _ini(sections: dict[str, dict[str, str]]) -> str:
    """An AWS config or credentials file: a `[section]` of `key = value` lines each."""
    lines: list[str] = []
    for header, values in sections.items():
        lines += [f"[{header}]", *(f"{k} = {v}" for k, v in values.items()), ""]
    return "\n".join(lines)


def _write_credentials(path: Path, keys: dict[str, tuple[str, str]]) -> None:
    write_private(path, _ini({p: {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
                              for p, (key_id, secret) in keys.items()}))


def seed_accounts(endpoint: str, dir: Path, engine: str, engine_mode: str = "provisioned",
                  master_password: str | None = None) -> SandboxInfo:
    """Bootstrap both accounts on the (freshly reset) moto server at `endpoint` and write DIR/{config,credentials}.

    Raises SandboxError if a profile, as written, does not land in its own account.
    """
    dir.mkdir(parents=True, exist_ok=True)
    config_file = (dir / CONFIG_NAME).resolve()
    credentials_file = (dir / CREDENTIALS_NAME).resolve()

    # 1. Write the profiles' config (region, endpoint; no secrets yet).
    profile_config = {"region": REGION, "endpoint_url": endpoint, "output": "json"}
    write_private(config_file, _ini({f"profile {p}": profile_config
                                     for p in (CONSUMER_PROFILE, PROVIDER_PROFILE, *OPERATOR_PROFILES)}))

    # 2. Mint per-account keys with header-tagged bootstrap clients. The bootstrap
    # session reads only the sandbox's own config (not ~/.aws, not AWS_PROFILE) and
    # is given explicit keys and endpoint.
    base = botocore_session(config_file, Path(os.devnull), CONSUMER_PROFILE)
    cfg = client_config()
    keys: dict[str, tuple[str, str]] = {}
    for profile, account in ((CONSUMER_PROFILE, CONSUMER_ACCOUNT), (PROVIDER_PROFILE, PROVIDER_ACCOUNT)):
        iam = base.create_client(
            "iam",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="xacct-sandbox-bootstrap",
            aws_secret_access_key="xacct-sandbox-bootstrap",
            config=cfg,
        )
        iam.meta.events.register("before-sign", _account_header_hook(account))
        iam.create_user(UserName=ADMIN_USER, Tags=[{"Key": "xacct:sandbox", "Value": "admin"}])
        iam.put_user_policy(
            UserName=ADMIN_USER,
            PolicyName="xacct-sandbox-admin",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        ak = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        keys[profile] = (ak["AccessKeyId"], ak["SecretAccessKey"])

    # 3. Write the minted keys (0600, like the config).
    _write_credentials(credentials_file, keys)

    # 4. Verify each profile, as written, lands in its own account.
    sessions: dict[str, Any] = {}
    for profile, account in ((CONSUMER_PROFILE, CONSUMER_ACCOUNT), (PROVIDER_PROFILE, PROVIDER_ACCOUNT)):
        s = botocore_session(config_file, credentials_file, profile, loader_from=base)
        scoped = s.get_scoped_config()
        if scoped.get("endpoint_url") != endpoint or scoped.get("region") != REGION:
            raise SandboxError(f"profile {profile} in {config_file} was not written as expected")
        creds = s.get_credentials()
        if creds is None or creds.access_key != keys[profile][0]:
            raise SandboxError(
                f"profile {profile} did not resolve to the minted key from {credentials_file}"
            )
        # endpoint_url is passed explicitly so that an AWS_ENDPOINT_URL in the
        # environment can never send this check anywhere but 127.0.0.1.
        sts = s.create_client("sts", region_name=REGION, endpoint_url=endpoint, config=cfg)
        ident = sts.get_caller_identity()
        if ident.get("Account") != account:
            raise SandboxError(
                f"profile {profile} landed in account {ident.get('Account')}, expected {account} "
                "(moto did not map the minted key; is MOTO_ACCOUNT_ID set in the server process?)"
            )
        sessions[profile] = s

    # 5. Seed the consumer: a VPC with DNS on and two private subnets in two AZs.
    _warm_moto_ec2()
    ec2 = sessions[CONSUMER_PROFILE].create_client(
        "ec2", region_name=REGION, endpoint_url=endpoint, config=cfg
    )
    vpc_id = ec2.create_vpc(
        CidrBlock=VPC_CIDR,
        TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "xacct-sandbox-vpc"}]}
        ],
    )["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnet_ids: list[str] = []
    for az, cidr in SUBNETS:
        subnet_ids.append(
            ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=cidr,
                AvailabilityZone=az,
                TagSpecifications=[
                    {
                        "ResourceType": "subnet",
                        "Tags": [{"Key": "Name", "Value": f"xacct-sandbox-private-{az[-1]}"}],
                    }
                ],
            )["Subnet"]["SubnetId"]
        )

    # moto builds its catalogue of endpoint services on the first DescribeVpcEndpointServices (it loads every
    # service's backend: about 1.5 s), where AWS answers in one round trip. Asked once here, so a run against the
    # sandbox times what xacct does, not moto's cold start (the catalogue is cached per region for the process).
    ec2.describe_vpc_endpoint_services(ServiceNames=[f"com.amazonaws.{REGION}.rds-data"])

    # 6. Seed the provider: an Aurora cluster whose Data API is off but can be enabled.
    rds = sessions[PROVIDER_PROFILE].create_client(
        "rds", region_name=REGION, endpoint_url=endpoint, config=cfg
    )
    version, master_user = (ENGINES_V1 if engine_mode == "serverless" else ENGINES)[engine]
    mode: dict[str, Any] = ({"EngineMode": "serverless"} if engine_mode == "serverless" else
                            {"ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 2}})
    rds.create_db_cluster(
        DBClusterIdentifier=CLUSTER_ID,
        Engine=engine,
        EngineVersion=version,
        **mode,
        MasterUsername=master_user,
        # RDS manages the master password in Secrets Manager (MasterUserSecret), as xacct's --create-db-user expects;
        # Serverless v1 cannot (ManageMasterUserPassword is not supported there), so it gets one, never printed.
        **({"MasterUserPassword": master_password or secrets.token_urlsafe(24)} if engine_mode == "serverless"
           else {"ManageMasterUserPassword": True}),
        DatabaseName=DATABASE_NAME,
        Tags=[{"Key": "Name", "Value": CLUSTER_ID}],
    )
    if engine_mode != "serverless":
        # A Serverless v2 cluster serves only through its instances: like a real one, it gets a db.serverless writer
        # (doctor checks the writer; without one, a healthy sandbox deployment would fail cluster.writer-class).
        rds.create_db_instance(DBInstanceIdentifier=f"{CLUSTER_ID}-writer", DBClusterIdentifier=CLUSTER_ID,
                               Engine=engine, DBInstanceClass="db.serverless")
    clusters = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER_ID)["DBClusters"]
    if len(clusters) != 1 or clusters[0].get("HttpEndpointEnabled") is not False:
        raise SandboxError(
            f"seeded cluster {CLUSTER_ID} is missing or its Data API is not off: {clusters!r}"
        )
    cluster_arn = clusters[0]["DBClusterArn"]

    # 7. A bucket for team state (`--state s3://BUCKET/xacct/`), as an administrator would make it: versioned.
    team_state = f"s3://{TEAM_STATE_BUCKET}/xacct/"
    s3 = sessions[CONSUMER_PROFILE].create_client("s3", region_name=REGION, endpoint_url=endpoint, config=cfg)
    s3.create_bucket(Bucket=TEAM_STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=TEAM_STATE_BUCKET, VersioningConfiguration={"Status": "Enabled"})

    # 8. The least-privilege operators (operators.py): exactly `xacct permissions --for all --state-bucket` for
    # this sandbox, in its VPC and the account's default VPC (`--vpc A,B`), where `sandbox up` offers a move.
    iam_by_side = {side: sessions[admin].create_client("iam", region_name=REGION, endpoint_url=endpoint, config=cfg)
                   for side, (admin, _operator) in operators.PROFILES.items()}
    keys |= operators.create(iam_by_side, region=REGION, provider=PROVIDER_ACCOUNT, consumer=CONSUMER_ACCOUNT,
                             cluster=CLUSTER_ID, vpc=operators.vpcs_of(ec2, vpc_id), state_bucket=team_state)
    _write_credentials(credentials_file, keys)

    return SandboxInfo(
        endpoint_url=endpoint,
        dir=dir.resolve(),
        config_file=config_file,
        credentials_file=credentials_file,
        region=REGION,
        consumer_account=CONSUMER_ACCOUNT,
        provider_account=PROVIDER_ACCOUNT,
        consumer_profile=CONSUMER_PROFILE,
        provider_profile=PROVIDER_PROFILE,
        vpc_id=vpc_id,
        vpc_cidr=VPC_CIDR,
        subnet_ids=tuple(subnet_ids),
        cluster_id=CLUSTER_ID,
        cluster_arn=cluster_arn,
        engine=engine,
        engine_mode=engine_mode,
        team_state=team_state,
    )
