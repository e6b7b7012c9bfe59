"""IAM: the provider's access role, the consumer user xacct may create, and a consumer principal it adopted (never
deleted); their inline policies are iam_policy.py's. The operator's IAM grants of both modules are here."""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi import policies
from xacct_dataapi.aws import is_not_found
from xacct_dataapi.config import EXTERNAL_ID_RE, TAG_DEPLOYMENT, Names
from xacct_dataapi.errors import UsageError, error_code
from xacct_dataapi.models import NOTHING_CHANGED, Account, Call, JsonDoc, Operation, Record, Retry
from xacct_dataapi.procedures import procedure
from xacct_dataapi.resource_types.cfn import cfn_tags
from xacct_dataapi.resource_types.base import (
    INVALID_PRINCIPAL, NOT_OURS, OURS, DocumentDiff, ForgetOnly, Ownership, ResourceType, _Probe, read_or_none, tags_of, tagged_for,
)
from xacct_dataapi.resource_types.widening import role_policy_names, role_widenings
from xacct_dataapi.resource_types.grants import (
    ACCESS_ROLE, CONSUMER_USER, FINDS, LEGACY_ACCESS_ROLE, POLICY_READS, READS, REPLACES, SETUP, TEARDOWN, C, Grant, P,
)


# A policy naming a principal IAM has not yet propagated is refused for a few seconds (bounded retry).
NEW_PRINCIPAL = Retry(INVALID_PRINCIPAL, ("principal",), "a new IAM principal is not yet visible")


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
        entity = found[self.entity.title()]
        # GetRole and GetUser return the tags; ListRoleTags/ListUserTags only where a response leaves them out.
        tags = entity.get("Tags") or getattr(client, f"list_{self.entity}_tags")(**key).get("Tags")
        return {**entity, "Name": row.id, "Arn": entity["Arn"], "Tags": tags_of(tags)}

    def judge(self, found, row, names):
        if found["Name"] != self.name_for(names):
            return Ownership(NOT_OURS, f"this deployment's {self.entity} is named {self.name_for(names)}")
        if not tagged_for(found["Tags"], names.deployment):
            return Ownership(NOT_OURS, f"it is not tagged xacct:deployment={names.deployment}")
        return Ownership(OURS, f"{self.entity} {row.id} carries this deployment's name and tags")


class AccessRole(DocumentDiff, _Principal):
    """The provider's access role, declared by steps/access_role.py: created with its trust policy at the cluster's
    IAM path; the trust policy restored when it differs; a role at another path replaced (IAM cannot move a role:
    UpdateRole takes no Path, https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateRole.html)."""

    kind, service, noun, entity = "iam_role", "iam", "IAM role", "role"
    doctor_link = "access role"
    operation = "iam:delete_role_with_policies"
    # The external id is a template parameter, named by the trust policy.
    cfn_refs = {"access_role_arn": ("AccessRole", "Arn"), "external_id": ("ExternalId", None)}
    document, held, what = "access_role_trust", "Trust", "trust "

    def read(self, client, row):
        found = super().read(client, row)
        if found is not None:
            found["Trust"] = policies.parse(found.get("AssumeRolePolicyDocument") or "{}")
        return found

    def create(self, r) -> list:
        return [Call(r.account, "iam", "create_role",
                     {"RoleName": r.id, "AssumeRolePolicyDocument": JsonDoc(r.documents[self.document]),
                      **r.properties, "Tags": cfn_tags(r.tags)},  # IAM's tags have CloudFormation's shape
                     outputs={"access_role_arn": "Role.Arn"}, record=Record(self.kind, r.id, arn=r.arn),
                     retry=NEW_PRINCIPAL, description=f"create the access role at path {r.properties['Path']}")]

    def replacement(self, found, r) -> list[str]:
        have, want = found.get("Path", "/"), r.properties["Path"]
        return [] if have == want else [f"role at path {have} → {want}: IAM cannot move a role"]

    def update(self, found, r) -> list:
        return [Call(r.account, "iam", "update_assume_role_policy",
                     {"RoleName": r.id, "PolicyDocument": JsonDoc(r.documents[self.document])},
                     retry=NEW_PRINCIPAL, description="restore the trust policy")]

    def values(self, found, r, names, known) -> dict:
        if found is None:
            return {"access_role_arn": None}
        if not self.judge(found, _Probe(r.id), names).ours:
            return {}
        # A role at another path is about to be replaced: its ARN is not the one the other policies must name (the
        # create call produces that one).
        out = {"access_role_arn": found["Arn"] if not self.replacement(found, r) else None}
        # A run that died after CreateRole never recorded the external id: it lives in the trust policy. Only one AWS
        # would accept: a value read from AWS is untrusted input (it ends up in the operator's AWS config through
        # `connect`); anything else is left to the trust-policy repair, with a new external id.
        external_id = policies.external_id_of(found["Trust"])
        if not known.get("external_id") and external_id and EXTERNAL_ID_RE.match(external_id):
            out["external_id"] = external_id
        return out

    def foreign(self, client, r) -> list[str]:
        """What else gives the role's holders permissions (resource_types.widening): named, never removed."""
        try:
            listed = role_policy_names(client, r.id)
        except ClientError as exc:
            if is_not_found(exc):
                return []
            raise
        ours = Names(Names.deployment_of_access_role(r.id) or "").access_role_policy
        if not listed[0] and listed[1] in ([], [ours]):
            return []
        role = read_or_none(client.get_role, RoleName=r.id)  # the finding names the role's own ARN
        return [w.line() for w in role_widenings(client, r.id, role["Role"]["Arn"], ours, listed)] if role else []

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

    def create(self, r) -> list:
        return [Call(r.account, "iam", "create_user", {"UserName": r.id, "Tags": cfn_tags(r.tags)},
                     record=Record(self.kind, r.id, arn=r.arn), description=f"create user {r.id}")]

    def name_for(self, names) -> str:
        return names.consumer_user


