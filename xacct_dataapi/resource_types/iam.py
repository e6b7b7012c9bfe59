"""IAM: the provider's access role and its inline policy, the consumer user xacct may create, and the inline
policy xacct adds to a consumer principal (its own, or one it adopted: an adopted principal is never deleted)."""
from __future__ import annotations

import json
from urllib.parse import unquote

from botocore.exceptions import ClientError

from xacct_dataapi.errors import error_code
from xacct_dataapi.models import NOTHING_CHANGED, Account, Call, Operation
from xacct_dataapi.procedures import procedure
from xacct_dataapi.resource_types.cfn import cfn_tags
from xacct_dataapi.resource_types.base import (
    NOT_OURS, OURS, ForgetOnly, Ownership, ResourceType, _Probe, read_or_none, tags_of, tagged_for,
)
from xacct_dataapi.resource_types.grants import (
    ACCESS_ROLE, CONSUMER_USER, FINDS, LEGACY_ACCESS_ROLE, POLICY_READS, READS, REPLACES, SETUP, TEARDOWN, C, Grant, P,
)


class _Principal(ResourceType):
    entity = ""  # "role" | "user"
    operation = ""  # the plan's name for deleting it with what AWS requires gone first

    def name_for(self, names) -> str:
        raise NotImplementedError

    def name_of(self, names) -> str:
        return self.name_for(names)

    def delete(self, row, state) -> list:
        return [Operation(self.account, name=self.operation,
                          params={f"{self.entity.title()}Name": row.id}, forget=(row.kind, row.id),
                          description=f"delete {self.entity} {row.id}")]

    def read(self, client, row):
        key = {f"{self.entity.title()}Name": row.id}
        found = read_or_none(getattr(client, f"get_{self.entity}"), **key)
        if found is None:
            return None
        tags = getattr(client, f"list_{self.entity}_tags")(**key).get("Tags")
        return {"Name": row.id, "Arn": found[self.entity.title()]["Arn"], "Tags": tags_of(tags)}

    def judge(self, found, row, names):
        if found["Name"] != self.name_for(names):
            return Ownership(NOT_OURS, f"this deployment's {self.entity} is named {self.name_for(names)}")
        if not tagged_for(found["Tags"], names.deployment):
            return Ownership(NOT_OURS, f"it is not tagged xacct:deployment={names.deployment}")
        return Ownership(OURS, f"{self.entity} {row.id} carries this deployment's name and tags")


class AccessRole(_Principal):
    kind, service, noun, entity = "iam_role", "iam", "IAM role", "role"
    doctor_link = "access role"
    operation = "iam:delete_role_with_policies"
    # The external id is a template parameter, named by the trust policy.
    cfn_refs = {"access_role_arn": ("AccessRole", "Arn"), "external_id": ("ExternalId", None)}

    def cloudformation(self, t, r, ctx) -> None:
        t.add("AccessRole", r.kind, "AWS::IAM::Role", {
            "RoleName": r.id, "Path": r.properties["Path"], "Description": r.properties["Description"],
            "MaxSessionDuration": r.properties["MaxSessionDuration"],
            "AssumeRolePolicyDocument": r.documents["access_role_trust"], "Tags": cfn_tags(r.tags)})

    def name_for(self, names) -> str:
        return names.access_role


class ConsumerUser(_Principal):
    kind, service, noun, entity = "iam_user", "iam", "IAM user", "user"
    doctor_link = "consumer principal"
    account, operation = Account.CONSUMER, "iam:delete_user_with_dependents"

    def cloudformation(self, t, r, ctx) -> None:
        t.add("ConsumerUser", r.kind, "AWS::IAM::User", {"UserName": r.id, "Tags": cfn_tags(r.tags)})

    def name_for(self, names) -> str:
        return names.consumer_user


