"""The deployment model as two CloudFormation templates: provider.yaml and consumer.yaml.

Nothing here decides what to create or which policy to write: every resource comes from a step's
`desired(ctx)` (models.Resource) and every policy document from policies.py, exactly as `setup` gets
them. The steps run against a *template context*: the real Context with the values CloudFormation
only knows at deploy time replaced by `${...}` placeholders (the stack's own account, region and
partition; parameters such as ${ClusterArn}), and no recorded resource ids, so every id that does not
exist yet is a models.Ref. Converting the result is mechanical:

  Ref("key_arn") etc.      -> {"Fn::GetAtt": [...]} / {"Ref": ...}   (REFS below)
  a string with "${...}"   -> {"Fn::Sub": string}
  each Resource kind       -> one CloudFormation resource (MAPPERS below), or none, with the reason

AWS sources (CloudFormation template reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/
TemplateReference/ + the page): aws-resource-kms-key.html (KeyPolicy, PendingWindowInDays),
aws-resource-kms-alias.html, aws-resource-secretsmanager-secret.html (GenerateSecretString; Ref
returns the ARN), aws-resource-secretsmanager-resourcepolicy.html (BlockPublicPolicy),
aws-resource-iam-role.html, aws-resource-iam-rolepolicy.html, aws-resource-iam-user.html,
aws-resource-iam-userpolicy.html, aws-resource-ec2-securitygroup.html (GroupId attribute; egress
rules replace the default allow-all), aws-resource-ec2-vpcendpoint.html (Ref returns the endpoint id),
aws-resource-rds-dbcluster.html (EnableHttpEndpoint). Trust policy size: IAM quotas,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (2,048 characters by
default, up to 4,096 through Service Quotas; whitespace is not counted).
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from xacct_dataapi import policies
from xacct_dataapi.context import Context
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account, Ref, Resource, Sensitive
from xacct_dataapi.state import State
from xacct_dataapi.steps import STEPS
from xacct_dataapi.steps.common import access_role_arn

TRUST_POLICY_LIMIT = 2048  # IAM quotas: role trust policy length, default (adjustable to 4,096)

ACCOUNT_RE = re.compile(r"^\d{12}\Z")
ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}\Z")

# Placeholders the template context uses; each is a pseudo parameter or a template parameter.
THIS_ACCOUNT, THIS_REGION, THIS_PARTITION = "${AWS::AccountId}", "${AWS::Region}", "${AWS::Partition}"
PROVIDER_ACCOUNT = "${ProviderAccountId}"  # consumer side only; folded into ${AccessRoleArn}

# A Ref's key -> (logical id, attribute or None for Ref). Fn::Sub names them ${Id} / ${Id.Attribute}.
REFS = {
    "key_id": ("Key", None),
    "key_arn": ("Key", "Arn"),
    "secret_arn": ("Secret", None),  # Ref of AWS::SecretsManager::Secret is its ARN
    "access_role_arn": ("AccessRole", "Arn"),
    "external_id": ("ExternalId", None),  # a parameter
    "security_group_id": ("SecurityGroup", "GroupId"),
    "endpoint_id": ("Endpoint", None),
}

# Generated at create, never in a template or a parameter: these characters break connection strings.
PASSWORD_EXCLUDE = "\"'@/\\ "


@dataclass(frozen=True)
class Consumers:
    """`--consumers-from`: the consumer accounts the provider trusts (one, by default: the deployment's)."""

    accounts: tuple[str, ...] = ()
    org_id: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> "Consumers | None":
        if not text:
            return None
        kind, _, rest = text.partition(":")
        if kind == "accounts":
            ids = tuple(dict.fromkeys(a.strip() for a in rest.split(",") if a.strip()))
            bad = [a for a in ids if not ACCOUNT_RE.match(a)]
            if ids and not bad:
                return cls(accounts=ids)
        elif kind == "org" and ORG_RE.match(rest.strip()):
            return cls(org_id=rest.strip())
        raise UsageError(f"--consumers-from {text!r} is not understood.",
                         "Use accounts:111111111111,222222222222 (12-digit account ids) or org:o-abcd123456 "
                         "(the organization id from `aws organizations describe-organization`).")


class TemplateContext(Context):
    """A Context whose region and partition are the stack's own (CloudFormation pseudo parameters)."""

    @property
    def region(self) -> str:
        return THIS_REGION

    @property
    def partition(self) -> str:
        return THIS_PARTITION


def _no_password() -> str:
    raise AssertionError("export never reads the database password: the template generates it")


def _arn_in(arn: str, account: str) -> str:
    """The same ARN in another account (and the stack's partition): arn:${AWS::Partition}:iam::ACCOUNT:..."""
    parts = arn.split(":")
    parts[1], parts[4] = THIS_PARTITION, account
    return ":".join(parts)


def template_context(ctx: Context, side: Account) -> TemplateContext:
    """The real context as a template sees it from `side`'s account: no recorded ids, placeholders for the
    values that depend on where the stack runs. The consumer side is one template for every consumer account."""
    provider = THIS_ACCOUNT if side is Account.PROVIDER else PROVIDER_ACCOUNT
    consumer = ctx.consumer_account if side is Account.PROVIDER else THIS_ACCOUNT
    cluster_arn = (f"arn:{THIS_PARTITION}:rds:{THIS_REGION}:{THIS_ACCOUNT}:cluster:{ctx.cluster.id}"
                   if side is Account.PROVIDER else "${ClusterArn}")
    cfg = dataclasses.replace(ctx.cfg, vpc_id="${VpcId}")
    principal = dataclasses.replace(ctx.principal, arn=_arn_in(ctx.principal.arn, consumer))
    tctx = TemplateContext(cfg, ctx.aws, State(name=ctx.cfg.name), consumer, provider,
                           dataclasses.replace(ctx.cluster, arn=cluster_arn), "${ClientCidr}", principal, _no_password,
                           values={})
    tctx.external_id()  # no value: documents name the ExternalId parameter (Ref("external_id"))
    return tctx


def desired(tctx: TemplateContext, side: Account) -> list[Resource]:
    """The steps' desired resources of one side, in execution order."""
    return [r for step in STEPS for r in step.desired(tctx) if r.account is side]


# --------------------------------------------------------------------------- values


def cfn(value: Any, replace: dict[str, str] | None = None) -> Any:
    """A model value as CloudFormation: Refs become Ref/GetAtt, placeholder strings Fn::Sub."""
    if isinstance(value, Ref):
        logical, attr = REFS[value.key]
        return {"Fn::GetAtt": [logical, attr]} if attr else {"Ref": logical}
    if isinstance(value, Sensitive):
        raise AssertionError("a secret value must never reach a template")
    if isinstance(value, dict):
        return {k: cfn(v, replace) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cfn(v, replace) for v in value]
    if isinstance(value, str):
        for old, new in (replace or {}).items():
            value = value.replace(old, new)
        if "${" in value:
            return {"Ref": value[2:-1]} if re.fullmatch(r"\$\{[A-Za-z0-9:]+\}", value) else {"Fn::Sub": value}
    return value


def tags(d: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in d.items()]


def _trust_size(doc: dict, ctx: Context) -> int:
    """Characters IAM counts (no whitespace), with the placeholders resolved as AWS would see them."""
    text = json.dumps(substitute(doc, {
        "AWS::Partition": ctx.partition, "AWS::AccountId": ctx.provider_account, "AWS::Region": ctx.region,
        "ExternalId": ctx.values.get("external_id") or "xacct-" + "0" * 32}), separators=(",", ":"))
    return len(re.sub(r"\s", "", text))


def substitute(value: Any, params: dict[str, str]) -> Any:
    """Resolve a template fragment: Fn::Sub / Ref / Fn::GetAtt from `params` ("Key.Arn", "ExternalId", ...).
    Used for the size check and by tests that compare the templates' documents with what setup writes."""
    if isinstance(value, Ref):
        logical, attr = REFS[value.key]
        return params[f"{logical}.{attr}" if attr else logical]
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(params[m.group(1)]), value["Fn::Sub"])
        if set(value) == {"Ref"}:
            return params[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return params[".".join(value["Fn::GetAtt"])]
        return {k: substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if isinstance(value, str) and "${" in value:
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(params[m.group(1)]), value)
    return value


# --------------------------------------------------------------------------- one mapper per kind


@dataclass
class Template:
    """A template being built: its resources, and the model kinds each one implements."""

    side: Account
    resources: dict = dataclasses.field(default_factory=dict)
    implements: dict = dataclasses.field(default_factory=dict)  # logical id -> [model kind]
    not_in_template: dict = dataclasses.field(default_factory=dict)  # model kind -> why
    replace: dict = dataclasses.field(default_factory=dict)  # literal -> placeholder, applied to every string

    def add(self, logical: str, kind: str, type_: str, properties: dict, **attributes) -> None:
        self.resources[logical] = {"Type": type_, **attributes, "Properties": cfn(properties, self.replace)}
        self.implements.setdefault(logical, []).append(kind)

    def merge(self, logical: str, kind: str, properties: dict) -> None:
        self.resources[logical]["Properties"].update(cfn(properties, self.replace))
        self.implements[logical].append(kind)


def _kms_key(t: Template, r: Resource, ctx) -> None:
    p = r.properties
    t.add("Key", r.kind, "AWS::KMS::Key", {
        "Description": p["Description"], "KeyUsage": p["KeyUsage"], "KeySpec": p["KeySpec"], "Enabled": p["Enabled"],
        "PendingWindowInDays": ctx.cfg.key_deletion_days, "Tags": tags(r.tags)})


def _kms_key_policy(t: Template, r: Resource, ctx) -> None:
    # CloudFormation has no separate key-policy resource: the policy is the key's KeyPolicy property.
    t.merge("Key", r.kind, {"KeyPolicy": r.documents["key_policy"]})


def _kms_alias(t: Template, r: Resource, ctx) -> None:
    t.add("KeyAlias", r.kind, "AWS::KMS::Alias", {"AliasName": r.id, "TargetKeyId": r.properties["TargetKeyId"]})


def _secret(t: Template, r: Resource, ctx) -> None:
    secret: Sensitive = r.properties["SecretString"]
    fields = {k: v for k, v in secret.preview.items() if k != "password"}
    t.add("Secret", r.kind, "AWS::SecretsManager::Secret", {
        "Name": r.id, "Description": r.properties["Description"], "KmsKeyId": r.properties["KmsKeyId"],
        # The password is generated by Secrets Manager at create: it is in no template, parameter or stack event.
        "GenerateSecretString": {"SecretStringTemplate": json.dumps(fields), "GenerateStringKey": "password",
                                 "PasswordLength": 32, "ExcludeCharacters": PASSWORD_EXCLUDE},
        "Tags": tags(r.tags)})


def _secret_policy(t: Template, r: Resource, ctx) -> None:
    t.add("SecretPolicy", r.kind, "AWS::SecretsManager::ResourcePolicy", {
        "SecretId": r.arn, "ResourcePolicy": r.documents["secret_policy"], "BlockPublicPolicy": True})


def _iam_role(t: Template, r: Resource, ctx) -> None:
    t.add("AccessRole", r.kind, "AWS::IAM::Role", {
        "RoleName": r.id, "Path": r.properties["Path"], "Description": r.properties["Description"],
        "MaxSessionDuration": r.properties["MaxSessionDuration"],
        "AssumeRolePolicyDocument": r.documents["access_role_trust"], "Tags": tags(r.tags)})


def _iam_role_policy(t: Template, r: Resource, ctx) -> None:
    t.add("AccessRolePolicy", r.kind, "AWS::IAM::RolePolicy", {
        "RoleName": {"Ref": "AccessRole"}, "PolicyName": r.properties["PolicyName"],
        "PolicyDocument": r.documents["access_role_permissions"]})


def _data_api(t: Template, r: Resource, ctx) -> None:
    t.not_in_template[r.kind] = (
        f"The Data API of cluster {r.id} is a property of the cluster (AWS::RDS::DBCluster EnableHttpEndpoint: true), "
        "owned by the stack that owns the cluster; or run `aws rds enable-http-endpoint --resource-arn ARN`.")


def _iam_user(t: Template, r: Resource, ctx) -> None:
    t.add("ConsumerUser", r.kind, "AWS::IAM::User", {"UserName": r.id, "Tags": tags(r.tags)})


def _adopted(t: Template, r: Resource, ctx) -> None:
    t.not_in_template[r.kind] = (f"{r.properties['Type']} {r.id} is the application's own: the template only adds "
                                 "its inline policy, in every consumer account that has it.")


def _consumer_policy(t: Template, r: Resource, ctx) -> None:
    principal = ctx.principal
    if principal.kind == "role":
        type_, key = "AWS::IAM::RolePolicy", "RoleName"
    else:
        type_, key = "AWS::IAM::UserPolicy", "UserName"
    name = {"Ref": "ConsumerUser"} if not principal.adopted else principal.name
    t.add("ConsumerPolicy", r.kind, type_, {key: name, "PolicyName": r.properties["PolicyName"],
                                            "PolicyDocument": r.documents["consumer_assume_role"]})


def _rule(rule: dict) -> dict:
    (ip_range,) = rule["IpRanges"]
    return {"IpProtocol": rule["IpProtocol"], "FromPort": rule["FromPort"], "ToPort": rule["ToPort"],
            "CidrIp": ip_range["CidrIp"], "Description": ip_range["Description"]}


def _security_group(t: Template, r: Resource, ctx) -> None:
    p = r.properties
    t.add("SecurityGroup", r.kind, "AWS::EC2::SecurityGroup", {
        "GroupName": p["GroupName"], "GroupDescription": p["Description"], "VpcId": p["VpcId"],
        "SecurityGroupIngress": [_rule(x) for x in p["Ingress"]],
        # Listing egress rules replaces the default allow-all, as setup's RevokeSecurityGroupEgress does.
        "SecurityGroupEgress": [_rule(x) for x in p["Egress"]], "Tags": tags(r.tags)})


def _vpc_endpoint(t: Template, r: Resource, ctx) -> None:
    p = r.properties
    props = {"VpcEndpointType": p["VpcEndpointType"], "VpcId": p["VpcId"], "ServiceName": p["ServiceName"],
             "SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": [Ref("security_group_id")],
             "PrivateDnsEnabled": p["PrivateDnsEnabled"], "Tags": tags(r.tags)}
    if p["PolicyMode"] != "full":  # "full": no policy, AWS's default applies (as setup sends none)
        props["PolicyDocument"] = r.documents["endpoint_policy"]
    t.add("Endpoint", r.kind, "AWS::EC2::VPCEndpoint", props)


MAPPERS: dict[str, Callable[[Template, Resource, Any], None]] = {
    "kms_key": _kms_key, "kms_key_policy": _kms_key_policy, "kms_alias": _kms_alias,
    "secret": _secret, "secret_policy": _secret_policy,
    "iam_role": _iam_role, "iam_role_policy": _iam_role_policy,
    "data_api": _data_api,
    "iam_user": _iam_user, "consumer_role": _adopted, "consumer_user": _adopted,
    "consumer_user_policy": _consumer_policy, "consumer_role_policy": _consumer_policy,
    "security_group": _security_group, "vpc_endpoint": _vpc_endpoint,
}


# --------------------------------------------------------------------------- the two templates


def _widen_to_consumers(resources: list[Resource], tctx: TemplateContext, consumers: Consumers,
                        real: Context) -> list[Resource]:
    """--consumers-from: the trust and the key grant admit every listed account (or the organization), each
    narrowed to the consumer principal of the same name; the documents come from policies.py's builders."""
    accounts = list(consumers.accounts)
    arns = [_arn_in(real.principal.arn, a) for a in accounts]
    pattern = _arn_in(real.principal.arn, "*")
    out = []
    for r in resources:
        if "access_role_trust" in r.documents:
            doc = policies.access_role_trust_policy_for_consumers(
                accounts, arns, Ref("external_id"), tctx.partition, consumers.org_id, pattern)
            size = _trust_size(cfn(doc), real)
            if size > TRUST_POLICY_LIMIT:
                raise UsageError(
                    f"--consumers-from: the access role's trust policy for {len(accounts)} accounts would be {size:,} "
                    f"characters; IAM allows {TRUST_POLICY_LIMIT:,} by default (4,096 at most, through Service Quotas).",
                    "Trust the organization instead: --consumers-from org:o-xxxxxxxxxx (aws:PrincipalOrgID, narrowed "
                    "to the consumer principal's name), or split the accounts over several deployments.")
            r = dataclasses.replace(r, documents={**r.documents, "access_role_trust": doc})
        # The key policy needs no change for many consumers: it grants the provider's access role, whichever
        # consumer assumed it (step 2 grants the principal that actually decrypts).
        out.append(r)
    return out


def _build(side: Account, resources: list[Resource], tctx: TemplateContext, replace: dict) -> Template:
    t = Template(side, replace=replace)
    for r in resources:
        MAPPERS[r.kind](t, r, tctx)
    return t


def _document(t: Template, description: str, parameters: dict, outputs: dict, notes: list[str]) -> dict:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Metadata": {"xacct": {
            "implements": t.implements,
            "not_in_template": t.not_in_template,
            "notes": notes,
        }},
        "Parameters": parameters,
        "Resources": t.resources,
        "Outputs": outputs,
    }


