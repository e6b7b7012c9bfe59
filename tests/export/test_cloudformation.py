"""`xacct export --format cloudformation`: the templates lint clean, hold exactly the documents `setup`
writes, implement exactly the model's desired resources, never hold the password, and the consumer
template deploys on moto's CloudFormation (with the gaps recorded in docs/moto-gaps.md).

Each test drives a real setup on moto in-process (tests/steps/test_steps_moto.py's Deployment), then
exports from the state file it wrote, as `xacct export --name orders` does.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cfnlint.api
import pytest
import yaml
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import grant, world_of_operators  # noqa: F401 (the `world` fixture)
from tests.steps.test_steps_moto import Deployment
from xacct_dataapi import export as export_mod
from xacct_dataapi import policies
from xacct_dataapi.cli import cli
from xacct_dataapi.errors import UsageError
from xacct_dataapi.export.cloudformation import TRUST_POLICY_LIMIT, substitute

CONSUMER, PROVIDER, REGION = "111111111111", "222222222222", "us-west-2"
OTHERS = ("333333333333", "444444444444")
ORG = "o-abcd123456"


@pytest.fixture(autouse=True)
def no_default_amis(monkeypatch):
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # speed only


def mysql_world(world):
    """The same accounts and VPC, with an Aurora MySQL cluster (an engine moto can turn the Data API on for)."""
    c = world.provider.client("rds").create_db_cluster(
        DBClusterIdentifier="orders-mysql", Engine="aurora-mysql", EngineVersion="5.7.mysql_aurora.2.07.2",
        EngineMode="serverless", MasterUsername="admin", MasterUserPassword="seed-password-1",
        DatabaseName="orders")["DBCluster"]
    grant(world, clusters=(world.cluster_id, c["DBClusterIdentifier"]))  # `xacct permissions --cluster` for it
    return dataclasses.replace(world, cluster_id=c["DBClusterIdentifier"], cluster_arn=c["DBClusterArn"])


def deploy(world, password, engine="postgres", **cfg) -> Deployment:
    dep = Deployment(mysql_world(world) if engine == "mysql" else world, password, **cfg)
    dep.apply()
    return dep


def export(dep: Deployment, out: Path, **kwargs) -> dict:
    files = export_mod.export(dep.path, out, **kwargs)
    assert [f.name for f in files][-1] == "README.md"
    load = json.loads if kwargs.get("fmt") == "json" else yaml.safe_load
    return {f.stem: load(f.read_text()) for f in files if f.name != "README.md"} | {"_files": files}


def lint(template: dict) -> list[str]:
    return [str(m) for m in cfnlint.api.lint(json.dumps(template), regions=[REGION])]


# --------------------------------------------------------------------------- cfn-lint


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_templates_pass_cfn_lint_with_and_without_consumers_from(world, password, tmp_path, engine):
    dep = deploy(world, password, engine)
    for i, consumers in enumerate((None, f"accounts:{CONSUMER},{','.join(OTHERS)}", f"org:{ORG}")):
        docs = export(dep, tmp_path / str(i), consumers_from=consumers)
        for side in ("provider", "consumer"):
            assert lint(docs[side]) == [], (engine, consumers, side)
        secret = json.loads(docs["provider"]["Resources"]["Secret"]["Properties"]["GenerateSecretString"]
                            ["SecretStringTemplate"])
        assert secret["engine"] == engine and "password" not in secret


@pytest.mark.parametrize("policy", ["restricted", "full"])
@pytest.mark.parametrize("private", [False, True], ids=["public-path", "require-private-path"])
def test_every_export_variant_lints_clean(world, password, tmp_path, private, policy):
    """Each flag combination and each --consumers-from form: no cfn-lint error in either template. With
    --require-private-path the provider template takes the consumers' endpoint ids as a parameter (a Ref to the
    consumer template's Endpoint would not resolve: E1020)."""
    dep = deploy(world, password, require_private_path=private, endpoint_policy=policy)
    for i, consumers in enumerate((None, f"accounts:{CONSUMER},{','.join(OTHERS)}", f"org:{ORG}")):
        docs = export(dep, tmp_path / str(i), consumers_from=consumers)
        for side in ("provider", "consumer"):
            assert lint(docs[side]) == [], (private, policy, consumers, side)
        provider = docs["provider"]
        if private:
            assert provider["Parameters"]["EndpointIds"]["Default"] == dep.load().values["endpoint_id"]
            assert '{"Ref": "EndpointIds"}' in json.dumps(provider["Resources"]["AccessRolePolicy"])
        else:
            assert "EndpointIds" not in provider["Parameters"]


