"""What doctor knows about one chain: the facts read from AWS and the documents xacct would write.

With a state file the facts are the steps' own inspections (planner.inspect_all) and the expected documents are
the steps' desired resources (Step.make_plan): the same model as setup and status. Without one (a chain built by
hand, by Terraform, ...), the chain is found from the VPC, the cluster and the ARNs given; the expected documents
are policies.py's, filled in with what was found; what cannot be found is left None and reported, never guessed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from xacct_dataapi import policies
from xacct_dataapi.aws import Sessions, is_not_found
from xacct_dataapi.config import ROLE_ARN_RE, Config
from xacct_dataapi.context import Context, Inputs, check_accounts, describe_cluster, describe_principal, partition_for_region
from xacct_dataapi.doctor import reads
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account, render_value
from xacct_dataapi.planner import inspect_all
from xacct_dataapi.state import State
from xacct_dataapi.steps import registered
from xacct_dataapi.steps.common import access_role_arn
from xacct_dataapi.steps.endpoint import LIVE_STATES, service_name
from xacct_dataapi.steps.endpoint_members import access_roles_on


@dataclass
class Chain:
    mode: str  # "state" | "stateless"
    deployment: str | None
    aws: Sessions
    consumer_account: str
    provider_account: str
    cluster_id: str
    vpc_id: str
    cluster: dict | None = None  # DescribeDBClusters entry
    cluster_problem: str | None = None
    cluster_model: Any = None  # context.Cluster
    vpc: dict | None = None
    subnet_ids: list[str] = field(default_factory=list)  # the endpoint's subnets as recorded (or found)
    endpoint: dict | None = None
    other_endpoints: list[dict] = field(default_factory=list)  # other live rds-data endpoints in the VPC
    service: dict | None = None  # the rds-data endpoint service's ServiceDetail
    role_arn: str | None = None
    role: dict | None = None
    trust: Any = None
    permissions: Any = None
    secret_arn: str | None = None
    secret: dict | None = None
    secret_policy: Any = None
    key_arn: str | None = None
    key: dict | None = None
    key_policy: Any = None
    principal_arn: str | None = None
    principal_policy: Any = None
    external_id: str | None = None
    endpoint_mode: str = "restricted"
    expected: dict[str, Any] = field(default_factory=dict)  # document name -> what xacct would write
    strict: bool = True  # with a state file, any difference from xacct's document is a failure
    model_problems: dict[str, list[str]] = field(default_factory=dict)  # step key -> StepPlan.problems
    unknown: dict[str, str] = field(default_factory=dict)  # what could not be found -> why
    state: State | None = None

    @property
    def region(self) -> str:
        return self.aws.region

    @property
    def partition(self) -> str:
        return partition_for_region(self.region)

    @property
    def cluster_arn(self) -> str | None:
        return self.cluster and self.cluster.get("DBClusterArn")

    def unique_ids(self) -> dict[str, str]:
        """Principal unique ids doctor can map back to ARNs (IAM shows an id for a principal it cannot resolve)."""
        ids = {}
        if self.role:
            ids[self.role["RoleId"]] = self.role["Arn"]
        return ids

    def setup_fix(self) -> str:
        if self.mode == "state":
            return f"re-run `xacct setup --name {self.deployment}` with the flags it was set up with: it rewrites this as xacct's"
        return "edit it back to the recipe's form (docs/how-it-works.md)"


def _read(fn, *args, **kwargs):
    """fn(...) or None when the resource is not found."""
    try:
        return fn(*args, **kwargs)
    except ClientError as exc:
        if is_not_found(exc) or "NotFound" in str(exc.response.get("Error", {}).get("Code", "")):
            return None
        raise


def _cluster(chain: Chain, cfg: Config) -> None:
    try:
        c = describe_cluster(chain.aws, cfg, lambda: chain.provider_account)
    except UsageError as exc:
        chain.cluster_problem = f"{exc.message} {exc.hint or ''}".strip()
        return
    chain.cluster_model = c
    chain.cluster = chain.aws.client(Account.PROVIDER, "rds").describe_db_clusters(DBClusterIdentifier=c.id)["DBClusters"][0]


def _vpc(chain: Chain) -> None:
    ec2 = chain.aws.client(Account.CONSUMER, "ec2")
    found = _read(ec2.describe_vpcs, VpcIds=[chain.vpc_id])
    chain.vpc = found["Vpcs"][0] if found and found.get("Vpcs") else None


def _context(chain: Chain, cfg: Config, state: State) -> Context | None:
    if chain.cluster is None or chain.vpc is None:
        return None
    c = chain.cluster_model
    principal = describe_principal(chain.aws, cfg, lambda: chain.consumer_account, chain.partition)
    inputs = Inputs(chain.consumer_account, chain.provider_account, c, chain.vpc["CidrBlock"], principal)
    ctx = Context(cfg, chain.aws, state, inputs, lambda: "", values=dict(state.values))
    ctx.values.setdefault("cluster_arn", c.arn)
    ctx.values["consumer_principal_arn"] = principal.arn
    return ctx


def from_state(aws: Sessions, state: State, cfg: Config) -> Chain:
    consumer, provider = check_accounts(aws, state)
    chain = Chain("state", state.name, aws, consumer, provider, cfg.cluster_id, cfg.vpc_id,
                  subnet_ids=list(cfg.subnet_ids), endpoint_mode=cfg.endpoint_policy, state=state)
    _cluster(chain, cfg)
    _vpc(chain)
    try:
        ctx = _context(chain, cfg, state)
    except UsageError as exc:  # an adopted consumer principal that is gone
        chain.unknown["consumer principal"] = f"{exc.message} {exc.hint or ''}".strip()
        ctx = None
    if ctx is None:
        chain.unknown.setdefault("model", "the cluster and the VPC must exist to compare the chain with xacct's model")
        return chain
    facts = inspect_all(ctx)
    for step in registered():
        try:
            planned = step.make_plan(ctx, facts[step.key])
        except UsageError as exc:  # e.g. another deployment's endpoint holds the private DNS name
            chain.model_problems[step.key] = [exc.message]
            continue
        chain.model_problems[step.key] = list(planned.problems)
        chain.expected.update(render_value(planned.documents))
    v = ctx.values
    chain.role = _declared(facts, "access_role", "iam_role")
    chain.trust = chain.role and chain.role["Trust"]
    chain.permissions = (_declared(facts, "access_role", "iam_role_policy") or {}).get("Document")
    chain.role_arn = (chain.role or {}).get("Arn") or access_role_arn(ctx)
    chain.secret = _declared(facts, "secret", "secret")
    chain.secret_arn = (chain.secret or {}).get("ARN") or v.get("secret_arn")
    chain.secret_policy = (_declared(facts, "secret_policy", "secret_policy") or {}).get("Document")
    chain.key = _declared(facts, "kms_key", "kms_key")
    chain.key_arn = (chain.key or {}).get("Arn") or v.get("key_arn")
    chain.key_policy = (_declared(facts, "key_policy", "kms_key_policy") or {}).get("Document")
    chain.principal_arn = ctx.principal.arn
    chain.principal_policy = (_declared(facts, "consumer_principal", "consumer_role_policy", "consumer_user_policy")
                              or {}).get("Document")
    chain.endpoint = facts["endpoint"]["endpoint"]
    chain.other_endpoints = list(facts["endpoint"]["conflicts"])
    chain.external_id = v.get("external_id")
    return chain


def _declared(facts: dict, step_key: str, *kinds: str) -> dict | None:
    """What AWS holds of a declared step's resource of one of `kinds`: what its types read (steps/declared.py)."""
    return next((f for (k, _), f in facts[step_key]["found"].items() if k in kinds and f), None)


