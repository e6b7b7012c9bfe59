"""A kind of resource xacct does not have, brought by one module (tests/steps/test_registry.py): an SSM parameter
(moto simulates SSM). Everything a kind needs is here: read, the ownership test, create/diff/update for the
generic planner, delete, discovery by tag, the CloudFormation mapping and the operator's IAM grants.

AWS sources: SSM API reference, GetParameter / PutParameter (Overwrite, and "Tags can't be specified with
Overwrite") / DescribeParameters (ParameterFilters `tag:KEY`) / DeleteParameter (ParameterNotFound),
https://docs.aws.amazon.com/systems-manager/latest/APIReference/; CloudFormation AWS::SSM::Parameter (Tags is a
key-value map), https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-parameter.html.
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.errors import error_code
from xacct_dataapi.models import Call, Record
from xacct_dataapi.resource_types.base import (
    NOT_OURS, OURS, Ownership, ResourceType, _Probe, tags_of, tagged_for,
)
from xacct_dataapi.resource_types.grants import FINDS, SETUP, TEARDOWN, Grant, P


class SsmParameter(ResourceType):
    kind, service, noun = "ssm_parameter", "ssm", "SSM parameter"

    def read(self, client, row):
        try:
            found = client.get_parameter(Name=row.id)
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":  # SSM's own not-found code
                return None
            raise
        tags = client.list_tags_for_resource(ResourceType="Parameter", ResourceId=row.id).get("TagList")
        return {**found["Parameter"], "Tags": tags_of(tags)}

    def judge(self, found, row, names):
        if not found["Name"].startswith(f"/{names.prefix}/"):
            return Ownership(NOT_OURS, f"this deployment's parameters are under /{names.prefix}/")
        if not tagged_for(found["Tags"], names.deployment):
            return Ownership(NOT_OURS, f"it is not tagged xacct:deployment={names.deployment}")
        return Ownership(OURS, f"parameter {found['Name']} carries this deployment's name and tags")

    def find(self, finder) -> list:
        ssm = finder.client(self.account, "ssm")
        pages = ssm.get_paginator("describe_parameters").paginate(
            ParameterFilters=[{"Key": f"tag:{TAG_DEPLOYMENT}", "Values": [finder.names.deployment]}])
        out = []
        for name in sorted(p["Name"] for page in pages for p in page["Parameters"]):
            found = self.read(ssm, _Probe(name))
            if found is not None and self.judge(found, _Probe(name), finder.names).ours:
                out.append((name, found.get("ARN")))
        return out

    def create(self, r) -> list:
        return [Call(r.account, "ssm", "put_parameter",
                     {"Name": r.id, "Value": r.properties["Value"], "Type": "String",
                      "Tags": [{"Key": k, "Value": v} for k, v in r.tags.items()]},
                     record=Record(self.kind, r.id), description=f"write parameter {r.id}")]

    def differences(self, found, r) -> list[str]:
        want = r.properties["Value"]
        return [] if found["Value"] == want else [f"value is {found['Value']!r}, desired {want!r}"]

    def update(self, found, r) -> list:
        return [Call(r.account, "ssm", "put_parameter",
                     {"Name": r.id, "Value": r.properties["Value"], "Type": "String", "Overwrite": True},
                     description=f"write parameter {r.id} again")]

    def record(self, r, found) -> Record:
        return Record(self.kind, r.id, arn=found.get("ARN"))

    def delete(self, row, state) -> list:
        return [Call(self.account, "ssm", "delete_parameter", {"Name": row.id}, forget=(row.kind, row.id),
                     ok_codes=("ParameterNotFound",), description=f"delete parameter {row.id}")]

    def cloudformation(self, t, r, ctx) -> None:
        logical = "Parameter" + "".join(part.title() for part in r.id.replace("-", "/").split("/") if part)
        t.add(logical, r.kind, "AWS::SSM::Parameter", {"Name": r.id, "Type": "String",
                                                       "Value": r.properties["Value"], "Tags": dict(r.tags)})


TYPES = (SsmParameter(),)
PARAMETERS = "arn:{p}:ssm:{region}:{provider}:parameter/xacct-{name}/*"
GRANTS = (
    Grant("ManageXacctParameters", P,
          {"ssm:GetParameter": FINDS, "ssm:ListTagsForResource": FINDS, "ssm:PutParameter": SETUP,
           "ssm:AddTagsToResource": SETUP, "ssm:DeleteParameter": TEARDOWN}, (PARAMETERS,),
          implied=("ssm:AddTagsToResource",)),
    Grant("FindXacctParameters", P, {"ssm:DescribeParameters": FINDS}, ("*",),
          why_star="DescribeParameters has no resource type: it is authorised on `*`."),
)
