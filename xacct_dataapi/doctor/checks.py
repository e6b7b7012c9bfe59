"""Doctor's provider-side checks (cluster, secret, key) and the policy-document check every link shares, in the
order a request crosses the chain; the consumer side is network.py, kinds the chain does not read are recorded.py.
Each returns Checks (data), never raises for what it finds; AWS rules come with their source."""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from xacct_dataapi import data_api_support
from xacct_dataapi.doctor import grants, reads
from xacct_dataapi.doctor.chain import Chain
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED, WARN, Check
from xacct_dataapi.errors import error_code
from xacct_dataapi.models import Account

P, C = Account.PROVIDER.value, Account.CONSUMER.value



def _skip(cid: str, link: str, account: str, why: str) -> Check:
    return Check(cid, link, account, SKIPPED, why)


# --------------------------------------------------------------------------- cluster (provider)

def cluster_checks(chain: Chain) -> list[Check]:
    link = "cluster"
    c = chain.cluster
    if c is None:
        return [Check("cluster.exists", link, P, FAIL, chain.cluster_problem or f"cluster {chain.cluster_id} not found",
                      "Pass the provider account's cluster identifier or ARN (`aws rds describe-db-clusters "
                      "--profile PROVIDER_PROFILE`) and the cluster's --region.")]
    cid, arn = c["DBClusterIdentifier"], c["DBClusterArn"]
    out = [Check("cluster.exists", link, P, OK, f"{arn} ({c.get('Engine')} {c.get('EngineVersion')}, "
                                                 f"{c.get('EngineMode', 'provisioned')})")]
    status = c.get("Status")
    out.append(Check("cluster.available", link, P, OK, f"{cid} is available") if status == "available" else
               Check("cluster.available", link, P, FAIL, f"{cid} is {status}, not available",
                     f"`aws rds start-db-cluster --db-cluster-identifier {cid}` if it is stopped; otherwise wait until "
                     "`aws rds describe-db-clusters` shows it available."))
    out.append(_engine_check(c))
    out.append(_writer_check(chain, c))
    out.append(Check("cluster.data-api", link, P, OK, f"HttpEndpointEnabled is true on {cid}")
               if c.get("HttpEndpointEnabled") else
               Check("cluster.data-api", link, P, FAIL, f"HttpEndpointEnabled is false on {cid}",
                     f"`aws rds enable-http-endpoint --resource-arn {arn}` (Serverless v1: `aws rds modify-db-cluster "
                     f"--db-cluster-identifier {cid} --enable-http-endpoint --apply-immediately`) — "
                     "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html"))
    return out


def _engine_check(c: dict) -> Check:
    v = data_api_support.verdict(c.get("Engine", ""), str(c.get("EngineVersion", "")), c.get("EngineMode", "provisioned"))
    if v.supported is None:
        return Check("cluster.engine", "cluster", P, SKIPPED, v.why)
    if v.end_of_support:
        return Check("cluster.engine", "cluster", P, WARN, v.why, v.fix)
    if v.supported:
        return Check("cluster.engine", "cluster", P, OK, v.why)
    return Check("cluster.engine", "cluster", P, FAIL, v.why, v.fix.replace(
        "modify-db-cluster", f"modify-db-cluster --db-cluster-identifier {c['DBClusterIdentifier']}"))


def _writer_check(chain: Chain, c: dict) -> Check:
    if c.get("EngineMode") == "serverless":
        return Check("cluster.writer-class", "cluster", P, OK, "Serverless v1: no instances")
    try:
        writer = reads.writer_instance(chain.aws, c)
    except ClientError as exc:  # e.g. a profile without rds:DescribeDBInstances: a finding, not a crash (exit 70)
        return _skip("cluster.writer-class", "cluster", P, f"cannot read the writer instance: {error_code(exc)}: "
                     f"{exc.response.get('Error', {}).get('Message', '')} (`xacct permissions --side provider --for doctor`)")
    if writer is None:
        return Check("cluster.writer-class", "cluster", P, FAIL, f"{c['DBClusterIdentifier']} has no writer instance",
                     "Add a writer instance (db.serverless or a non-T class): the Data API runs on the writer.")
    name, cls = writer["DBInstanceIdentifier"], writer.get("DBInstanceClass", "")
    if cls.startswith("db.t"):
        # "The Data API isn't supported on T DB instance classes" —
        # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.limitations.html
        return Check("cluster.writer-class", "cluster", P, FAIL, f"writer {name} is {cls}: the Data API does not run on "
                     "T instance classes", f"`aws rds modify-db-instance --db-instance-identifier {name} "
                     "--db-instance-class db.r6g.large --apply-immediately` (or db.serverless).")
    return Check("cluster.writer-class", "cluster", P, OK, f"writer {name} is {cls}")