@procedure("iam:delete_role_with_policies", actions=(
    "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy",
    "iam:DeleteRole"))
@procedure("iam:delete_user_with_dependents", actions=(
    "iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:ListUserPolicies", "iam:DeleteUserPolicy",
    "iam:ListAttachedUserPolicies", "iam:DetachUserPolicy", "iam:DeleteLoginProfile", "iam:DeleteUser"))
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


class AdoptedPrincipal(ForgetOnly):
    """An adopted consumer principal is never created, changed or deleted: only the inline policy xacct added (its
    own row) is. The generic planner reads it (preflight found it) and records it, `created` false."""

    service = "iam"

    def __init__(self, kind: str, entity: str):
        super().__init__(kind, Account.CONSUMER, f"leave adopted {entity} {{row.id}} in place")
        self.entity, self.noun = entity, f"adopted IAM {entity}"
        self.refused_fix = f"Pass --consumer-{entity} the application's own {entity}, or leave it out."

    def read(self, client, row):
        found = read_or_none(getattr(client, f"get_{self.entity}"), **{f"{self.entity.title()}Name": row.id})
        return found and found[self.entity.title()]

    def judge(self, found, row, names):
        # GetRole / GetUser return the tags. Another deployment's principal is no application's: its teardown deletes
        # it with every inline policy (this one's too), and writing into it is writing into what is not ours.
        owner = tags_of(found.get("Tags")).get(TAG_DEPLOYMENT)
        if owner and owner != names.deployment:
            return Ownership(NOT_OURS, f"xacct made it for deployment {owner!r} (tagged {TAG_DEPLOYMENT}={owner})")
        return Ownership(OURS, f"the application's own {self.entity}, adopted: xacct only adds its inline policy")

    def create(self, r) -> list:
        raise UsageError(f"The {self.entity} {r.id} to adopt does not exist in the consumer account.",
                         f"Create it first, or leave out --consumer-{self.entity} to have xacct make a user.")

    def record(self, r, found) -> Record:
        return Record(self.kind, r.id, arn=found["Arn"], created=False)

    def cloudformation(self, t, r, ctx) -> None:
        t.leave_out(r.kind, f"{r.properties['Type']} {r.id} is the application's own: the template only adds its "
                            "inline policy, in every consumer account that has it.")


# The inline policies xacct puts on these principals are resource_types/iam_policy.py's (their grants are here).
TYPES = (AccessRole(), ConsumerUser(), AdoptedPrincipal("consumer_role", "role"), AdoptedPrincipal("consumer_user", "user"))

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
           # doctor too: without a state file it reads the trusted principal's inline policies (doctor/chain.py).
           "iam:DeleteUserPolicy": REPLACES, "iam:ListUserPolicies": REPLACES + ("doctor",),
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
           "iam:ListRolePolicies": ("doctor",),  # stateless doctor reads the trusted principal's inline policies
           "iam:DeleteRolePolicy": TEARDOWN, "iam:SimulatePrincipalPolicy": ("doctor",), "sts:AssumeRole": ("verify",)},
          # An IAM name is unique in its account whatever the path, and a name holds no "/": `*/NAME` matches that
          # one principal at any path (IAM ARNs carry the path: role/PATH/NAME), `NAME` the one at the root.
          ("arn:{p}:iam::{consumer}:role/{app_role}", "arn:{p}:iam::{consumer}:role/*/{app_role}"),
          only_with="consumer_role"),
    Grant("AdoptedConsumerUserOnlyWithConsumerUser", C,
          {"iam:GetUser": ("setup", "status", "doctor"), "iam:GetUserPolicy": POLICY_READS, "iam:PutUserPolicy": SETUP,
           "iam:ListUserPolicies": ("doctor",),  # stateless doctor reads the trusted principal's inline policies
           "iam:DeleteUserPolicy": TEARDOWN, "iam:SimulatePrincipalPolicy": ("doctor",)},
          ("arn:{p}:iam::{consumer}:user/{app_user}", "arn:{p}:iam::{consumer}:user/*/{app_user}"),
          only_with="consumer_user"),
    # doctor without a state file, of a chain xacct did not make (`doctor --role-arn ARN`): the role the application
    # assumes, its policies read and simulated (doctor/chain.py stateless).
    Grant("ChainRoleOnlyWithRoleArn", P,
          {"iam:GetRole": ("doctor",), "iam:ListRolePolicies": ("doctor",), "iam:GetRolePolicy": ("doctor",),
           "iam:ListAttachedRolePolicies": ("doctor",), "iam:SimulatePrincipalPolicy": ("doctor",)},
          ("{chain_role}",), only_with="role_arn"),
)