def _role_policies(iam, name: str) -> dict | None:
    """Every inline policy of the role as one document (a hand-made role may split its grants)."""
    names = iam.list_role_policies(RoleName=name).get("PolicyNames", [])
    statements = []
    for n in names:
        doc = policies.parse(iam.get_role_policy(RoleName=name, PolicyName=n)["PolicyDocument"])
        st = doc.get("Statement", [])
        statements += st if isinstance(st, list) else [st]
    return {"Version": policies.VERSION, "Statement": statements} if names else None


def _resources_for(doc: Any, action: str) -> list[str]:
    from xacct_dataapi.doctor.grants import allows_action, statements

    out = []
    for st in statements(doc) if doc else []:
        if allows_action(st, action):
            res = st.get("Resource")
            out += res if isinstance(res, list) else [res]
    return sorted({r for r in out if isinstance(r, str) and r != "*"})


def _principal_from_trust(trust: Any) -> str | None:
    for st in (policies.parse(trust) or {}).get("Statement", []) if trust else []:
        for op in ("ArnEquals", "ArnLike", "StringEquals"):
            value = (st.get("Condition") or {}).get(op, {}).get("aws:PrincipalArn")
            if isinstance(value, str):
                return value
        p = (st.get("Principal") or {}).get("AWS") if isinstance(st.get("Principal"), dict) else None
        if isinstance(p, str) and not p.endswith(":root"):
            return p
    return None


