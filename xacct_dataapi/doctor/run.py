"""`xacct doctor`: read the chain (with or without a state file), check every link, then — only when every
earlier check passed, or with --live — run one statement the way `verify` does, mapping a failure to its hop."""
from __future__ import annotations

from pathlib import Path

from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import Config, Names
from xacct_dataapi.doctor import audit
from xacct_dataapi.doctor import chain as chain_mod
from xacct_dataapi.doctor.chain import Chain
from xacct_dataapi.doctor.checks import P, C, cluster_checks, key_checks, policy_checks, secret_checks
from xacct_dataapi.doctor.network import endpoint_checks, network_checks
from xacct_dataapi.doctor.recorded import recorded_checks
from xacct_dataapi.doctor.db_user import db_user_checks
from xacct_dataapi.doctor.simulation import simulate_check
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED, Check, DoctorReport
from xacct_dataapi.errors import UsageError, XacctError
from xacct_dataapi.state import State, open_recorded

LIVE_TIMEOUT = 30.0


def run_checks(chain: Chain) -> list[Check]:
    """Every check but the live one, in the order a request crosses the chain."""
    out = cluster_checks(chain)
    if "model" in chain.unknown:  # with a state file, nothing else can be compared without the cluster and VPC
        if chain.vpc is None:
            out.append(Check("vpc.exists", "endpoint", C, FAIL, f"VPC {chain.vpc_id} not found in consumer account "
                             f"{chain.consumer_account}", "Pass the consumer VPC the deployment was set up in."))
        why = "; ".join(f"{k}: {v}" for k, v in chain.unknown.items())
        return out + [Check("model", "access role", P, SKIPPED, f"the other links were not checked ({why})")]
    out += secret_checks(chain)
    out += db_user_checks(chain)
    out += policy_checks(chain, "secret.policy", "secret", P, "secret_policy", chain.secret_policy,
                         chain.secret and chain.secret["ARN"], audit.SECRET_SENSITIVE)
    out += key_checks(chain)
    out += policy_checks(chain, "key.policy", "key", P, "key_policy", chain.key_policy, chain.key and chain.key["Arn"],
                         audit.KEY_SENSITIVE)
    out += audit.key_grant_checks(chain)
    out += role_checks(chain)
    out.append(simulate_check(chain))
    out += principal_checks(chain)
    out += endpoint_checks(chain)
    out += network_checks(chain)
    out += recorded_checks(chain)  # kinds the chain does not read itself, by their resource types
    return out


def role_checks(chain: Chain) -> list[Check]:
    link = "access role"
    if chain.role is None:
        why = chain.unknown.get("access role") or f"role {chain.role_arn} not found"
        fix = chain.setup_fix() if chain.mode == "state" else "Pass --role-arn of the provider role the application assumes."
        return [Check("role.exists", link, P, FAIL, why, fix)]
    arn = chain.role["Arn"]
    out = [Check("role.exists", link, P, OK, arn)]
    out += policy_checks(chain, "role.trust", link, P, "access_role_trust", chain.trust, arn, audit.TRUST_SENSITIVE)
    out += policy_checks(chain, "role.permissions", link, P, "access_role_permissions", chain.permissions, arn,
                         audit.ROLE_SENSITIVE)
    # Without a state file the role's inline policies are its permissions as a whole; only attachments are extra.
    xacct_policy = Names(chain.deployment).access_role_policy if chain.mode == "state" and chain.deployment else None
    out += audit.role_policy_checks(chain, xacct_policy)
    return out


def principal_checks(chain: Chain) -> list[Check]:
    link = "consumer principal"
    if not chain.principal_arn:
        why = chain.unknown.get("consumer principal") or "the access role's trust names no consumer principal"
        return [Check("principal.policy", link, C, SKIPPED, why)]
    return policy_checks(chain, "principal.policy", link, C, "consumer_assume_role", chain.principal_policy,
                         chain.principal_arn, ("sts:AssumeRole",))[:1]


# A live failure names its hop: AssumeRole is the consumer principal -> access role hop; AccessDenied on rds-data
# is the role's permissions or the endpoint policy; Secrets Manager / KMS errors surface from the Data API as
# BadRequestException / SecretsErrorException (docs/how-it-works.md, Doctor); anything else is the network path.
HOPS = (
    (("sts:assumerole", "assumerole", "admit the consumer principal"), "consumer principal -> access role (trust policy, external id, consumer policy)"),
    (("secret", "kms", "decrypt"), "access role -> secret / key (secret policy, key policy, secret value)"),
    (("rds-data", "accessdenied", "not authorized"), "access role -> Data API (role permissions, endpoint policy)"),
    (("database", "resuming", "communications link"), "Data API -> cluster (cluster state, database user)"),
)


