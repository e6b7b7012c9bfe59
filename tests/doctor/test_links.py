"""One test per link: break exactly that link (in moto, or by answering one operation where moto cannot) and
doctor fails that check, names the resource, gives a fix, and fails nothing else."""
from __future__ import annotations

import json

import pytest

from xacct_dataapi import doctor, policies
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED, WARN
from xacct_dataapi.errors import AwsError

OTHER = "333333333333"


def report_of(dep):
    return doctor.run(dep.path)


def failed(report) -> list[str]:
    return sorted(c.id for c in report.checks if c.status == FAIL)


def assert_only(report, check_id: str, names: str) -> None:
    """`check_id` fails, its evidence names `names`, it has a fix; nothing else fails."""
    c = report.get(check_id)
    assert c.status == FAIL, c
    assert names in c.evidence, c.evidence
    assert c.fix, c
    assert failed(report) == [check_id], [x.to_json() for x in report.checks if x.status == FAIL]
    assert report.exit_code == 1


def role_arn(dep) -> str:
    return dep.world.provider.client("iam").get_role(RoleName=dep.names.access_role)["Role"]["Arn"]


def secret_arn(dep) -> str:
    return dep.world.provider.client("secretsmanager").describe_secret(SecretId=dep.names.secret)["ARN"]


def endpoint(dep) -> dict:
    return dep.world.consumer.client("ec2").describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [dep.world.vpc_id]}])["VpcEndpoints"][0]


def add_statement(doc, statement: dict) -> str:
    d = policies.parse(doc)
    d["Statement"].append(statement)
    return json.dumps(d)


# --------------------------------------------------------------------------- provider: cluster

def test_data_api_off(deployed):
    deployed.world.provider.client("rds").modify_db_cluster(DBClusterIdentifier=deployed.world.cluster_id,
                                                            EnableHttpEndpoint=False, ApplyImmediately=True)
    assert_only(report_of(deployed), "cluster.data-api", deployed.world.cluster_id)


def test_cluster_not_available(deployed, calls):
    calls.edits["DescribeDBClusters"] = lambda parsed: parsed["DBClusters"][0].update(Status="stopped")
    report = report_of(deployed)
    assert_only(report, "cluster.available", "stopped")
    assert "start-db-cluster" in report.get("cluster.available").fix


def _provisioned(version: str, writer_class: str, calls) -> None:
    """moto cannot add instances to the seeded Serverless v1 cluster, nor turn the Data API on for a provisioned
    one (docs/moto-gaps.md): answer as AWS would for a provisioned cluster with one writer."""
    def edit(parsed):
        parsed["DBClusters"][0].update(EngineMode="provisioned", EngineVersion=version, DBClusterMembers=[
            {"DBInstanceIdentifier": "orders-writer", "IsClusterWriter": True}])
    calls.edits["DescribeDBClusters"] = edit
    calls.answers["DescribeDBInstances"] = {"DBInstances": [{"DBInstanceIdentifier": "orders-writer",
                                                             "DBInstanceClass": writer_class}]}


def test_writer_on_t_class(deployed, calls):
    _provisioned("15.4", "db.t3.medium", calls)
    report = report_of(deployed)
    assert_only(report, "cluster.writer-class", "orders-writer is db.t3.medium")
    assert report.get("cluster.engine").status == OK


def test_writer_unreadable_is_a_skip_not_a_crash(deployed, calls):
    """A profile without rds:DescribeDBInstances (the sandbox answers as AWS does) made doctor exit 70."""
    from botocore.exceptions import ClientError

    _provisioned("15.4", "db.r6g.large", calls)
    calls.answers["DescribeDBInstances"] = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "User: u is not authorized to perform: rds:DescribeDBInstances"}},
        "DescribeDBInstances")
    check = report_of(deployed).get("cluster.writer-class")
    assert check.status == SKIPPED and "AccessDenied" in check.evidence and "--for doctor" in check.evidence


def test_engine_version_without_data_api(deployed, calls):
    _provisioned("13.7", "db.r6g.large", calls)
    assert_only(report_of(deployed), "cluster.engine", "aurora-postgresql 13.7")


# --------------------------------------------------------------------------- provider: secret and key

