"""IAM inline policies: the access role's permissions, and the policy xacct adds to a consumer principal (its own
user, or one it adopted) to let it assume the access role. Their operator grants are iam.py's."""
from __future__ import annotations

import json
from urllib.parse import unquote

from xacct_dataapi.config import ROLE_ARN_RE
from xacct_dataapi.models import Account, Call, JsonDoc, Record
from xacct_dataapi.resource_types.base import (
    NOT_OURS, OURS, DocumentDiff, Ownership, ResourceType, _Probe, read_or_none,
)
from xacct_dataapi.resource_types.iam import AccessRole


class _InlinePolicy(DocumentDiff, ResourceType):
    """A row `<principal>/<policy>`: ours if the policy has this deployment's name and its principal is ours (the
    access role) or its document names this deployment's access role (the policy added to a consumer principal)."""

    service, noun = "iam", "inline policy"
    entity = ""
    principal_type: ResourceType | None = None

    def policy_name(self, names) -> str:
        raise NotImplementedError

    def read_part(self, client, row):
        principal, _, policy = row.id.partition("/")
        if not (principal and policy):  # a row xacct never writes (a state file is untrusted): no such policy
            return None
        found = read_or_none(getattr(client, f"get_{self.entity}_policy"),
                             **{f"{self.entity.title()}Name": principal, "PolicyName": policy})
        if found is None:
            return None
        document = found["PolicyDocument"]
        if isinstance(document, str):  # IAM returns it URL-encoded; boto3 decodes it, a raw client may not
            document = json.loads(unquote(document))
        return {"Principal": principal, "PolicyName": policy, "Document": document, "Owner": None}

    def joined(self, found, container):
        return None if found is None else {**found, "Owner": container}

    def read(self, client, row):
        found = self.read_part(client, row)
        if found is None or self.principal_type is None:
            return found
        return self.joined(found, self.principal_type.read(client, _Probe(found["Principal"])))

    def put(self, r, description: str) -> Call:
        principal, policy = r.id.split("/", 1)
        return Call(r.account, "iam", f"put_{self.entity}_policy",
                    {f"{self.entity.title()}Name": principal, "PolicyName": policy,
                     "PolicyDocument": JsonDoc(r.documents[self.document])},
                    record=Record(self.kind, r.id, name=policy), description=description)

    def update(self, found, r) -> list:
        return self.create(r)  # the document is written whole

    def record(self, r, found) -> Record:
        return Record(self.kind, r.id, name=r.id.split("/", 1)[1])

    def judge(self, found, row, names):
        if found["PolicyName"] != self.policy_name(names):
            return Ownership(NOT_OURS, f"this deployment's policy is named {self.policy_name(names)}")
        if self.principal_type is not None:
            owner = found["Owner"]
            verdict = self.principal_type.judge(owner, _Probe(found["Principal"]), names) if owner else None
            if verdict is None or not verdict.ours:
                return Ownership(NOT_OURS, f"{self.entity} {found['Principal']} is not this deployment's")
        elif names.access_role not in roles_named(found["Document"]):
            return Ownership(NOT_OURS, f"its document does not name this deployment's access role {names.access_role}")
        return Ownership(OURS, f"policy {found['PolicyName']} is this deployment's")

    def delete(self, row, state) -> list:
        """The inline policy xacct put on a role or user (`<principal>/<policy>`)."""
        principal, _, policy = row.id.partition("/")  # never sent for a malformed id: its guard finds it gone
        entity = self.entity.title()
        return [Call(self.account, "iam", f"delete_{self.entity}_policy", {f"{entity}Name": principal,
                                                                          "PolicyName": policy},
                     forget=(row.kind, row.id), ok_codes=("NoSuchEntity",),
                     description=f"delete inline policy {policy} from {principal}")]


class AccessRolePolicy(_InlinePolicy):
    kind, entity, principal_type, account = "iam_role_policy", "role", AccessRole(), Account.PROVIDER
    doctor_link = "access role"
    inside, document, what = ("iam_role",), "access_role_permissions", "permissions "

    def create(self, r) -> list:
        return [self.put(r, "attach the Data API permissions")]

    def cloudformation(self, t, r, ctx) -> None:
        t.add("AccessRolePolicy", r.kind, "AWS::IAM::RolePolicy", {
            "RoleName": {"Ref": "AccessRole"}, "PolicyName": r.properties["PolicyName"],
            "PolicyDocument": r.documents["access_role_permissions"]})

    def policy_name(self, names) -> str:
        return names.access_role_policy


def roles_named(document) -> set[str]:
    """The names of the roles a policy document's statements name by ARN (a Resource ending in role/[path/]NAME): the
    consumer policy is ours only if it names the access role itself, not a role whose name merely contains it."""
    found = set()
    statements = document.get("Statement") if isinstance(document, dict) else None
    for statement in statements if isinstance(statements, list) else [statements]:
        resources = statement.get("Resource") if isinstance(statement, dict) else None
        for arn in resources if isinstance(resources, list) else [resources]:
            match = ROLE_ARN_RE.match(arn) if isinstance(arn, str) else None
            if match:
                found.add(match.group(2))
    return found


class ConsumerRolePolicy(_InlinePolicy):
    kind, entity, account = "consumer_role_policy", "role", Account.CONSUMER
    doctor_link, document, inside = "consumer principal", "consumer_assume_role", ("consumer_role",)

    def create(self, r) -> list:
        return [self.put(r, f"let {self.entity} {r.id.split('/', 1)[0]} assume the access role")]

    def cloudformation(self, t, r, ctx) -> None:
        principal = ctx.principal
        type_, key = ("AWS::IAM::RolePolicy", "RoleName") if principal.kind == "role" else ("AWS::IAM::UserPolicy",
                                                                                          "UserName")
        name = {"Ref": "ConsumerUser"} if not principal.adopted else principal.name
        t.add("ConsumerPolicy", r.kind, type_, {key: name, "PolicyName": r.properties["PolicyName"],
                                                "PolicyDocument": r.documents["consumer_assume_role"]})

    def policy_name(self, names) -> str:
        return names.consumer_policy


class ConsumerUserPolicy(ConsumerRolePolicy):
    kind, entity, inside = "consumer_user_policy", "user", ("iam_user", "consumer_user")


TYPES = (AccessRolePolicy(), ConsumerRolePolicy(), ConsumerUserPolicy())
