"""Step 5 (provider): the access role the consumer assumes to call the Data API.

Trust: the consumer account narrowed to the consumer principal (aws:PrincipalArn) plus an external id
xacct generates and records. Permissions: rds-data on the cluster, the secret, the key — by ARN only.

The role lives under the cluster's IAM path (config.Names.access_role_path), so the deployments on one cluster are
one ListRoles(PathPrefix) (data_api.other_deployments_on_cluster). A role made before that sits at `/`: IAM cannot
move a role to another path, so its type (resource_types/iam.py AccessRole) names the path as a property that forces
a replacement: the generic planner deletes it (guarded) with its inline policy and creates both again, same name, at
the new path, in one step. Its ARN changes with the path; the key, endpoint and consumer policies (written earlier
in the run) and the secret policy (later) name the new ARN.

A declared step (steps/declared.py): the types create, restore the trust policy or the permissions, adopt, and
name what else reaches the role (resource_types.widening).
"""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.config import new_external_id
from xacct_dataapi.models import Account, Resource
from xacct_dataapi.steps.common import access_role_path
from xacct_dataapi.steps.data_api import confirm_wait
from xacct_dataapi.steps.declared import declare


def desired(ctx) -> list[Resource]:
    iam_name, policy_name = ctx.names.access_role, ctx.names.access_role_policy
    trust = policies.access_role_trust_policy(ctx.consumer_account, ctx.principal.arn, ctx.external_id_param(),
                                              ctx.partition)
    # --require-private-path: the endpoint step runs first, so its id is known (or a Ref its create call produces).
    vpce = ctx.known("endpoint_id") if ctx.cfg.require_private_path else None
    perms = policies.access_role_permissions(ctx.cluster.arn, ctx.known("secret_arn"), ctx.known("key_arn"), ctx.region,
                                             vpce)
    description = (f"xacct {ctx.names.deployment}: consumer {ctx.consumer_account} runs Data API statements on "
                   f"{ctx.cluster.id}")
    return [
        Resource("iam_role", iam_name, Account.PROVIDER, arn=ctx.known("access_role_arn"), tags=ctx.names.tags(),
                 properties={"Path": access_role_path(ctx), "MaxSessionDuration": 3600, "Description": description},
                 documents={"access_role_trust": trust}, stores={"external_id": ctx.known("external_id")}),
        Resource("iam_role_policy", f"{iam_name}/{policy_name}", Account.PROVIDER, properties={"PolicyName": policy_name},
                 documents={"access_role_permissions": perms}),
    ]


def after_create(ctx, created: list[Resource]) -> list:
    """A new role is this deployment's fact on the shared Data API switch: once it exists, the switch must still be
    on (data_api.confirm_wait)."""
    new_role = any(r.kind == "iam_role" for r in created)
    return [confirm_wait(ctx)] if new_role and ctx.cluster.http_endpoint_enabled else []


STEP = declare(5, "access_role", "Access role for the Data API (provider)", ("iam_role", "iam_role_policy"), desired,
               provides=("access_role_arn", "external_id"), after_create=after_create,
               generates={"external_id": new_external_id})