# --------------------------------------------------------------------------- policy documents (shared shape)

def policy_checks(chain: Chain, cid: str, link: str, account: str, name: str, actual, resource: str | None,
                  sensitive: tuple[str, ...]) -> list[Check]:
    """`<cid>`: xacct's statements present and equal (normalised); `<cid>.extra`: no other statement grants
    anyone a sensitive action. With a state file a difference fails; a hand-built chain only warns (its form may
    differ), but an extra grant fails in both."""
    if resource is None:
        return [_skip(cid, link, account, f"no {link} to read the policy of"),
                _skip(f"{cid}.extra", link, account, f"no {link} to read the policy of")]
    expected = chain.expected.get(name)
    if actual is None:
        return [Check(cid, link, account, FAIL, f"{resource} has no {name.replace('_', ' ')}", chain.setup_fix()),
                _skip(f"{cid}.extra", link, account, "no policy")]
    if expected is None:
        why = "; ".join(chain.unknown.values()) or "its inputs are unknown"
        return [_skip(cid, link, account, f"cannot build xacct's document to compare with: {why}"),
                _skip(f"{cid}.extra", link, account, "nothing to compare with")]
    ids = chain.unique_ids()
    r = grants.compare(actual, expected, sensitive, ids)
    if r["invalid"]:
        return [Check(cid, link, account, FAIL, f"the policy of {resource} is not valid JSON", chain.setup_fix()),
                _skip(f"{cid}.extra", link, account, "policy not readable")]
    orphans = grants.orphaned_ids(actual, ids)
    out = []
    if orphans:
        out.append(Check(cid, link, account, FAIL, f"{resource}: principal(s) {', '.join(orphans)} are unique ids of "
                         "deleted or recreated principals (IAM no longer maps them to an ARN)", chain.setup_fix()))
    elif r["missing"]:
        status = FAIL if chain.strict else WARN
        out.append(Check(cid, link, account, status, f"{resource}: xacct's statement(s) missing or different: "
                         + ", ".join(r["missing"]), chain.setup_fix()))
    else:
        n = len(grants.statements(expected))
        out.append(Check(cid, link, account, OK, f"{resource}: xacct's {n} statement(s) present and equal"))
    if r["extra_grants"]:
        out.append(Check(f"{cid}.extra", link, account, FAIL, f"{resource}: extra grant: "
                         + "; ".join(grants.describe_grant(s, sensitive) for s in r["extra_grants"]),
                         f"Remove the statement(s) from the policy of {resource} (find out who added them first); "
                         + chain.setup_fix()))
    elif r["extra_other"]:
        out.append(Check(f"{cid}.extra", link, account, WARN, f"{resource}: other statement(s) "
                         + ", ".join(grants.label(s) for s in r["extra_other"]) + " (no grant of "
                         + (", ".join(sensitive) or "anything xacct guards") + ")",
                         f"Review them; {chain.setup_fix()}"))
    else:
        out.append(Check(f"{cid}.extra", link, account, OK, f"{resource}: no other statement"
                         + (f" grants {', '.join(sensitive)}" if sensitive else "")))
    return out


# --------------------------------------------------------------------------- secret and key (provider)

# The Data API needs only username and password; it ignores dbname (aws/aws-cli#8577: the database comes from the
# request), and engine only helps other tools. Missing required keys fail; missing informative ones warn.
SECRET_REQUIRED = ("username", "password")
SECRET_INFORMATIVE = ("engine", "dbname")