@procedure("iam:delete_role_with_policies", "iam:delete_user_with_dependents")
def delete_iam_principal(ops, RoleName: str | None = None, UserName: str | None = None) -> dict:
    """AWS refuses to delete a role or user that still has policies, access keys or a login profile
    (DeleteConflict): remove those first. Already gone counts as done."""
    entity = "role" if RoleName else "user"
    key = {"RoleName": RoleName} if RoleName else {"UserName": UserName}
    iam = ops.client("iam")
    try:
        if entity == "user":
            for access_key in iam.list_access_keys(**key).get("AccessKeyMetadata", []):
                ops.call("iam", "delete_access_key", **key, AccessKeyId=access_key["AccessKeyId"])
        for name in getattr(iam, f"list_{entity}_policies")(**key).get("PolicyNames", []):
            ops.call("iam", f"delete_{entity}_policy", **key, PolicyName=name)
        for attached in getattr(iam, f"list_attached_{entity}_policies")(**key).get("AttachedPolicies", []):
            ops.call("iam", f"detach_{entity}_policy", **key, PolicyArn=attached["PolicyArn"])
        if entity == "user":
            try:
                ops.call("iam", "delete_login_profile", **key)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
        ops.call("iam", f"delete_{entity}", **key)
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        return {NOTHING_CHANGED: "already gone"}
    return {}


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
        owner = self.principal_type.read(client, _Probe(principal)) if self.principal_type else None
        return {"Principal": principal, "PolicyName": policy, "Document": document, "Owner": owner}

    def judge(self, found, row, names):
        if found["PolicyName"] != self.policy_name(names):
            return Ownership(NOT_OURS, f"this deployment's policy is named {self.policy_name(names)}")
        if self.principal_type is not None:
            owner = found["Owner"]
            verdict = self.principal_type.judge(owner, _Probe(found["Principal"]), names) if owner else None
            if verdict is None or not verdict.ours:
                return Ownership(NOT_OURS, f"{self.entity} {found['Principal']} is not this deployment's")
        elif names.access_role not in json.dumps(found["Document"]):
            return Ownership(NOT_OURS, f"its document does not name this deployment's access role {names.access_role}")
        return Ownership(OURS, f"policy {found['PolicyName']} is this deployment's")

    def delete(self, row, state) -> list:
        """The inline policy xacct put on a role or user (`<principal>/<policy>`)."""
        principal, policy = row.id.split("/", 1)
        entity = self.entity.title()
        return [Call(self.account, "iam", f"delete_{self.entity}_policy", {f"{entity}Name": principal,
                                                                          "PolicyName": policy},
                     forget=(row.kind, row.id), ok_codes=("NoSuchEntity",),
                     description=f"delete inline policy {policy} from {principal}")]


class AccessRolePolicy(_InlinePolicy):
    kind, entity, principal_type, account = "iam_role_policy", "role", AccessRole(), Account.PROVIDER
    doctor_link = "access role"

    def cloudformation(self, t, r, ctx) -> None:
        t.add("AccessRolePolicy", r.kind, "AWS::IAM::RolePolicy", {
            "RoleName": {"Ref": "AccessRole"}, "PolicyName": r.properties["PolicyName"],
            "PolicyDocument": r.documents["access_role_permissions"]})

    def policy_name(self, names) -> str:
        return names.access_role_policy


class ConsumerRolePolicy(_InlinePolicy):
    kind, entity, account = "consumer_role_policy", "role", Account.CONSUMER
    doctor_link = "consumer principal"

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
    kind, entity = "consumer_user_policy", "user"


class AdoptedPrincipal(ForgetOnly):
    """An adopted consumer principal is never deleted: only the inline policy xacct added (its own row) is removed."""

    def cloudformation(self, t, r, ctx) -> None:
        t.leave_out(r.kind, f"{r.properties['Type']} {r.id} is the application's own: the template only adds its "
                            "inline policy, in every consumer account that has it.")


TYPES = (AccessRole(), ConsumerUser(), AccessRolePolicy(), ConsumerRolePolicy(), ConsumerUserPolicy(),
         AdoptedPrincipal("consumer_role", Account.CONSUMER, "leave adopted role {row.id} in place"),
         AdoptedPrincipal("consumer_user", Account.CONSUMER, "leave adopted user {row.id} in place"))

