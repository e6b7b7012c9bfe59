"""The two simulated accounts, the region, and the names xacct gives the `default` deployment: defined once."""
from __future__ import annotations

CONSUMER = "111111111111"
PROVIDER = "222222222222"
REGION = "us-west-2"

# The deployment `xacct setup` makes when no --name is given, and the names it gives its resources.
DEPLOYMENT = "default"
TAG = "xacct:deployment"
STATE = ".xacct/default.json"
SG_NAME = "xacct-default-rds-data-endpoint"
SECRET_NAME = "xacct-default/db-credentials"
ROLE_NAME = "xacct-default-data-api-access"
ROLE_POLICY = "xacct-default-data-api"
USER_NAME = "xacct-default-data-api-client"
USER_POLICY = "xacct-default-assume-data-api-access"
KEY_ALIAS = "alias/xacct-default"
CLUSTER_ID = "orders-aurora"  # world.seed's cluster
# The access role's IAM path (config.Names.access_role_path) and so its ARN, for the seeded cluster.
ROLE_PATH = f"/xacct/{REGION}/{CLUSTER_ID}/"


def access_role_arn(name: str = DEPLOYMENT, account: str = PROVIDER) -> str:
    return f"arn:aws:iam::{account}:role{ROLE_PATH}xacct-{name}-data-api-access"

# The users tests/helpers/operators.py makes in each account (an administrator, the least-privilege operator): the
# test's own principals, not xacct's.
TEST_ADMIN_USER = "xacct-test-admin"
OPERATOR_USER = "xacct-operator"  # as sandbox/operators.py names it