def secret_checks(chain: Chain) -> list[Check]:
    link, s = "secret", chain.secret
    if s is None or s.get("DeletedDate"):
        what = (f"secret {chain.secret_arn} is scheduled for deletion" if s else
                f"secret {chain.secret_arn or '(unknown)'} not found" if chain.secret_arn or chain.mode == "state" else
                chain.unknown.get("secret", "no secret"))
        fix = (f"`aws secretsmanager restore-secret --secret-id {chain.secret_arn}`" if s else
               chain.setup_fix() if chain.mode == "state" else "Pass --secret-arn of the secret the application uses.")
        return [Check("secret.exists", link, P, FAIL, what, fix)]
    arn = s["ARN"]
    out = [Check("secret.exists", link, P, OK, arn)]
    kms_id = s.get("KmsKeyId")
    # The secret must be under a customer managed key, named by its full ARN: the AWS managed key cannot be used
    # across accounts (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples_cross.html),
    # and a bare key id resolves in the caller's account (hashicorp/terraform-provider-aws#30272).
    if not kms_id:
        out.append(Check("secret.kms-key", link, P, FAIL, f"{arn} is encrypted with the AWS managed key aws/secretsmanager",
                         chain.setup_fix() + " (changing the key needs a new secret version)"))
    elif chain.key_arn and kms_id == chain.key_arn:
        out.append(Check("secret.kms-key", link, P, OK, f"encrypted with {kms_id}"))
    else:
        want = chain.key_arn or "a customer managed key, by full ARN"
        out.append(Check("secret.kms-key", link, P, FAIL, f"{arn} names key {kms_id!r}, not {want}",
                         f"`aws secretsmanager update-secret --secret-id {arn} --kms-key-id {want}` and write a new "
                         "version (AWS does not re-encrypt existing versions); " + chain.setup_fix()))
    out.append(_secret_value_check(chain, arn))
    return out


def _secret_value_check(chain: Chain, arn: str) -> Check:
    """The value's keys (never the values): username and password are what the Data API reads. Read only where the operator's provider profile may; the secret policy normally lets
    only the access role read it, and then this is skipped."""
    sm = chain.aws.client(Account.PROVIDER, "secretsmanager")
    try:
        raw = sm.get_secret_value(SecretId=arn).get("SecretString") or ""
    except ClientError as exc:
        return _skip("secret.value", "secret", P, f"the provider profile may not read it ({error_code(exc) or 'denied'}); "
                     "only the access role is meant to")
    try:
        keys = set(json.loads(raw))
    except (ValueError, TypeError):
        keys = set()
    del raw  # never kept, never printed
    present = f"(keys present: {', '.join(sorted(keys)) or 'none'})"
    missing = [k for k in SECRET_REQUIRED if k not in keys]
    if missing:
        return Check("secret.value", "secret", P, FAIL, f"{arn}: the value lacks {', '.join(missing)} {present}",
                     "Write a JSON value with username and password: " + chain.setup_fix() + " with --rotate-password")
    extra = [k for k in SECRET_INFORMATIVE if k not in keys]
    if extra:
        return Check("secret.value", "secret", P, WARN, f"{arn}: has username and password, no {', '.join(extra)} "
                     f"{present}; the Data API does not need them (xacct sends the database on every call)",
                     "Optional, for other tools that read the secret: " + chain.setup_fix() + " with --rotate-password "
                     "writes all four keys.")
    return Check("secret.value", "secret", P, OK, f"{arn}: has username, password, engine and dbname (values not shown)")


def key_checks(chain: Chain) -> list[Check]:
    k = chain.key
    if k is None:
        return [Check("key.state", "key", P, FAIL, f"KMS key {chain.key_arn or (chain.secret or {}).get('KmsKeyId') or '(unknown)'} "
                      "not found", chain.setup_fix())]
    kid, state = k["Arn"], k.get("KeyState")
    if state == "PendingDeletion":
        # A key pending deletion cannot be used — https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-scheduling-key-deletion.html
        return [Check("key.state", "key", P, FAIL, f"{kid} is pending deletion (on {k.get('DeletionDate')})",
                      f"`aws kms cancel-key-deletion --key-id {kid}` then `aws kms enable-key --key-id {kid}`")]
    if state != "Enabled" or not k.get("Enabled", True):
        return [Check("key.state", "key", P, FAIL, f"{kid} is {state}", f"`aws kms enable-key --key-id {kid}`")]
    return [Check("key.state", "key", P, OK, f"{kid} is enabled")]
