"""After a teardown, what xacct might have left in either sandbox account: the "nothing left behind" check."""

from __future__ import annotations

from typing import Any

from xacct_dataapi.sandbox.info import ADMIN_USER, SandboxInfo, botocore_session, client_config
from xacct_dataapi.sandbox.operators import OPERATOR_USER


def resources_in_accounts(info: SandboxInfo) -> dict[str, list[str]]:
    """List leftovers per account, for a "nothing left behind" check.

    Reports, as strings: customer-managed KMS keys not pending deletion, secrets not
    deleted, IAM roles and users named ``xacct-*`` (except the sandbox's own admin
    and operator users), security groups named ``xacct-*``, and VPC endpoints not in ``deleted`` state.
    Returns ``{"consumer": [...], "provider": [...]}``.
    """
    out: dict[str, list[str]] = {}
    loader_src = None
    for label, profile in (("consumer", info.consumer_profile), ("provider", info.provider_profile)):
        found: list[str] = []
        s = botocore_session(info.config_file, info.credentials_file, profile, loader_from=loader_src)
        loader_src = loader_src or s
        cfg = client_config()

        def client(service: str) -> Any:
            return s.create_client(
                service, region_name=info.region, endpoint_url=info.endpoint_url, config=cfg
            )

        kms = client("kms")
        for page in kms.get_paginator("list_keys").paginate():
            for k in page.get("Keys", []):
                md = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
                if md.get("KeyManager", "CUSTOMER") != "CUSTOMER":
                    continue
                if md.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
                    continue
                found.append(f"kms:key/{md['KeyId']} ({md.get('KeyState', '?')})")

        sm = client("secretsmanager")
        for page in sm.get_paginator("list_secrets").paginate():
            for sec in page.get("SecretList", []):
                if sec.get("DeletedDate") or sec.get("OwningService"):  # a service's own (RDS's master user secret)
                    continue
                found.append(f"secretsmanager:secret/{sec['Name']}")

        iam = client("iam")
        for page in iam.get_paginator("list_roles").paginate():
            for r in page.get("Roles", []):
                if r["RoleName"].startswith("xacct-"):
                    found.append(f"iam:role/{r['RoleName']}")
        for page in iam.get_paginator("list_users").paginate():
            for u in page.get("Users", []):
                if u["UserName"].startswith("xacct-") and u["UserName"] not in (ADMIN_USER, OPERATOR_USER):
                    found.append(f"iam:user/{u['UserName']}")

        ec2 = client("ec2")
        for page in ec2.get_paginator("describe_security_groups").paginate():
            for g in page.get("SecurityGroups", []):
                if g.get("GroupName", "").startswith("xacct-"):
                    found.append(f"ec2:security-group/{g['GroupId']} ({g['GroupName']})")
        for page in ec2.get_paginator("describe_vpc_endpoints").paginate():
            for ep in page.get("VpcEndpoints", []):
                state = str(ep.get("State", "")).lower()
                if state != "deleted":
                    found.append(
                        f"ec2:vpc-endpoint/{ep['VpcEndpointId']} ({ep.get('ServiceName', '?')}, {state})"
                    )
        out[label] = found
    return out


def left_by_deployment(aws, name: str, consumer_account: str, provider_account: str) -> dict[str, list[str]]:
    """What any registered step would still find of deployment `name` (each Step.discover, by name and tag).

    The account-wide listing above knows today's resource kinds; this half reads the model, so a new step's
    resources are checked without editing this module."""
    from xacct_dataapi.discover import discover

    out: dict[str, list[str]] = {"consumer": [], "provider": []}
    for row in discover(aws, name, consumer_account, provider_account).resources:
        out[row.account].append(f"{row.kind}/{row.id} (deployment {name})")
    return out