def test_json_format_and_adopted_role_and_full_endpoint_policy_lint_clean(world, password, tmp_path):
    world.consumer.client("iam").create_role(RoleName="orders-app", AssumeRolePolicyDocument="{}")
    grant(world, consumer_role="orders-app")  # `xacct permissions --consumer-role orders-app`
    dep = deploy(world, password, consumer_role="orders-app", endpoint_policy="full")
    docs = export(dep, tmp_path / "out", fmt="json")
    assert [f.name for f in docs["_files"]] == ["provider.json", "consumer.json", "README.md"]
    for side in ("provider", "consumer"):
        assert lint(docs[side]) == [], side
    consumer = docs["consumer"]
    assert consumer["Resources"]["ConsumerPolicy"]["Type"] == "AWS::IAM::RolePolicy"
    assert consumer["Resources"]["ConsumerPolicy"]["Properties"]["RoleName"] == "orders-app"
    assert "ConsumerUser" not in consumer["Resources"]  # adopted: the application's own role
    assert "PolicyDocument" not in consumer["Resources"]["Endpoint"]["Properties"]  # AWS's default, as setup


# --------------------------------------------------------------------------- equivalence with setup


def _provider_params(dep: Deployment) -> dict:
    v = dep.load().values
    return {"AWS::AccountId": PROVIDER, "AWS::Region": REGION, "AWS::Partition": "aws", "ExternalId": v["external_id"],
            "Key": v["key_id"], "Key.Arn": v["key_arn"], "Secret": v["secret_arn"],
            "AccessRole.Arn": v["access_role_arn"]}


def _consumer_params(dep: Deployment, principal: str) -> dict:
    v = dep.load().values
    return {"AWS::AccountId": CONSUMER, "AWS::Region": REGION, "AWS::Partition": "aws", "ExternalId": v["external_id"],
            "AccessRoleArn": v["access_role_arn"], "ClusterArn": v["cluster_arn"], "VpcId": dep.world.vpc_id,
            "ClientCidr": dep.world.vpc_cidr, "ConsumerUser": principal, "SecurityGroup.GroupId": v["security_group_id"],
            "ProviderAccountId": v["cluster_arn"].split(":")[4]}


def _live_documents(dep: Deployment, principal_kind: str, principal: str) -> dict:
    """Every policy document setup wrote, read back from (moto's) AWS."""
    names, v = dep.names, dep.load().values
    kms, sm = dep.world.provider.client("kms"), dep.world.provider.client("secretsmanager")
    iam_p, iam_c = dep.world.provider.client("iam"), dep.world.consumer.client("iam")
    consumer_policy = (iam_c.get_role_policy(RoleName=principal, PolicyName=names.consumer_policy) if principal_kind == "role"
                       else iam_c.get_user_policy(UserName=principal, PolicyName=names.consumer_policy))
    endpoint = dep.world.consumer.client("ec2").describe_vpc_endpoints(VpcEndpointIds=[v["endpoint_id"]])["VpcEndpoints"][0]
    return {
        "key_policy": kms.get_key_policy(KeyId=v["key_id"], PolicyName="default")["Policy"],
        "secret_policy": sm.get_resource_policy(SecretId=v["secret_arn"])["ResourcePolicy"],
        "access_role_trust": iam_p.get_role(RoleName=names.access_role)["Role"]["AssumeRolePolicyDocument"],
        "access_role_permissions": iam_p.get_role_policy(RoleName=names.access_role,
                                                         PolicyName=names.access_role_policy)["PolicyDocument"],
        "consumer_assume_role": consumer_policy["PolicyDocument"],
        "endpoint_policy": endpoint["PolicyDocument"],
    }