def hop_of(message: str) -> str:
    low = message.lower()
    for needles, hop in HOPS:
        if any(n in low for n in needles):
            return hop
    return "application -> endpoint (DNS, security group, network ACLs)"


def live_check(chain: Chain, checks: list[Check], *, live: bool, as_profile: str | None) -> Check:
    from xacct_dataapi import verify as verify_mod

    cid, link = "live.statement", "live"
    failed = [c.id for c in checks if c.status == FAIL]
    if failed and not live:
        return Check(cid, link, "both", SKIPPED, f"an earlier check failed ({', '.join(failed[:3])}); --live runs it anyway")
    if not (chain.role_arn and chain.external_id and chain.cluster_arn and chain.secret_arn):
        return Check(cid, link, "both", SKIPPED, "needs the access role, its external id, the cluster and the secret "
                     "(pass --external-id if the trust policy does not show it)")
    state = chain.state or State(name="doctor", accounts={"consumer": chain.consumer_account,
                                                          "provider": chain.provider_account})
    # verify acts as the recorded consumer principal (the one the trust admits), in the recorded database.
    state = State(name=state.name, accounts=state.accounts, resources=list(state.resources), config=dict(state.config),
                  region=chain.region, values={
        **state.values, "access_role_arn": chain.role_arn, "external_id": chain.external_id,
        "cluster_arn": chain.cluster_arn, "secret_arn": chain.secret_arn,
        "consumer_principal_arn": chain.principal_arn or state.values.get("consumer_principal_arn")})
    needs_key = not as_profile and any(r.kind == "iam_user" and r.created for r in state.resources)
    if needs_key and not live:
        return Check(cid, link, "both", SKIPPED, "the statement must run as the user xacct created, which needs a "
                     "temporary access key (a write); doctor is read-only unless --live (or --as-profile) is given")
    try:
        result = verify_mod.verify(state, chain.aws, as_profile=as_profile, wait_timeout=LIVE_TIMEOUT)
    except UsageError as exc:
        # Not a broken link: doctor cannot act as the consumer principal here (verify acts only as that principal).
        return Check(cid, link, "both", SKIPPED, f"cannot act as the consumer principal: {exc.message}",
                     exc.hint or "Pass --as-profile with the application's own profile.")
    except XacctError as exc:
        return Check(cid, link, "both", FAIL, f"broken hop: {hop_of(exc.message)}. {exc.message}",
                     "Fix the failing check(s) of that hop above; then `xacct doctor --live` again.")
    return Check(cid, link, "both", OK, f"{result.principal} assumed {result.role_arn} and ran {result.sql!r} "
                                        f"({len(result.records)} record(s))")


def run_chain(chain: Chain, *, live: bool = False, as_profile: str | None = None) -> DoctorReport:
    checks = run_checks(chain)
    checks.append(live_check(chain, checks, live=live, as_profile=as_profile))
    return DoctorReport(chain.mode, chain.deployment, chain.region,
                        {"consumer": chain.consumer_account, "provider": chain.provider_account}, checks)


def run(state_path: Path | None = None, *, consumer_profile: str | None = None, provider_profile: str | None = None,
        region: str | None = None, cluster: str | None = None, vpc: str | None = None, role_arn: str | None = None,
        secret_arn: str | None = None, external_id: str | None = None, live: bool = False,
        as_profile: str | None = None) -> DoctorReport:
    """With `cluster` and `vpc` (and both profiles): the stateless form. Otherwise the deployment at state_path."""
    if cluster or vpc:
        if not (cluster and vpc and consumer_profile and provider_profile):
            raise UsageError("Doctor without a state file needs --consumer-profile, --provider-profile, --cluster and --vpc.",
                             "Pass all four (and --role-arn, --secret-arn, --external-id where known), or --name/--state "
                             "of an xacct deployment.")
        aws = Sessions.from_profiles(consumer_profile, provider_profile, region)
        found = chain_mod.stateless(aws, cluster, vpc, role_arn, secret_arn, external_id)
        return run_chain(found, live=live, as_profile=as_profile)
    state = open_recorded(state_path)
    if not state.config.get("cluster"):
        raise UsageError(f"State file {state_path} records no configuration.", "Run `xacct setup` again to complete it.")
    aws = Sessions.from_profiles(
        consumer_profile if consumer_profile is not None else state.profiles.get("consumer"),
        provider_profile if provider_profile is not None else state.profiles.get("provider"), region or state.region)
    found = chain_mod.from_state(aws, state, Config.from_json({**state.config, "name": state.name}, consumer_profile=aws.consumer_profile,
                                                               provider_profile=aws.provider_profile, region=aws.region))
    return run_chain(found, live=live, as_profile=as_profile)