def test_extra_allow_added_by_hand_to_secret_policy(deployed):
    sm = deployed.world.provider.client("secretsmanager")
    arn = secret_arn(deployed)
    doc = sm.get_resource_policy(SecretId=arn)["ResourcePolicy"]
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=add_statement(doc, {
        "Sid": "LetAuditRead", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": "*"}))
    report = report_of(deployed)
    assert_only(report, "secret.policy.extra", "'LetAuditRead' allows secretsmanager:GetSecretValue to "
                                               f"arn:aws:iam::{OTHER}:root")
    assert report.get("secret.policy").status == OK  # xacct's own statements are still there


def test_secret_policy_loses_its_deny(deployed):
    sm = deployed.world.provider.client("secretsmanager")
    arn = secret_arn(deployed)
    doc = policies.parse(sm.get_resource_policy(SecretId=arn)["ResourcePolicy"])
    doc["Statement"] = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(doc))
    assert_only(report_of(deployed), "secret.policy", "DenyReadToAnyoneElse")


def test_secret_policy_naming_the_role_by_unique_id_is_equal(deployed):
    """IAM shows a principal it cannot resolve by its unique id; the role's own id maps back to its ARN, an
    unknown id is an orphan."""
    sm = deployed.world.provider.client("secretsmanager")
    role = deployed.world.provider.client("iam").get_role(RoleName=deployed.names.access_role)["Role"]
    arn = secret_arn(deployed)
    doc = sm.get_resource_policy(SecretId=arn)["ResourcePolicy"]
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=doc.replace(f'"AWS":"{role["Arn"]}"', f'"AWS":"{role["RoleId"]}"')
                           .replace(f'"AWS": "{role["Arn"]}"', f'"AWS": "{role["RoleId"]}"'))
    assert role["RoleId"] in sm.get_resource_policy(SecretId=arn)["ResourcePolicy"]
    assert failed(report_of(deployed)) == []
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=doc.replace(role["Arn"], "AROAORPHANED0000000001"))
    assert "AROAORPHANED0000000001" in report_of(deployed).get("secret.policy").evidence


def test_secret_key_named_by_id_not_arn(deployed):
    key = deployed.world.provider.client("kms").describe_key(KeyId=deployed.names.key_alias)["KeyMetadata"]
    deployed.world.provider.client("secretsmanager").update_secret(SecretId=deployed.names.secret, KmsKeyId=key["KeyId"])
    assert_only(report_of(deployed), "secret.kms-key", key["KeyId"])


def report_by_a_secret_reader(dep):
    """doctor run by someone allowed to read what the operator may not (the secret's value: the secret policy denies
    everyone but the access role, as on AWS, test_the_operator_may_not_read_the_secret_value; a key whose policy
    dropped the account statement): the sandbox's authorization is paused for this one run, to test how doctor
    judges what it could read."""
    from xacct_dataapi.sandbox.authz import enforce

    enforce.enable(False)
    try:
        return report_of(dep)
    finally:
        enforce.enable(True)


def test_the_operator_may_not_read_the_secret_value(deployed):
    check = report_of(deployed).get("secret.value")
    assert check.status == SKIPPED and "AccessDeniedException" in check.evidence, check


def test_secret_value_without_dbname_only_warns_never_printed(deployed, password):
    """The Data API reads username and password only (it ignores dbname: aws/aws-cli#8577)."""
    value = {"username": "app_user", "password": password}
    deployed.world.provider.client("secretsmanager").put_secret_value(SecretId=deployed.names.secret,
                                                                       SecretString=json.dumps(value))
    report = report_by_a_secret_reader(deployed)
    check = report.get("secret.value")
    assert check.status == WARN and "no engine, dbname" in check.evidence, check
    assert failed(report) == []
    assert password not in json.dumps(report.to_json())


def test_secret_value_without_password_fails_never_printed(deployed, password):
    value = {"username": "app_user", "engine": "postgres", "dbname": "orders"}
    deployed.world.provider.client("secretsmanager").put_secret_value(SecretId=deployed.names.secret,
                                                                       SecretString=json.dumps(value))
    report = report_by_a_secret_reader(deployed)
    assert_only(report, "secret.value", "lacks password")


def test_key_disabled(deployed):
    kms = deployed.world.provider.client("kms")
    key = kms.describe_key(KeyId=deployed.names.key_alias)["KeyMetadata"]
    kms.disable_key(KeyId=key["KeyId"])
    report = report_of(deployed)
    assert_only(report, "key.state", key["Arn"])
    assert "enable-key" in report.get("key.state").fix


def test_key_policy_extra_decrypt_grant(deployed):
    kms = deployed.world.provider.client("kms")
    key = kms.describe_key(KeyId=deployed.names.key_alias)["KeyMetadata"]
    doc = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=add_statement(doc, {
        "Sid": "Helpdesk", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "kms:*",
        "Resource": "*"}))
    assert_only(report_of(deployed), "key.policy.extra", "'Helpdesk' allows kms:Decrypt")


