"""Doctor's own read-only calls, beyond what the steps' inspections read. Each names the AWS rule it serves.

Only Describe/Get/List/Simulate operations: doctor never changes anything (tests/doctor counts the calls).
"""
from __future__ import annotations

from xacct_dataapi.aws_reads import (  # noqa: F401  (doctor's modules read them through this one)
    conflicting_zones, endpoint_service, endpoints_in_vpc, network_acls, private_hosted_zones, security_groups, subnets,
    unsupported_azs, vpc_dns, writer_instance,
)
from xacct_dataapi.models import Account


def simulate(aws, role_arn: str, action: str, resource: str, resource_policy: str | None = None,
             context: list[dict] | None = None) -> dict:
    """iam:SimulatePrincipalPolicy for the access role on one exact ARN, with the resource's policy where it has
    one — https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html. Raises
    ClientError (e.g. AccessDenied) or NotImplementedError (moto) when the API is unavailable."""
    iam = aws.client(Account.PROVIDER, "iam")
    kwargs = {"PolicySourceArn": role_arn, "ActionNames": [action], "ResourceArns": [resource]}
    if resource_policy:
        kwargs["ResourcePolicy"] = resource_policy
    if context:
        kwargs["ContextEntries"] = context
    return iam.simulate_principal_policy(**kwargs)["EvaluationResults"][0]