# Where each of the model's documents sits in the templates.
DOCUMENTS = {
    "key_policy": ("provider", "Key", "KeyPolicy"),
    "secret_policy": ("provider", "SecretPolicy", "ResourcePolicy"),
    "access_role_trust": ("provider", "AccessRole", "AssumeRolePolicyDocument"),
    "access_role_permissions": ("provider", "AccessRolePolicy", "PolicyDocument"),
    "consumer_assume_role": ("consumer", "ConsumerPolicy", "PolicyDocument"),
    "endpoint_policy": ("consumer", "Endpoint", "PolicyDocument"),
}


def _assert_documents_match(dep: Deployment, docs: dict, principal_kind: str, principal: str) -> None:
    live = _live_documents(dep, principal_kind, principal)
    params = {"provider": _provider_params(dep), "consumer": _consumer_params(dep, principal)}
    model = {name for s in dep.plan()[1].steps for r in s.desired for name in r.documents}
    assert model == set(DOCUMENTS) == set(live)  # every document of the model is compared
    for name, (side, logical, prop) in DOCUMENTS.items():
        exported = substitute(docs[side]["Resources"][logical]["Properties"][prop], params[side])
        assert policies.equal(exported, live[name]), (name, exported, live[name])
    # The security group's rules too (moto's CloudFormation ignores SecurityGroupEgress: docs/moto-gaps.md).
    sg_id = dep.load().values["security_group_id"]
    (sg,) = dep.world.consumer.client("ec2").describe_security_groups(GroupIds=[sg_id])["SecurityGroups"]
    props = substitute(docs["consumer"]["Resources"]["SecurityGroup"]["Properties"], params["consumer"])
    for prop, live_prop in (("SecurityGroupIngress", "IpPermissions"), ("SecurityGroupEgress", "IpPermissionsEgress")):
        assert [(r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIp"]) for r in props[prop]] == [
            (p["IpProtocol"], p["FromPort"], p["ToPort"], r["CidrIp"]) for p in sg[live_prop] for r in p["IpRanges"]], prop


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_every_policy_document_equals_what_setup_wrote(world, password, tmp_path, engine):
    dep = deploy(world, password, engine)
    docs = export(dep, tmp_path / "out")
    _assert_documents_match(dep, docs, "user", dep.names.consumer_user)


def test_adopted_role_documents_equal_what_setup_wrote(world, password, tmp_path):
    world.consumer.client("iam").create_role(RoleName="orders-app", AssumeRolePolicyDocument="{}")
    grant(world, consumer_role="orders-app")  # `xacct permissions --consumer-role orders-app`
    dep = deploy(world, password, consumer_role="orders-app")
    docs = export(dep, tmp_path / "out")
    _assert_documents_match(dep, docs, "role", "orders-app")


def test_resources_are_exactly_the_models_desired_resources(world, password, tmp_path):
    dep = deploy(world, password)
    docs = export(dep, tmp_path / "out")
    _, plan = dep.plan()
    for side in ("provider", "consumer"):
        model = {r.kind for s in plan.steps for r in s.desired if r.account.value == side}
        meta = docs[side]["Metadata"]["xacct"]
        implemented = [k for kinds in meta["implements"].values() for k in kinds]
        assert sorted(implemented) == sorted(set(implemented))  # no kind twice
        assert set(implemented) | set(meta["not_in_template"]) == model, side
        assert set(meta["implements"]) == set(docs[side]["Resources"])  # no resource from outside the model
    assert set(docs["provider"]["Metadata"]["xacct"]["not_in_template"]) == {"data_api"}
    assert "EnableHttpEndpoint" in docs["provider"]["Metadata"]["xacct"]["not_in_template"]["data_api"]


def test_outputs_give_what_a_client_needs(world, password, tmp_path):
    dep = deploy(world, password, key_deletion_days=14)
    docs = export(dep, tmp_path / "out")
    assert docs["provider"]["Resources"]["Key"]["Properties"]["PendingWindowInDays"] == 14
    params = _provider_params(dep)
    outputs = {k: substitute(o["Value"], params) for k, o in docs["provider"]["Outputs"].items()}
    v = dep.load().values
    assert outputs["AccessRoleArn"] == v["access_role_arn"]
    assert outputs["ExternalId"] == v["external_id"]
    assert outputs["ClusterArn"] == v["cluster_arn"]
    assert outputs["SecretArn"] == v["secret_arn"]
    assert outputs["Database"] == "orders"
    # The role at the path setup puts it under (its ARN carries it), and the consumer's default for that ARN.
    role = dep.world.provider.client("iam").get_role(RoleName=dep.names.access_role)["Role"]
    assert substitute(docs["provider"]["Resources"]["AccessRole"]["Properties"]["Path"], params) == role["Path"]
    assert role["Path"] == f"/xacct/{REGION}/{dep.world.cluster_id}/"
    assert docs["consumer"]["Parameters"]["AccessRoleArn"]["Default"] == v["access_role_arn"] == role["Arn"]


# --------------------------------------------------------------------------- the password


def test_the_password_never_appears_in_any_exported_file(world, password, tmp_path):
    dep = deploy(world, password)
    for fmt in ("cloudformation", "json"):
        for consumers in (None, f"org:{ORG}"):
            out = tmp_path / f"{fmt}-{bool(consumers)}"
            files = export_mod.export(dep.path, out, fmt=fmt, consumers_from=consumers)
            assert sorted(files) == sorted(out.iterdir())  # every written file is listed
            for f in files:
                assert password not in f.read_text(), f
    secret = yaml.safe_load((tmp_path / "cloudformation-False" / "provider.yaml").read_text())["Resources"]["Secret"]
    assert "SecretString" not in secret["Properties"]
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "password"


# --------------------------------------------------------------------------- many consumers


def _trust_and_key_grant(world, password, tmp_path, consumers_from: str) -> tuple[dict, dict, Deployment]:
    """The exported trust statement and the key policy's consumer grant, resolved with setup's values."""
    dep = deploy(world, password)
    resources = export(dep, tmp_path / "out", consumers_from=consumers_from)["provider"]["Resources"]
    params = _provider_params(dep)
    (statement,) = substitute(resources["AccessRole"]["Properties"]["AssumeRolePolicyDocument"], params)["Statement"]
    return statement, substitute(resources["Key"]["Properties"]["KeyPolicy"], params)["Statement"][1], dep


def test_consumers_from_accounts_trusts_each_account_narrowed_to_its_principal(world, password, tmp_path):
    statement, grant, dep = _trust_and_key_grant(world, password, tmp_path, f"accounts:{CONSUMER},{','.join(OTHERS)}")
    accounts = (CONSUMER, *OTHERS)
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]}
    assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{a}:user/xacct-orders-data-api-client" for a in accounts]
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": dep.load().values["external_id"]}
    # The key grant names the provider's access role, whichever consumer assumed it: the same for every consumer.
    assert grant["Condition"]["StringEquals"]["kms:CallerAccount"] == PROVIDER