def test_key_policy_loses_provider_root(deployed):
    kms = deployed.world.provider.client("kms")
    key = kms.describe_key(KeyId=deployed.names.key_alias)["KeyMetadata"]
    doc = policies.parse(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != "EnableProviderAccountIamPolicies"]
    # AWS refuses a policy that locks its caller out unless the safety check is bypassed (PutKeyPolicy).
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(doc),
                       BypassPolicyLockoutSafetyCheck=True)
    # The operator's IAM policy no longer counts for the key: doctor cannot read it, and says why (as on AWS).
    with pytest.raises(AwsError) as refused:
        report_of(deployed)
    assert "kms:DescribeKey" in refused.value.message and "no key policy allows" in refused.value.message
    # Someone the key policy still admits gets the link named.
    assert_only(report_by_a_secret_reader(deployed), "key.policy", "EnableProviderAccountIamPolicies")


# --------------------------------------------------------------------------- provider: access role

def test_trust_extra_assume_grant(deployed):
    iam = deployed.world.provider.client("iam")
    trust = iam.get_role(RoleName=deployed.names.access_role)["Role"]["AssumeRolePolicyDocument"]
    iam.update_assume_role_policy(RoleName=deployed.names.access_role, PolicyDocument=add_statement(trust, {
        "Sid": "Vendor", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:AssumeRole"}))
    assert_only(report_of(deployed), "role.trust.extra", f"'Vendor' allows sts:AssumeRole to arn:aws:iam::{OTHER}:root")


def test_role_permissions_lose_kms(deployed):
    iam = deployed.world.provider.client("iam")
    name, policy = deployed.names.access_role, deployed.names.access_role_policy
    doc = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
    doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != "DecryptDbCredentials"]
    iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(doc))
    report = report_of(deployed)
    # IAM's own evaluation (the sandbox's SimulatePrincipalPolicy, as on AWS) confirms it: the role may not decrypt.
    simulate = report.get("iam.simulate")
    assert simulate.status == FAIL and "kms:Decrypt" in simulate.evidence, simulate
    assert failed(report) == ["iam.simulate", "role.permissions"]
    c = report.get("role.permissions")
    assert "DecryptDbCredentials" in c.evidence and c.fix


def test_simulation_denies(deployed, calls):
    """moto does not implement SimulatePrincipalPolicy (docs/moto-gaps.md): answer as IAM would."""
    calls.answers["SimulatePrincipalPolicy"] = {"EvaluationResults": [{
        "EvalActionName": "rds-data:ExecuteStatement", "EvalDecision": "implicitDeny", "MatchedStatements": []}]}
    report = report_of(deployed)
    assert_only(report, "iam.simulate", "rds-data:ExecuteStatement on " + deployed.world.cluster_arn + ": implicitDeny")
    calls.answers["SimulatePrincipalPolicy"] = {"EvaluationResults": [{"EvalActionName": "x", "EvalDecision": "allowed"}]}
    assert report_of(deployed).get("iam.simulate").status == OK


# --------------------------------------------------------------------------- consumer

def test_consumer_policy_names_another_role(deployed):
    iam = deployed.world.consumer.client("iam")
    iam.put_user_policy(UserName=deployed.names.consumer_user, PolicyName=deployed.names.consumer_policy,
                        PolicyDocument=json.dumps(policies.consumer_assume_policy(f"arn:aws:iam::{OTHER}:role/x")))
    assert_only(report_of(deployed), "principal.policy", deployed.names.consumer_user)


def test_vpc_dns_hostnames_off(deployed):
    deployed.world.consumer.client("ec2").modify_vpc_attribute(VpcId=deployed.world.vpc_id,
                                                               EnableDnsHostnames={"Value": False})
    report = report_of(deployed)
    assert_only(report, "vpc.dns", "enableDnsHostnames off")
    assert "--enable-dns-hostnames" in report.get("vpc.dns").fix


def test_private_hosted_zone_for_rds_data_conflicts(deployed):
    zone = deployed.world.consumer.client("route53").create_hosted_zone(
        Name="rds-data.us-west-2.amazonaws.com", CallerReference="central", HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-west-2", "VPCId": deployed.world.vpc_id})["HostedZone"]["Id"].split("/")[-1]
    report = report_of(deployed)
    assert_only(report, "endpoint.conflicts", f"private hosted zone {zone}")
    assert "disassociate-vpc-from-hosted-zone" in report.get("endpoint.conflicts").fix


def test_second_endpoint_with_private_dns_conflicts(deployed):
    """AWS lets another endpoint hold rds-data's private DNS name only once ours has private DNS off (the sandbox
    refuses it otherwise, as AWS does: sandbox/limits.py). moto ignores ModifyVpcEndpoint(PrivateDnsEnabled=False),
    so ours is switched off on moto's side."""
    from moto.ec2.models import ec2_backends

    ec2 = deployed.world.consumer.client("ec2")
    (ours,) = [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["State"] == "available"]
    ec2_backends[ours["OwnerId"]]["us-west-2"].vpc_end_points[ours["VpcEndpointId"]].private_dns_enabled = False
    other = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=deployed.world.vpc_id, ServiceName="com.amazonaws.us-west-2.rds-data",
        SubnetIds=[deployed.world.subnet_ids[0]], PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]
    report = report_of(deployed)
    conflicts = report.get("endpoint.conflicts")
    assert conflicts.status == FAIL and f"endpoint {other}" in conflicts.evidence and conflicts.fix
    assert sorted(failed(report)) == ["endpoint.conflicts", "endpoint.private-dns"]


def test_subnet_in_unsupported_az(deployed, calls):
    """moto's rds-data service lists every AZ: answer with the subset AWS can offer in a region."""
    calls.answers["DescribeVpcEndpointServices"] = {"ServiceNames": ["com.amazonaws.us-west-2.rds-data"], "ServiceDetails": [{
        "ServiceName": "com.amazonaws.us-west-2.rds-data", "AvailabilityZones": ["us-west-2a", "us-west-2c"],
        "VpcEndpointPolicySupported": True}]}
    assert_only(report_of(deployed), "endpoint.azs", f"{deployed.world.subnet_ids[1]} (us-west-2b)")


def test_endpoint_policy_unsupported_with_restricted_policy(deployed, calls):
    calls.answers["DescribeVpcEndpointServices"] = {"ServiceDetails": [{
        "ServiceName": "com.amazonaws.us-west-2.rds-data", "AvailabilityZones": ["us-west-2a", "us-west-2b"],
        "VpcEndpointPolicySupported": False}]}
    assert_only(report_of(deployed), "endpoint.policy-supported", "does not support endpoint policies")


def test_endpoint_private_dns_off(deployed, calls):
    """moto ignores ModifyVpcEndpoint(PrivateDnsEnabled=False) (docs/moto-gaps.md)."""
    def edit(parsed):
        for e in parsed.get("VpcEndpoints", []):
            e["PrivateDnsEnabled"] = False
    calls.edits["DescribeVpcEndpoints"] = edit
    report = report_of(deployed)
    assert_only(report, "endpoint.private-dns", endpoint(deployed)["VpcEndpointId"])


def test_endpoint_failed(deployed, calls):
    calls.edits["DescribeVpcEndpoints"] = lambda parsed: [e.update(State="failed") for e in parsed.get("VpcEndpoints", [])]
    assert_only(report_of(deployed), "endpoint.available", "is failed")


def test_endpoint_lost_a_subnet(deployed):
    ep = endpoint(deployed)
    deployed.world.consumer.client("ec2").modify_vpc_endpoint(VpcEndpointId=ep["VpcEndpointId"],
                                                              RemoveSubnetIds=[deployed.world.subnet_ids[1]])
    assert_only(report_of(deployed), "endpoint.placement", "recorded")


def test_endpoint_policy_admits_another_role(deployed):
    ep = endpoint(deployed)
    doc = policies.endpoint_policy(f"arn:aws:iam::{OTHER}:role/other", deployed.world.cluster_arn)
    deployed.world.consumer.client("ec2").modify_vpc_endpoint(VpcEndpointId=ep["VpcEndpointId"], PolicyDocument=json.dumps(doc))
    report = report_of(deployed)
    assert failed(report) == ["endpoint.policy", "endpoint.policy-admits", "endpoint.policy.extra"]
    assert role_arn(deployed) in report.get("endpoint.policy-admits").evidence
    # ...and the role it admits instead is a principal the endpoint carries Data API calls for (issue 24)
    assert f"aws:PrincipalArn ArnEquals arn:aws:iam::{OTHER}:role/other" in report.get("endpoint.policy.extra").evidence


def test_security_group_lost_https(deployed):
    ec2 = deployed.world.consumer.client("ec2")
    sg = endpoint(deployed)["Groups"][0]["GroupId"]
    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                                                  "IpRanges": [{"CidrIp": deployed.world.vpc_cidr}]}])
    report = report_of(deployed)
    assert_only(report, "sg.https", sg)
    assert report.get("sg.drift").status == WARN


