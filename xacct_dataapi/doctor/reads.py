"""Doctor's own read-only calls, beyond what the steps' inspections read. Each names the AWS rule it serves.

Only Describe/Get/List/Simulate operations: doctor never changes anything (tests/doctor counts the calls).
"""
from __future__ import annotations

from xacct_dataapi.aws_reads import (  # noqa: F401  (doctor's modules read them through this one)
    conflicting_zones, endpoint_service, endpoints_in_vpc, network_acls, private_hosted_zones, security_groups, subnets,
    unsupported_azs, vpc_dns, writer_instance,
)
from xacct_dataapi.models import Account


def simulate(aws, role_arn: str, action: str, resource: str, context: list[dict] | None = None) -> dict:
    """iam:SimulatePrincipalPolicy of the access role's identity policies on one exact ARN, with the request's
    condition keys — https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html. No
    ResourcePolicy: with a role as the source IAM requires a user CallerArn for one (InvalidInput otherwise);
    doctor/simulation.py evaluates the resource policies itself. Raises ClientError (e.g. AccessDenied) or
    NotImplementedError (moto) when the API is unavailable."""
    iam = aws.client(Account.PROVIDER, "iam")
    kwargs = {"PolicySourceArn": role_arn, "ActionNames": [action], "ResourceArns": [resource]}
    if context:
        kwargs["ContextEntries"] = context
    return iam.simulate_principal_policy(**kwargs)["EvaluationResults"][0]