def test_consumers_from_org_uses_principal_org_id_and_the_principal_name(world, password, tmp_path):
    statement, grant, _ = _trust_and_key_grant(world, password, tmp_path, f"org:{ORG}")
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == ORG
    assert statement["Condition"]["ArnLike"] == {"aws:PrincipalArn": "arn:aws:iam::*:user/xacct-orders-data-api-client"}
    assert grant["Condition"]["StringEquals"]["kms:CallerAccount"] == PROVIDER  # the access role, not the consumers
    assert "aws:PrincipalOrgID" not in grant["Condition"]["StringEquals"]


def test_a_trust_policy_over_the_quota_is_refused_with_the_org_form_suggested(world, password, tmp_path):
    dep = deploy(world, password)
    many = [f"{100000000000 + i}" for i in range(25)]
    with pytest.raises(UsageError) as info:
        export_mod.export(dep.path, tmp_path / "out", consumers_from="accounts:" + ",".join(many))
    assert f"{TRUST_POLICY_LIMIT:,}" in info.value.message and "org:o-" in info.value.hint
    assert not (tmp_path / "out").exists()  # nothing written
    export_mod.export(dep.path, tmp_path / "ok", consumers_from="accounts:" + ",".join(many[:12]))


@pytest.mark.parametrize("flag", ["accounts:", "accounts:12345", "org:nope", "ou:ou-abc", "111111111111"])
def test_bad_consumers_from_is_a_usage_error(flag):
    from xacct_dataapi.export.cloudformation import Consumers

    with pytest.raises(UsageError):
        Consumers.parse(flag)