def test_a_security_group_that_passes_https_is_named_in_a_sentence_that_reads(deployed):
    sg = endpoint(deployed)["Groups"][0]["GroupId"]
    ingress = deployed.world.consumer.client("ec2").describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
    assert any(p.get("FromPort") == 443 and deployed.world.vpc_cidr in [r["CidrIp"] for r in p["IpRanges"]]
               for p in ingress["IpPermissions"]), ingress  # AWS shows the rule the check reports
    c = report_of(deployed).get("sg.https")
    assert c.status == OK and c.evidence == f"{sg} admits tcp/443 from {deployed.world.vpc_cidr}", c.evidence

def test_security_group_misses_a_secondary_vpc_cidr(deployed):
    ec2 = deployed.world.consumer.client("ec2")
    ec2.associate_vpc_cidr_block(VpcId=deployed.world.vpc_id, CidrBlock="10.30.0.0/16")
    assert_only(report_of(deployed), "sg.https", "10.30.0.0/16")


def test_nacl_deny_443_named_with_its_rule_number(deployed):
    ec2 = deployed.world.consumer.client("ec2")
    acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id",
                                              "Values": [deployed.world.subnet_ids[0]]}])["NetworkAcls"][0]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=90, Protocol="6", RuleAction="deny", Egress=False,
                                 CidrBlock="0.0.0.0/0", PortRange={"From": 443, "To": 443})
    report = report_of(deployed)
    assert_only(report, "nacl.https", f"{acl} (subnet {deployed.world.subnet_ids[0]}) blocks inbound tcp 443")
    assert "rule 90 denies it" in report.get("nacl.https").evidence
    assert "create-network-acl-entry" in report.get("nacl.https").fix


