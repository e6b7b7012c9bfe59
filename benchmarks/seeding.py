"""Many xacct deployments in one VPC, cluster and pair of accounts, made cheaply for benchmarks/scale.py: copies of
one member that xacct's own setup made.

A full `app.setup` per member costs ~1-2 s in the sandbox (its plan's ~20 reads, its writes, the membership's
convergence), so 499 of them take a quarter of an hour or more. Instead two members are set up by xacct's own code
(`seed-0000` creates the endpoint and turns the Data API on, `seed-0001` joins), and every further member copies
`seed-0001`'s AWS-side facts, read back from AWS, with the names and ids substituted:

- provider: its access role under `/xacct/<region>/<cluster>/` (the template's trust policy, tags and inline policy),
  a KMS key (the template's key policy and tags) with its alias, a secret under that key (the template's tags and
  resource policy);
- consumer: its user (tags, inline policy), its security group in the VPC with the template's tags, membership facts
  included (`xacct:endpoint`, `xacct:cluster`, `xacct:client-cidrs`) and the template's rules;
- its state file: the template's, names and ids substituted.

What differs from a real setup (docs/benchmarks.md): the secret's value is a placeholder (the template's is readable
only by its access role); the endpoint policy and rules are not rewritten per copy (every copy is on the template's
cluster and asks for the template's CIDRs, so a real join would leave them as they are); the copies' requests go
straight to the sandbox without xacct's checks, reads and waits.
"""
from __future__ import annotations

import json
from pathlib import Path

TEMPLATE = "seed-0001"


def name_of(i: int) -> str:
    return f"seed-{i:04d}"  # one width: substituting one name for another never touches a longer one


def _swap(value, pairs: list[tuple[str, str]]):
    text = json.dumps(value) if not isinstance(value, str) else value
    for old, new in pairs:
        text = text.replace(old, new)
    return json.loads(text) if not isinstance(value, str) else text


class Cloner:
    """Reads the template member once, then makes copies of it (admin sessions: the sandbox's own profiles)."""

    def __init__(self, consumer, provider, work: Path):
        from xacct_dataapi.config import Names, state_path_for

        self.iam_p, self.kms, self.sm = provider.client("iam"), provider.client("kms"), provider.client("secretsmanager")
        self.iam_c, self.ec2, self.work = consumer.client("iam"), consumer.client("ec2"), work
        n = Names(TEMPLATE)
        self.state = json.loads(state_path_for(TEMPLATE, work).read_text())
        role = self.iam_p.get_role(RoleName=n.access_role)["Role"]
        self.role = {"Path": role["Path"], "Trust": role["AssumeRolePolicyDocument"], "Tags": role.get("Tags", []),
                     "Policy": self.iam_p.get_role_policy(RoleName=n.access_role, PolicyName=n.access_role_policy)}
        key_id = self.kms.describe_key(KeyId=n.key_alias)["KeyMetadata"]["KeyId"]
        self.key = {"Id": key_id, "Policy": self.kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"],
                    "Tags": self.kms.list_resource_tags(KeyId=key_id)["Tags"]}
        secret = self.sm.describe_secret(SecretId=n.secret)
        self.secret = {"Arn": secret["ARN"], "Tags": secret.get("Tags", []),
                       "Policy": self.sm.get_resource_policy(SecretId=n.secret)["ResourcePolicy"]}
        user_policy = [r["id"].split("/", 1)[1] for r in self.state["resources"] if r["kind"] == "consumer_user_policy"]
        self.user = {"Tags": self.iam_c.list_user_tags(UserName=n.consumer_user)["Tags"],
                     "Policy": self.iam_c.get_user_policy(UserName=n.consumer_user, PolicyName=user_policy[0])}
        group = self.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [n.security_group]}])[
            "SecurityGroups"][0]
        self.group = group

    def copy(self, name: str) -> None:
        from xacct_dataapi.config import Names, state_path_for

        n, pairs = Names(name), [(TEMPLATE, name)]
        trust = _swap(self.role["Trust"], pairs)
        self.iam_p.create_role(RoleName=n.access_role, Path=self.role["Path"], AssumeRolePolicyDocument=json.dumps(trust),
                               Tags=_swap(self.role["Tags"], pairs))
        key = self.kms.create_key(Policy=_swap(self.key["Policy"], pairs), Tags=_swap(self.key["Tags"], pairs))
        key_id, key_arn = key["KeyMetadata"]["KeyId"], key["KeyMetadata"]["Arn"]
        self.kms.create_alias(AliasName=n.key_alias, TargetKeyId=key_id)
        pairs.append((self.key["Id"], key_id))
        secret_arn = self.sm.create_secret(Name=n.secret, KmsKeyId=key_arn, Tags=_swap(self.secret["Tags"], pairs),
                                           SecretString=json.dumps({"username": "app_user",
                                                                    "password": "seeded-placeholder"}))["ARN"]
        pairs.append((self.secret["Arn"], secret_arn))
        self.sm.put_resource_policy(SecretId=n.secret, ResourcePolicy=_swap(self.secret["Policy"], pairs))
        policy = self.role["Policy"]
        self.iam_p.put_role_policy(RoleName=n.access_role, PolicyName=n.access_role_policy,
                                   PolicyDocument=json.dumps(_swap(policy["PolicyDocument"], pairs)))
        self.iam_c.create_user(UserName=n.consumer_user, Tags=_swap(self.user["Tags"], pairs))
        up = self.user["Policy"]
        self.iam_c.put_user_policy(UserName=n.consumer_user, PolicyName=_swap(up["PolicyName"], pairs),
                                   PolicyDocument=json.dumps(_swap(up["PolicyDocument"], pairs)))
        g = self.group
        group_id = self.ec2.create_security_group(
            GroupName=n.security_group, Description=_swap(g["Description"], pairs), VpcId=g["VpcId"],
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _swap(g.get("Tags", []), pairs)}])["GroupId"]
        pairs.append((g["GroupId"], group_id))
        self._rules(group_id)
        state = _swap(self.state, pairs)
        path = state_path_for(name, self.work)
        path.write_text(json.dumps(state, indent=2))

    def _rules(self, group_id: str) -> None:
        """The template's rules (CIDR rules: a member's group names no other group)."""
        def plain(perms: list[dict]) -> list[dict]:
            return [{k: v for k, v in p.items() if k in ("IpProtocol", "FromPort", "ToPort", "IpRanges")} for p in perms]

        self.ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        if self.group.get("IpPermissions"):
            self.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=plain(self.group["IpPermissions"]))
        if self.group.get("IpPermissionsEgress"):
            self.ec2.authorize_security_group_egress(GroupId=group_id,
                                                     IpPermissions=plain(self.group["IpPermissionsEgress"]))


def seed_members(bench, count: int) -> None:
    """`count` deployments besides the one measured: two by xacct's setup, the rest copies of the second."""
    import boto3

    from teardown_growth import set_up
    from xacct_dataapi.demo import sandbox_environment

    set_up(bench, [name_of(i) for i in range(min(count, 2))])
    if count <= 2:
        return
    info = bench.info
    with sandbox_environment(info.env()):
        consumer = boto3.Session(profile_name=info.consumer_profile, region_name=info.region)
        provider = boto3.Session(profile_name=info.provider_profile, region_name=info.region)
        cloner = Cloner(consumer, provider, bench.work)
        for i in range(2, count):
            cloner.copy(name_of(i))
