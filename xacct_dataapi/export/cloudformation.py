"""The deployment model as two CloudFormation templates: provider.yaml and consumer.yaml.

Nothing here decides what to create or which policy to write: every resource comes from a step's
`desired(ctx)` (models.Resource) and every policy document from policies.py, exactly as `setup` gets
them. The steps run against a *template context*: the real Context with the values CloudFormation
only knows at deploy time replaced by `${...}` placeholders (the stack's own account, region and
partition; parameters such as ${ClusterArn}), and no recorded resource ids, so every id that does not
exist yet is a models.Ref. Converting the result is mechanical:

  Ref("key_arn") etc.      -> {"Fn::GetAtt": [...]} / {"Ref": ...}   (REFS below)
  a string with "${...}"   -> {"Fn::Sub": string}
  each Resource kind       -> one CloudFormation resource (its resource type's `cloudformation`), or none, with
                              the reason

AWS sources (the mappings are in resource_types/; CloudFormation template reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/
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
from typing import Any

from xacct_dataapi import policies
from xacct_dataapi.config import new_external_id
from xacct_dataapi.context import Context, Inputs
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account, Ref, Resource
from xacct_dataapi.resource_types import TYPES
from xacct_dataapi.resource_types.cfn import Template, cfn as to_cfn
from xacct_dataapi.state import State
from xacct_dataapi.steps import registered
from xacct_dataapi.steps.common import access_role_arn

TRUST_POLICY_LIMIT = 2048  # IAM quotas: role trust policy length, default (adjustable to 4,096)

ACCOUNT_RE = re.compile(r"^\d{12}\Z")
ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}\Z")

# Placeholders the template context uses; each is a pseudo parameter or a template parameter.
THIS_ACCOUNT, THIS_REGION, THIS_PARTITION = "${AWS::AccountId}", "${AWS::Region}", "${AWS::Partition}"
PROVIDER_ACCOUNT = "${ProviderAccountId}"  # consumer side only; folded into ${AccessRoleArn}

# A Ref's key -> (logical id, attribute or None for Ref), declared by the resource types (ResourceType.cfn_refs).
REFS = {key: where for t in TYPES.values() for key, where in t.cfn_refs.items()}


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
    inputs = Inputs(consumer, provider, dataclasses.replace(ctx.cluster, arn=cluster_arn), "${ClientCidr}", principal)
    # No external id: documents name the ExternalId parameter (Ref("external_id")).
    return TemplateContext(cfg, ctx.aws, State(name=ctx.cfg.name), inputs, _no_password, values={},
                           generated=frozenset({"external_id"}))


def desired(tctx: TemplateContext, side: Account) -> list[Resource]:
    """The steps' desired resources of one side, in execution order."""
    return [r for step in registered() for r in step.desired(tctx) if r.account is side]


# --------------------------------------------------------------------------- values


def cfn(value: Any, replace: dict[str, str] | None = None) -> Any:
    """A model value as CloudFormation (resource_types.cfn.cfn with every type's Refs)."""
    return to_cfn(value, REFS, replace)


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
    t = Template(side, refs=REFS, replace=replace)
    for r in resources:
        TYPES[r.kind].cloudformation(t, r, tctx)  # each kind's mapping is its resource type's
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
    external_id = ctx.values.get("external_id") or new_external_id()
    return {"provider": provider_template(ctx, consumers, external_id), "consumer": consumer_template(ctx, external_id)}
