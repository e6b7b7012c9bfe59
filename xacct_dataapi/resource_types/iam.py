"""IAM: the provider's access role and its inline policy, the consumer user xacct may create, and the inline
policy xacct adds to a consumer principal (its own, or one it adopted: an adopted principal is never deleted)."""
from __future__ import annotations

import json
from urllib.parse import unquote

from xacct_dataapi.resource_types.base import NOT_OURS, OURS, Ownership, ResourceType, read_or_none, tags_of, tagged_for


class _Principal(ResourceType):
    entity = ""  # "role" | "user"

    def name_for(self, names) -> str:
        raise NotImplementedError

    def read(self, client, row):
        key = {f"{self.entity.title()}Name": row.id}
        found = read_or_none(getattr(client, f"get_{self.entity}"), **key)
        if found is None:
            return None
        tags = getattr(client, f"list_{self.entity}_tags")(**key).get("Tags")
        return {"Name": row.id, "Tags": tags_of(tags)}

    def judge(self, found, row, names):
        if found["Name"] != self.name_for(names):
            return Ownership(NOT_OURS, f"this deployment's {self.entity} is named {self.name_for(names)}")
        if not tagged_for(found["Tags"], names.deployment):
            return Ownership(NOT_OURS, f"it is not tagged xacct:deployment={names.deployment}")
        return Ownership(OURS, f"{self.entity} {row.id} carries this deployment's name and tags")


class AccessRole(_Principal):
    kind, service, noun, entity = "iam_role", "iam", "IAM role", "role"

    def name_for(self, names) -> str:
        return names.access_role


class ConsumerUser(_Principal):
    kind, service, noun, entity = "iam_user", "iam", "IAM user", "user"

    def name_for(self, names) -> str:
        return names.consumer_user


class _InlinePolicy(ResourceType):
    """A row `<principal>/<policy>`: ours if the policy has this deployment's name and its principal is ours (the
    access role) or its document names this deployment's access role (the policy added to a consumer principal)."""

    service, noun = "iam", "inline policy"
    entity = ""
    principal_type: ResourceType | None = None

    def policy_name(self, names) -> str:
        raise NotImplementedError

    def read(self, client, row):
        principal, policy = row.id.split("/", 1)
        found = read_or_none(getattr(client, f"get_{self.entity}_policy"),
                             **{f"{self.entity.title()}Name": principal, "PolicyName": policy})
        if found is None:
            return None
        document = found["PolicyDocument"]
        if isinstance(document, str):  # IAM returns it URL-encoded; boto3 decodes it, a raw client may not
            document = json.loads(unquote(document))
        owner = self.principal_type.read(client, _Row(principal)) if self.principal_type else None
        return {"Principal": principal, "PolicyName": policy, "Document": document, "Owner": owner}

    def judge(self, found, row, names):
        if found["PolicyName"] != self.policy_name(names):
            return Ownership(NOT_OURS, f"this deployment's policy is named {self.policy_name(names)}")
        if self.principal_type is not None:
            owner = found["Owner"]
            verdict = self.principal_type.judge(owner, _Row(found["Principal"]), names) if owner else None
            if verdict is None or not verdict.ours:
                return Ownership(NOT_OURS, f"{self.entity} {found['Principal']} is not this deployment's")
        elif names.access_role not in json.dumps(found["Document"]):
            return Ownership(NOT_OURS, f"its document does not name this deployment's access role {names.access_role}")
        return Ownership(OURS, f"policy {found['PolicyName']} is this deployment's")


class _Row:
    def __init__(self, id_: str):
        self.id, self.arn = id_, None


class AccessRolePolicy(_InlinePolicy):
    kind, entity, principal_type = "iam_role_policy", "role", AccessRole()

    def policy_name(self, names) -> str:
        return names.access_role_policy


class ConsumerRolePolicy(_InlinePolicy):
    kind, entity = "consumer_role_policy", "role"

    def policy_name(self, names) -> str:
        return names.consumer_policy


class ConsumerUserPolicy(ConsumerRolePolicy):
    kind, entity = "consumer_user_policy", "user"


TYPES = (AccessRole(), ConsumerUser(), AccessRolePolicy(), ConsumerRolePolicy(), ConsumerUserPolicy())