def _output(description: str, value: Any) -> dict:
    return {"Description": description, "Value": value}


def _swap_ref(value: Any, logical: str, parameter: str) -> tuple[Any, bool]:
    """`value` with every {"Ref": logical} made {"Ref": parameter}; and whether there was one."""
    if value == {"Ref": logical}:
        return {"Ref": parameter}, True
    if isinstance(value, dict):
        pairs = {k: _swap_ref(v, logical, parameter) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(hit for _, hit in pairs.values())
    if isinstance(value, list):
        pairs = [_swap_ref(v, logical, parameter) for v in value]
        return [v for v, _ in pairs], any(hit for _, hit in pairs)
    return value, False


def _endpoint_ids_parameter(ctx: Context) -> dict:
    """--require-private-path: the access role's rds-data statement names the consumers' endpoints. They live in the
    consumer stacks, and a Ref must resolve inside its own template (cfn-lint E1020), so the provider template takes
    them as a list parameter: one id per consumer VPC (the consumer stacks' EndpointId outputs)."""
    recorded = ctx.values.get("endpoint_id")
    param = {"Type": "CommaDelimitedList",
             "Description": "The rds-data endpoint id(s) the access role may be used through (aws:SourceVpce): the "
                            "EndpointId output of each consumer stack, comma-separated"}
    return {**param, "Default": recorded} if recorded else param


def provider_template(ctx: Context, consumers: Consumers | None, external_id: str) -> dict:
    tctx = template_context(ctx, Account.PROVIDER)
    resources = desired(tctx, Account.PROVIDER)
    if consumers is not None:
        resources = _widen_to_consumers(resources, tctx, consumers, ctx)
    t = _build(Account.PROVIDER, resources, tctx, {})
    parameters = {"ExternalId": {
        "Type": "String", "MinLength": 2, "MaxLength": 1224, "AllowedPattern": r"[\w+=,.@:/-]*",
        "Default": external_id,
        "Description": "sts:ExternalId the consumers pass to AssumeRole (not a secret; IAM allows 2-1,224 characters)"}}
    t.resources, private_path = _swap_ref(t.resources, "Endpoint", "EndpointIds")
    if private_path:
        parameters["EndpointIds"] = _endpoint_ids_parameter(ctx)
    who = (f"the organization {consumers.org_id}" if consumers and consumers.org_id else
           "accounts " + ", ".join(consumers.accounts) if consumers else f"account {ctx.consumer_account}")
    outputs = {
        "AccessRoleArn": _output("The role the consumer principal assumes", {"Fn::GetAtt": ["AccessRole", "Arn"]}),
        "ExternalId": _output("The external id to pass to AssumeRole", {"Ref": "ExternalId"}),
        "ClusterArn": _output("resourceArn for rds-data calls", cfn(tctx.cluster.arn)),
        "SecretArn": _output("secretArn for rds-data calls", {"Ref": "Secret"}),
        "Database": _output("database for rds-data calls", tctx.secret_fields()["fields"]["dbname"]),
        "KeyArn": _output("The key that encrypts the secret", {"Fn::GetAtt": ["Key", "Arn"]}),
    }
    notes = [
        "Deploy this stack first (the consumer template names its access role).",
        "The DB password is generated by Secrets Manager (GenerateSecretString): set the database user's password "
        "to it, or put your own with `aws secretsmanager put-secret-value` (see README.md).",
    ]
    return _document(t, f"xacct {ctx.cfg.name}: cross-account RDS Data API, provider side (trusts {who})",
                     parameters, outputs, notes)


def consumer_template(ctx: Context, external_id: str) -> dict:
    tctx = template_context(ctx, Account.CONSUMER)
    role_arn = access_role_arn(tctx)  # as the steps name it, path included; the parameter stands in for it
    t = _build(Account.CONSUMER, desired(tctx, Account.CONSUMER), tctx, {role_arn: "${AccessRoleArn}"})
    parameters = {
        "VpcId": {"Type": "AWS::EC2::VPC::Id", "Default": ctx.cfg.vpc_id,
                  "Description": "VPC for the rds-data endpoint (DNS support and DNS hostnames on)"},
        "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>", "Default": ",".join(ctx.cfg.subnet_ids),
                      "Description": "Subnets for the endpoint, one per Availability Zone"},
        "ClientCidr": {"Type": "String", "Default": ctx.vpc_cidr,
                       "AllowedPattern": r"(\d{1,3}\.){3}\d{1,3}/\d{1,2}",
                       "Description": "CIDR of the clients that call rds-data (setup uses the VPC's CIDR)"},
        "AccessRoleArn": {"Type": "String",
                          "Default": access_role_arn(ctx),
                          "AllowedPattern": r"arn:[\w-]+:iam::\d{12}:role/[\w+=,.@/-]+",
                          "Description": "The provider stack's AccessRoleArn output"},
        "ClusterArn": {"Type": "String", "Default": ctx.cluster.arn,
                       "AllowedPattern": r"arn:[\w-]+:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]*",
                       "Description": "The provider stack's ClusterArn output"},
        "ExternalId": {"Type": "String", "MinLength": 2, "MaxLength": 1224, "Default": external_id,
                       "AllowedPattern": r"[\w+=,.@:/-]*", "Description": "The provider stack's ExternalId output"},
    }
    if ctx.cfg.endpoint_policy != "full":  # it admits the access roles under the cluster's IAM path in that account
        parameters["ProviderAccountId"] = {"Type": "String", "Default": ctx.provider_account, "AllowedPattern": r"\d{12}",
                                           "Description": "The provider account (in AccessRoleArn and ClusterArn)"}
    principal = ({"Fn::GetAtt": ["ConsumerUser", "Arn"]} if "ConsumerUser" in t.resources else cfn(tctx.principal.arn))
    outputs = {
        "ConsumerPrincipalArn": _output("The principal that may assume the access role", principal),
        "AccessRoleArn": _output("The role to assume", {"Ref": "AccessRoleArn"}),
        "ExternalId": _output("The external id to pass to AssumeRole", {"Ref": "ExternalId"}),
        "ClusterArn": _output("resourceArn for rds-data calls", {"Ref": "ClusterArn"}),
        "EndpointId": _output("The rds-data interface endpoint (private DNS on)", {"Ref": "Endpoint"}),
        "SecurityGroupId": _output("The endpoint's security group", {"Fn::GetAtt": ["SecurityGroup", "GroupId"]}),
    }
    notes = ["One template for every consumer account: deploy it as a StackSet (README.md) after the provider stack.",
             "Only one endpoint per VPC can hold rds-data's private DNS name: skip VPCs that already have one."]
    return _document(t, f"xacct {ctx.cfg.name}: cross-account RDS Data API, consumer side", parameters, outputs, notes)


def templates(ctx: Context, consumers: Consumers | None = None) -> dict[str, dict]:
    """{"provider": template, "consumer": template} for the context's deployment."""
    external_id = ctx.values.get("external_id") or ctx.external_id()
    return {"provider": provider_template(ctx, consumers, external_id), "consumer": consumer_template(ctx, external_id)}