def test_many_consumer_builders_with_one_account_are_the_setup_builders():
    arn = "arn:aws:iam::111111111111:user/u"
    assert policies.access_role_trust_policy_for_consumers([CONSUMER], [arn], "ext") == \
        policies.access_role_trust_policy(CONSUMER, arn, "ext")


# --------------------------------------------------------------------------- CLI and README


def test_cli_lists_every_written_file(world, password, tmp_path):
    dep = deploy(world, password)
    out = tmp_path / "cfn"
    res = CliRunner().invoke(cli, ["export", "--name", "orders", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [str(out / n) for n in ("provider.yaml", "consumer.yaml", "README.md")]
    readme = (out / "README.md").read_text()
    for needle in ("--permission-model SERVICE_MANAGED", "--auto-deployment Enabled=true", "AccountFilterType=INTERSECTION",
                   "--parameter-overrides", "provider first"):
        assert needle in readme, needle
    assert readme.index("## 1. Provider stack") < readme.index("## 2b.")
    assert max(len(line) for line in readme.splitlines()) <= 80
    for args, code in ((["--format", "toml"], 2), (["--consumers-from", "org:bad"], 2)):
        res = CliRunner().invoke(cli, ["export", "--name", "orders", "--out", str(tmp_path / "x"), *args])
        assert res.exit_code == code, res.output
    assert dep.load() is not None


# --------------------------------------------------------------------------- moto's CloudFormation


def test_consumer_template_deploys_on_moto_cloudformation(world, password, tmp_path):
    """The security group and the rds-data endpoint come up from consumer.yaml (setup's own are torn down
    first: same names). moto gaps (docs/moto-gaps.md): a List<Subnet::Id> parameter is not split, so the
    deployed copy names the subnets literally; SecurityGroupEgress and AWS::IAM::UserPolicy are ignored."""
    dep = deploy(world, password)
    docs = export(dep, tmp_path / "out", fmt="json")
    dep.teardown()
    template = docs["consumer"]
    template["Resources"]["Endpoint"]["Properties"]["SubnetIds"] = list(world.subnet_ids)  # moto gap
    cf = world.consumer.client("cloudformation")
    cf.create_stack(StackName="xacct-orders-consumer", TemplateBody=json.dumps(template),
                    Capabilities=["CAPABILITY_NAMED_IAM"])
    stack = cf.describe_stacks(StackName="xacct-orders-consumer")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    ec2 = world.consumer.client("ec2")
    (endpoint,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[outputs["EndpointId"]])["VpcEndpoints"]
    assert endpoint["VpcId"] == world.vpc_id and endpoint["State"] == "available"
    assert endpoint["ServiceName"] == f"com.amazonaws.{REGION}.rds-data" and endpoint["PrivateDnsEnabled"]
    assert sorted(endpoint["SubnetIds"]) == sorted(world.subnet_ids)
    assert [g["GroupId"] for g in endpoint["Groups"]] == [outputs["SecurityGroupId"]]
    (sg,) = ec2.describe_security_groups(GroupIds=[outputs["SecurityGroupId"]])["SecurityGroups"]
    assert sg["GroupName"] == "xacct-orders-rds-data-endpoint" and sg["VpcId"] == world.vpc_id
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]])
            for p in sg["IpPermissions"]] == [("tcp", 443, 443, [world.vpc_cidr])]
    assert outputs["ConsumerPrincipalArn"] == f"arn:aws:iam::{CONSUMER}:user/xacct-orders-data-api-client"


def test_export_needs_no_aws_when_the_state_records_the_facts(world, password, tmp_path, monkeypatch):
    dep = deploy(world, password)
    live = export_mod.export(dep.path, tmp_path / "live", consumer_profile="consumer")  # through the preflight
    from xacct_dataapi.aws import Sessions

    def no_aws(*args, **kwargs):
        raise AssertionError("export called AWS")

    monkeypatch.setattr(Sessions, "from_profiles", no_aws)
    recorded = export_mod.export(dep.path, tmp_path / "recorded")
    assert [f.read_text() for f in recorded] == [f.read_text() for f in live]
    state = dep.load()
    for key in export_mod.RECORDED:  # written by setup
        assert state.values.get(key) is not None, key
