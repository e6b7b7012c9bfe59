"""`--dry-run --output json` prints every item of the plan as data: the service and operation it calls, its
parameters (secrets masked), what it records, forgets and stores, what it retries on or counts as done, what it
waits for (what is polled, while which states, until which), and, for a delete, what AWS must show first."""
from __future__ import annotations

import json

from xacct_dataapi.models import (
    Account, Action, Call, JsonDoc, Plan, Record, Ref, Retry, SecretInput, Sensitive, StepPlan, WaitFor,
)
from xacct_dataapi.planner import plan_teardown
from xacct_dataapi.render import plan_json
from xacct_dataapi.steps.endpoint_joined import ENDPOINT_STATE, available
from xacct_dataapi.state import ResourceRow, State

SECRET = "n0t-for-any-eyes"


def items(plan: Plan) -> list[dict]:
    doc = json.loads(json.dumps(plan_json(plan, {}), default=str))
    assert SECRET not in json.dumps(doc)
    return [c for s in doc["steps"] for c in s["calls"]]


def test_a_setup_item_is_data_with_its_secret_masked():
    create = Call(Account.PROVIDER, "secretsmanager", "create_secret",
                  {"Name": "xacct-orders/db-credentials", "SecretString": Sensitive({"username": "app", "password": SecretInput("db_password")}),
                   "Tags": [{"Key": "xacct:deployment", "Value": "orders"}]},
                  outputs={"secret_arn": "ARN"}, record=Record("secret", "xacct-orders/db-credentials", arn=Ref("secret_arn")),
                  retry=Retry(("InvalidRequestException",), ("scheduled for deletion",), "still being deleted"))
    policy = Call(Account.PROVIDER, "secretsmanager", "put_resource_policy",
                  {"SecretId": Ref("secret_arn"), "ResourcePolicy": JsonDoc({"Version": "2012-10-17", "Statement": []})})
    (made, put) = items(Plan("setup", [StepPlan(3, "secret", "Secret", Action.CREATE, "new", [create, policy])]))
    assert (made["service"], made["operation"]) == ("secretsmanager", "create_secret")
    assert made["params"]["SecretString"] == {"username": "app", "password": "********"}
    assert made["records"] == {"kind": "secret", "id": "xacct-orders/db-credentials", "arn": "${secret_arn}",
                               "adopted": False}
    assert made["outputs"] == {"secret_arn": "ARN"}
    assert made["retries_on"] == {"codes": ["InvalidRequestException"], "message_contains": ["scheduled for deletion"],
                                  "reason": "still being deleted"}
    assert put["params"] == {"SecretId": "${secret_arn}", "ResourcePolicy": {"Version": "2012-10-17", "Statement": []}}
    assert "records" not in put and "wait" not in put


def test_a_wait_is_data():
    wait = available(Ref("endpoint_id"), deferred=True)
    (item,) = items(Plan("setup", [StepPlan(7, "endpoint", "Endpoint", Action.CHECK, "pending",
                                            [WaitFor(Account.CONSUMER, wait=wait)])]))
    assert item["service"] is None and item["call"] == "wait"
    assert item["wait"] == {"account": "consumer", "service": "ec2", "operation": "describe_vpc_endpoints",
                            "params": {"VpcEndpointIds": ["${endpoint_id}"]}, "state": ENDPOINT_STATE,
                            "while": ["pending", "pendingacceptance", "modifying"], "until": ["available"],
                            "what": "the rds-data endpoint to become available", "deferred": True,
                            "acceptors": [
                                {"matcher": "path", "argument": ENDPOINT_STATE, "expected": "available",
                                 "state": "success"},
                                *({"matcher": "path", "argument": ENDPOINT_STATE, "expected": pending, "state": "retry"}
                                  for pending in ("pending", "pendingacceptance", "modifying"))],
                            "otherwise": "failure"}


def test_a_teardown_delete_is_data_with_its_guard():
    state = State(name="orders", config={"key_deletion_days": 7}, resources=[
        ResourceRow(1, "kms_key", "k-1", "provider", arn="arn:aws:kms:us-west-2:222222222222:key/k-1"),
        ResourceRow(1, "kms_alias", "alias/xacct-orders", "provider"),
        ResourceRow(2, "kms_key_policy", "k-1", "provider"),
    ])
    policy, alias, key = items(plan_teardown(state))  # recorded rows in reverse
    assert (alias["service"], alias["operation"], alias["params"]) == ("kms", "delete_alias",
                                                                      {"AliasName": "alias/xacct-orders"})
    assert alias["forgets"] == {"kind": "kms_alias", "id": "alias/xacct-orders"}
    assert alias["guard"] == {"kind": "kms_alias", "id": "alias/xacct-orders", "reads": "KMS alias",
                              "deployment": "orders"}
    assert policy["call"] == "forget" and policy["service"] is None and "guard" not in policy
    assert (key["operation"], key["params"]) == ("schedule_key_deletion", {"KeyId": "k-1", "PendingWindowInDays": 7})
    assert key["guard"]["kind"] == "kms_key"