# The operator's IAM grants for these calls (permissions.py assembles them; docs/permissions.md).
GRANTS: tuple[Grant, ...] = (
    Grant("ManageXacctAccessRole", P,
          {"iam:GetRole": FINDS, "iam:ListRoleTags": FINDS,
           "iam:GetRolePolicy": POLICY_READS, "iam:CreateRole": SETUP, "iam:TagRole": SETUP, "iam:PutRolePolicy": SETUP,
           "iam:UpdateAssumeRolePolicy": SETUP, "iam:ListRolePolicies": POLICY_READS,
           # setup too: a role at `/` (made before the path) is deleted and created again at the path.
           "iam:DeleteRolePolicy": ("setup", "teardown"), "iam:ListAttachedRolePolicies": POLICY_READS,
           "iam:DetachRolePolicy": ("setup", "teardown"), "iam:DeleteRole": ("setup", "teardown"),
           "iam:SimulatePrincipalPolicy": ("doctor",)},
          (ACCESS_ROLE, LEGACY_ACCESS_ROLE), implied=("iam:TagRole",)),
    # What a policy attached to the access role allows, named in the finding (resource_types.widening): any
    # managed policy, AWS's or the account's, since xacct did not choose it.
    Grant("ReadPoliciesAttachedToTheAccessRole", P, {"iam:GetPolicy": READS, "iam:GetPolicyVersion": READS},
          ("arn:{p}:iam::aws:policy/*", "arn:{p}:iam::{provider}:policy/*")),
    Grant("ManageXacctConsumerUser", C,
          {"iam:GetUser": FINDS, "iam:ListUserTags": FINDS,
           "iam:GetUserPolicy": POLICY_READS, "iam:CreateUser": SETUP, "iam:TagUser": SETUP, "iam:PutUserPolicy": SETUP,
           # setup too: adopting the application's own principal (--consumer-user/--consumer-role) replaces the user
           # xacct made, which setup then deletes (planner.replace_what_is_no_longer_desired).
           "iam:DeleteUserPolicy": REPLACES, "iam:ListUserPolicies": REPLACES,
           "iam:ListAttachedUserPolicies": REPLACES, "iam:DetachUserPolicy": REPLACES,
           "iam:ListAccessKeys": ("setup", "teardown", "verify"), "iam:CreateAccessKey": ("verify",),
           "iam:DeleteAccessKey": ("setup", "verify", "teardown"), "iam:DeleteLoginProfile": REPLACES,
           "iam:DeleteUser": REPLACES, "iam:SimulatePrincipalPolicy": ("doctor",)},
          # verify's temporary key is deleted at once, or by the next verify after a crash (ListAccessKeys finds a
          # key whose id a killed run could not record).
          (CONSUMER_USER,), implied=("iam:TagUser",)),
    # verify acts as the adopted role: the consumer profile assumes it first (verify.py). sts:AssumeRole is authorised
    # on the role (resource type `role`); the identity policy is needed unless the trust policy names this very
    # principal (a trust policy naming the account delegates to identity policies).
    Grant("AdoptedConsumerRoleOnlyWithConsumerRole", C,
          {"iam:GetRole": ("setup", "status", "doctor"), "iam:GetRolePolicy": POLICY_READS, "iam:PutRolePolicy": SETUP,
           "iam:DeleteRolePolicy": TEARDOWN, "iam:SimulatePrincipalPolicy": ("doctor",), "sts:AssumeRole": ("verify",)},
          # An IAM name is unique in its account whatever the path, and a name holds no "/": `*/NAME` matches that
          # one principal at any path (IAM ARNs carry the path: role/PATH/NAME), `NAME` the one at the root.
          ("arn:{p}:iam::{consumer}:role/{app_role}", "arn:{p}:iam::{consumer}:role/*/{app_role}"),
          only_with="consumer_role"),
    Grant("AdoptedConsumerUserOnlyWithConsumerUser", C,
          {"iam:GetUser": ("setup", "status", "doctor"), "iam:GetUserPolicy": POLICY_READS, "iam:PutUserPolicy": SETUP,
           "iam:DeleteUserPolicy": TEARDOWN, "iam:SimulatePrincipalPolicy": ("doctor",)},
          ("arn:{p}:iam::{consumer}:user/{app_user}", "arn:{p}:iam::{consumer}:user/*/{app_user}"),
          only_with="consumer_user"),
)
