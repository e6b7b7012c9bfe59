"""Step 6 (consumer): the principal allowed to assume the access role.

By default a new IAM user (as in the original recipe). With --consumer-role / --consumer-user the
application's existing principal is adopted: xacct adds one inline policy and never deletes the principal.

A declared step (steps/declared.py): the IAM types (resource_types/iam.py, iam_policy.py) create the user and put the
policy, restore a policy that differs, and record what a killed run made or what is adopted (AdoptedPrincipal: read,
recorded with `created` false, only forgotten at teardown). Another deployment's user of that name is refused.
"""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.models import Account, Resource
from xacct_dataapi.steps.common import access_role_arn
from xacct_dataapi.steps.declared import declare


def _principal_kind(p) -> str:
    return "iam_user" if not p.adopted else ("consumer_role" if p.kind == "role" else "consumer_user")


def desired(ctx) -> list[Resource]:
    p = ctx.principal
    doc = policies.consumer_assume_policy(access_role_arn(ctx))
    policy_kind = "consumer_role_policy" if p.kind == "role" else "consumer_user_policy"
    return [
        # An adopted principal is the application's: xacct records it but never creates, tags or deletes it.
        Resource(_principal_kind(p), p.name, Account.CONSUMER, arn=p.arn,
                 tags={} if p.adopted else ctx.names.tags(), properties={"Adopted": p.adopted, "Type": p.kind}),
        Resource(policy_kind, f"{p.name}/{ctx.names.consumer_policy}", Account.CONSUMER,
                 properties={"PolicyName": ctx.names.consumer_policy}, documents={"consumer_assume_role": doc}),
    ]


STEP = declare(6, "consumer_principal", "Consumer principal may assume the role (consumer)",
               ("iam_user", "consumer_role", "consumer_user", "consumer_role_policy", "consumer_user_policy"), desired)