def stateless(aws: Sessions, cluster: str, vpc_id: str, role_arn: str | None, secret_arn: str | None,
              external_id: str | None) -> Chain:
    consumer, provider = check_accounts(aws, None)
    cfg = Config(name="doctor", consumer_profile=aws.consumer_profile, provider_profile=aws.provider_profile,
                 cluster=cluster, vpc_id=vpc_id, subnet_ids=())
    chain = Chain("stateless", None, aws, consumer, provider, cfg.cluster_id, vpc_id, strict=False,
                  external_id=external_id)
    _cluster(chain, cfg)
    _vpc(chain)
    service = service_name(aws.region)
    if chain.vpc is not None:
        live = [e for e in reads.endpoints_in_vpc(aws, vpc_id, service) if str(e.get("State", "")).lower() in LIVE_STATES]
        dns = [e for e in live if e.get("PrivateDnsEnabled")]
        chosen = sorted(dns or live, key=lambda e: e["VpcEndpointId"])
        chain.endpoint = chosen[0] if chosen else None
        chain.other_endpoints = [e for e in live if chain.endpoint and e["VpcEndpointId"] != chain.endpoint["VpcEndpointId"]]
        chain.subnet_ids = list((chain.endpoint or {}).get("SubnetIds", []))
        if chain.endpoint is None:
            chain.unknown["endpoint"] = f"no {service} interface endpoint in {vpc_id}"
    iam = aws.client(Account.PROVIDER, "iam")
    if role_arn:
        m = ROLE_ARN_RE.match(role_arn)
        chain.role_arn = role_arn
        found = _read(iam.get_role, RoleName=m.group(2) if m else role_arn)
        chain.role = found and found["Role"]
        if chain.role:
            chain.trust = policies.parse(chain.role.get("AssumeRolePolicyDocument") or "{}")
            chain.permissions = _role_policies(iam, chain.role["RoleName"])
    else:
        chain.unknown["access role"] = "no --role-arn given (doctor does not guess which role the application assumes)"
    chain.external_id = external_id or policies.external_id_of(chain.trust if isinstance(chain.trust, dict) else None)
    candidates = _resources_for(chain.permissions, "secretsmanager:GetSecretValue")
    chain.secret_arn = secret_arn or (candidates[0] if len(candidates) == 1 else None)
    sm = aws.client(Account.PROVIDER, "secretsmanager")
    if chain.secret_arn:
        chain.secret = _read(sm.describe_secret, SecretId=chain.secret_arn)
        if chain.secret:
            chain.secret_policy = sm.get_resource_policy(SecretId=chain.secret_arn).get("ResourcePolicy")
    else:
        chain.unknown["secret"] = ("no --secret-arn given and the access role's policies do not name exactly one secret"
                                   if role_arn else "no --secret-arn given")
    kms_id = (chain.secret or {}).get("KmsKeyId")
    if kms_id:
        kms = aws.client(Account.PROVIDER, "kms")
        meta = _read(kms.describe_key, KeyId=kms_id)
        chain.key = meta and meta["KeyMetadata"]
        chain.key_arn = chain.key and chain.key["Arn"]
        if chain.key:
            chain.key_policy = kms.get_key_policy(KeyId=chain.key["KeyId"], PolicyName="default")["Policy"]
    chain.principal_arn = _principal_from_trust(chain.trust)
    chain.principal_policy = _consumer_policies(aws, chain.principal_arn)
    _expected_stateless(chain)
    return chain


def _consumer_policies(aws: Sessions, arn: str | None) -> dict | None:
    if not arn or ":iam::" not in arn:
        return None
    kind, _, name = arn.split(":", 5)[5].partition("/")
    name = name.rsplit("/", 1)[-1]
    iam = aws.client(Account.CONSUMER, "iam")
    if kind not in ("role", "user"):
        return None
    try:
        names = getattr(iam, f"list_{kind}_policies")(**{f"{kind.title()}Name": name}).get("PolicyNames", [])
        statements = []
        for n in names:
            doc = policies.parse(getattr(iam, f"get_{kind}_policy")(**{f"{kind.title()}Name": name, "PolicyName": n})["PolicyDocument"])
            st = doc.get("Statement", [])
            statements += st if isinstance(st, list) else [st]
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return {"Version": policies.VERSION, "Statement": statements}


def _expected_stateless(chain: Chain) -> None:
    """policies.py's documents for what was found; a document whose inputs are unknown is not compared."""
    p, region, part = chain.provider_account, chain.region, chain.partition
    cluster, secret, key, role = chain.cluster_arn, chain.secret_arn, chain.key_arn, chain.role_arn
    if role:
        chain.expected["key_policy"] = policies.key_policy(p, role, region, part)
    if chain.principal_arn:
        if chain.external_id:
            chain.expected["access_role_trust"] = policies.access_role_trust_policy(
                chain.consumer_account, chain.principal_arn, chain.external_id, part)
    if role and secret:
        chain.expected["secret_policy"] = policies.secret_resource_policy(role, secret)
    if cluster and secret and key:
        chain.expected["access_role_permissions"] = policies.access_role_permissions(cluster, secret, key, region)
    if role:
        chain.expected["consumer_assume_role"] = policies.consumer_assume_policy(role)
    if role and cluster:
        chain.expected["endpoint_policy"] = policies.endpoint_policy_for_clusters([(access_roles_on(cluster), cluster)])
    if chain.endpoint is not None and policies.is_full_access(chain.endpoint.get("PolicyDocument")):
        chain.endpoint_mode = "full"
        chain.expected["endpoint_policy"] = policies.endpoint_full_access_policy()