def test_endpoint_deleted(deployed):
    ep = endpoint(deployed)["VpcEndpointId"]
    deployed.world.consumer.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[ep])
    report = report_of(deployed)
    assert_only(report, "endpoint.exists", deployed.world.vpc_id)


def test_cluster_gone_skips_what_needs_it(deployed):
    deployed.world.provider.client("rds").delete_db_cluster(DBClusterIdentifier=deployed.world.cluster_id,
                                                            SkipFinalSnapshot=True)
    report = report_of(deployed)
    assert_only(report, "cluster.exists", deployed.world.cluster_id)
    assert report.get("model").status == "skipped"


def test_simulation_unavailable_on_the_sandbox_server_is_skipped_not_a_crash(deployed, calls):
    """The moto server answers an unimplemented SimulatePrincipalPolicy with an HTML 500 page, which botocore cannot
    parse (ResponseParserError): doctor used to exit 70 ("a bug in xacct") against `xacct sandbox up`."""
    from botocore.parsers import ResponseParserError

    calls.answers["SimulatePrincipalPolicy"] = ResponseParserError("Unable to parse response: <!doctype html>")
    check = report_of(deployed).get("iam.simulate")
    assert check.status == SKIPPED and "not available here" in check.evidence


def test_a_simulation_the_operator_is_denied_names_the_permission_and_the_fix(deployed):
    """The provider operator holds doctor's policy without iam:SimulatePrincipalPolicy: IAM (the sandbox's
    authorization) refuses the call. The chain is not shown broken, so the check stays skipped, but it says which
    permission is missing and how to grant it, instead of "unavailable"."""
    from botocore.exceptions import ClientError

    from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
    from xacct_dataapi.aws import Sessions
    from xacct_dataapi.models import Account
    from xacct_dataapi.sandbox import operators

    world = deployed.world
    doc = operators.generated_policy("provider", region=REGION, provider=PROVIDER, consumer=CONSUMER,
                                     cluster=world.cluster_id, vpc=world.vpc_id, command="doctor")
    for st in doc["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        st["Action"] = [a for a in actions if a != "iam:SimulatePrincipalPolicy"]
    doc["Statement"] = [st for st in doc["Statement"] if st["Action"]]
    operators.attach(world.provider.client("iam"), doc)
    role = role_arn(deployed)
    operator_iam = Sessions.from_profiles("consumer", "provider", REGION).client(Account.PROVIDER, "iam")
    with pytest.raises(ClientError) as refused:  # what AWS answers the operator
        operator_iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["rds-data:ExecuteStatement"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    check = report_of(deployed).get("iam.simulate")

    assert check.status == SKIPPED, check
    assert "iam:SimulatePrincipalPolicy" in check.evidence and role in check.evidence and "AccessDenied" in check.evidence
    assert "xacct permissions --side provider --for doctor" in check.evidence and "unavailable" not in check.evidence
    assert check.fix and "--for doctor" in check.fix
