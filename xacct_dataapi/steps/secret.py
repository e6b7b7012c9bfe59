"""Step 3 (provider): the DB user's credentials in Secrets Manager, encrypted with the step-1 key.

KmsKeyId is the full key ARN: a bare key id would be resolved in the *caller's* account by a
cross-account reader. Changing the key of an existing secret does not re-encrypt old versions, so a
repair writes a new version under the right key.

A declared step (steps/declared.py): the secret's type (resource_types/secrets.py Secret) creates it, restores one
scheduled for deletion, writes the credentials again when the key or what they point at differs (or on
--rotate-password), and adopts one a killed run made. The credentials are Sensitive: masked in every plan, never in
the state.
"""
from __future__ import annotations

from xacct_dataapi.models import Account, Resource
from xacct_dataapi.resource_types.secrets import TAG_CONNECTION
from xacct_dataapi.steps.declared import declare


def desired(ctx) -> list[Resource]:
    name = ctx.names.secret
    return [Resource("secret", name, Account.PROVIDER, arn=ctx.known("secret_arn"),
                     tags={**ctx.names.tags(), TAG_CONNECTION: ctx.secret_fields()["connection"]},
                     properties={"Description": f"xacct {ctx.names.deployment}: Data API credentials for {ctx.cluster.id}",
                                 "KmsKeyId": ctx.known("key_arn"), "SecretString": ctx.secret_string(),
                                 "Rotate": ctx.cfg.rotate_password})]


STEP = declare(3, "secret", "DB credentials secret (provider)", ("secret",), desired, provides=("secret_arn",))
