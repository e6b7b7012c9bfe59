"""Step 4 (provider): the secret's resource policy — only the access role, only AWSCURRENT.

Runs after step 5: a policy naming a role that does not exist yet is rejected, and a brand-new role
may be reported as an invalid principal for a few seconds (bounded retry).

A declared step: the generic planner (steps/declared.py) writes it when it is missing or differs (naming the
differing statements), and records it when it is current but unrecorded (resource_types/secrets.py)."""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.models import Account, Resource
from xacct_dataapi.steps.declared import declare


def desired(ctx) -> list[Resource]:
    doc = policies.secret_resource_policy(ctx.known("access_role_arn"), ctx.known("secret_arn"), ctx.cfg.secret_readers)
    return [Resource("secret_policy", ctx.names.secret, Account.PROVIDER, arn=ctx.known("secret_arn"),
                     documents={"secret_policy": doc})]


STEP = declare(4, "secret_policy", "Secret policy allows the access role (provider)", ("secret_policy",), desired,
               needs=("secret_arn",))
