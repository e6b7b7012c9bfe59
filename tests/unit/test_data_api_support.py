"""Which clusters the Data API runs on (data_api_support), as AWS documents it; and setup's preflight refusing an
unsupported one before any write."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import grant, world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli
from xacct_dataapi.data_api_support import verdict


@pytest.mark.parametrize(("engine", "version", "mode", "writer", "supported"), [
    ("aurora-postgresql", "13.11", "provisioned", "db.serverless", True),
    ("aurora-postgresql", "13.10", "provisioned", "db.serverless", False),
    ("aurora-postgresql", "14.8", "provisioned", "db.r6g.large", True),
    ("aurora-postgresql", "14.7", "provisioned", None, False),
    ("aurora-postgresql", "16.1", "provisioned", None, True),
    ("aurora-postgresql", "17.3", "provisioned", None, False),
    ("aurora-postgresql", "17.4", "provisioned", None, True),
    ("aurora-postgresql", "18.1", "provisioned", None, False),  # the docs list 18.3+
    ("aurora-postgresql", "18.3", "provisioned", None, True),
    ("aurora-postgresql", "19.0", "provisioned", None, True),  # newer than the table: assumed supported
    ("aurora-postgresql", "12.20", "provisioned", None, False),
    ("aurora-postgresql", "16.4", "provisioned", "db.t4g.medium", False),  # not on T classes
    ("aurora-mysql", "8.0.mysql_aurora.3.07.1", "provisioned", "db.serverless", True),
    ("aurora-mysql", "8.0.mysql_aurora.3.06.0", "provisioned", "db.serverless", False),
    ("aurora-mysql", "8.0.mysql_aurora.3.10.0", "provisioned", None, True),
    ("aurora-mysql", "5.7.mysql_aurora.2.12.1", "provisioned", None, False),
    ("aurora-mysql", "weird", "provisioned", None, None),
    ("postgres", "16.1", "provisioned", None, False),
])
def test_verdict(engine, version, mode, writer, supported):
    assert verdict(engine, version, mode, writer).supported is supported


def test_nearest_supported_version_is_named():
    v = verdict("aurora-postgresql", "15.2", "provisioned")
    assert "15.3" in v.why and "--engine-version 15.3" in v.fix


def test_serverless_v1_is_end_of_support():
    v = verdict("aurora-postgresql", "11.13", "serverless")
    assert v.supported and v.end_of_support and "2025-03-31" in v.why


@pytest.mark.usefixtures("fast_aws")
def test_setup_refuses_to_turn_the_data_api_on_for_an_unsupported_version(world, password):
    rds = world.provider.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="old-pg", Engine="aurora-postgresql", EngineVersion="13.7",
                          MasterUsername="postgres", MasterUserPassword="seed-password-1")
    grant(world, clusters=("old-pg",))  # the administrator's `xacct permissions --cluster old-pg`
    args = world.setup_args("--enable-data-api", "--yes")
    args[args.index("--cluster") + 1] = "old-pg"
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "Not turning the Data API on for cluster old-pg" in text and "13.7" in text and "13.11" in text
    assert world.provider.client("iam").list_roles()["Roles"] == [], "refused before any write"
    assert world.provider.client("kms").list_aliases()["Aliases"] == [] or all(
        not a["AliasName"].startswith("alias/xacct") for a in world.provider.client("kms").list_aliases()["Aliases"])
    assert not rds.describe_db_clusters(DBClusterIdentifier="old-pg")["DBClusters"][0].get("HttpEndpointEnabled")
