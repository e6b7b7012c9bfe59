"""Doctor's consumer-side links: the rds-data endpoint (VPC DNS, conflicting endpoints, subnets' AZs, policy) and
the network path to it (security group, network ACLs). Each returns Checks (data), never raises for what it finds."""
from __future__ import annotations

import ipaddress

from botocore.exceptions import ClientError

from xacct_dataapi.doctor import grants, reads
from xacct_dataapi.doctor.audit import ENDPOINT_SENSITIVE
from xacct_dataapi.doctor.chain import Chain
from xacct_dataapi.doctor.checks import C, _skip, policy_checks
from xacct_dataapi.doctor.model import FAIL, OK, WARN, Check
from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.errors import error_code
from xacct_dataapi.resource_types.base import tags_of
from xacct_dataapi.steps.endpoint import service_name
from xacct_dataapi.nacl import EPHEMERAL
from xacct_dataapi.steps.nacl_check import client_problems, problems_for


# --------------------------------------------------------------------------- endpoint and network (consumer)

DNS_FLAGS = {"enableDnsSupport": "--enable-dns-support", "enableDnsHostnames": "--enable-dns-hostnames"}


def endpoint_checks(chain: Chain) -> list[Check]:
    link, ep, vpc_id = "endpoint", chain.endpoint, chain.vpc_id
    out: list[Check] = []
    if chain.vpc is None:
        return [Check("vpc.exists", link, C, FAIL, f"VPC {vpc_id} not found in consumer account {chain.consumer_account}",
                      "Pass the consumer VPC id (`aws ec2 describe-vpcs --profile CONSUMER_PROFILE`).")]
    dns = reads.vpc_dns(chain.aws, vpc_id)
    off = [a for a, on in dns.items() if not on]
    out.append(Check("vpc.dns", link, C, OK, f"{vpc_id}: enableDnsSupport and enableDnsHostnames on") if not off else
               Check("vpc.dns", link, C, FAIL, f"{vpc_id}: {', '.join(off)} off (private DNS needs both on)",
                     " ; ".join(f"`aws ec2 modify-vpc-attribute --vpc-id {vpc_id} {DNS_FLAGS[a]} "
                                "'{\"Value\":true}'`" for a in off)))
    out.append(_conflicts_check(chain))
    if ep is None:
        out.append(Check("endpoint.exists", link, C, FAIL, chain.unknown.get("endpoint") or
                         f"no rds-data endpoint of this deployment in {vpc_id}", chain.setup_fix()
                         if chain.mode == "state" else "Create the com.amazonaws.REGION.rds-data interface endpoint "
                         "(docs/how-it-works.md)."))
        return out
    eid = ep["VpcEndpointId"]
    out.append(Check("endpoint.exists", link, C, OK, f"{eid} ({ep.get('ServiceName')})"))
    state = str(ep.get("State", "")).lower()
    out.append(Check("endpoint.available", link, C, OK, f"{eid} is available") if state == "available" else
               Check("endpoint.available", link, C, FAIL, f"{eid} is {ep.get('State')}",
                     "Wait while it is pending; if failed or rejected, delete it and " + chain.setup_fix()))
    have = sorted(ep.get("SubnetIds", []))
    wrong = []
    if ep.get("VpcId") != vpc_id:
        wrong.append(f"it is in {ep.get('VpcId')}, not {vpc_id}")
    # A member that joined another deployment's endpoint keeps the maker's subnets (its own --subnets are not
    # applied: setup says so), so they are not this deployment's to match.
    maker = tags_of(ep.get("Tags")).get(TAG_DEPLOYMENT)
    joined = chain.mode == "state" and maker is not None and maker != chain.deployment
    if chain.mode == "state" and not joined and have != sorted(chain.subnet_ids):
        wrong.append(f"its subnets are {', '.join(have) or 'none'}, recorded {', '.join(sorted(chain.subnet_ids))}")
    shared = f" (shared: deployment {maker!r} made it and set its subnets)" if joined else ""
    out.append(Check("endpoint.placement", link, C, OK, f"{eid} in {vpc_id}, subnets {', '.join(have)}{shared}")
               if not wrong else
               Check("endpoint.placement", link, C, FAIL, f"{eid}: " + "; ".join(wrong), chain.setup_fix()))
    out.append(_az_check(chain, eid, have))
    out.append(Check("endpoint.private-dns", link, C, OK, f"{eid} has private DNS on") if ep.get("PrivateDnsEnabled") else
               Check("endpoint.private-dns", link, C, FAIL, f"{eid} has private DNS off: rds-data.{chain.region}."
                     "amazonaws.com does not resolve to it", f"`aws ec2 modify-vpc-endpoint --vpc-endpoint-id {eid} "
                     "--private-dns-enabled`"))
    out += _endpoint_policy_checks(chain, eid)
    return out


def _conflicts_check(chain: Chain) -> Check:
    """Only one endpoint (or private hosted zone) per VPC can hold rds-data.<region>.amazonaws.com: "conflicting
    DNS domain" (hashicorp/terraform-provider-aws#17535, #37783)."""
    name = f"rds-data.{chain.region}.amazonaws.com"
    others = [e["VpcEndpointId"] for e in chain.other_endpoints if e.get("PrivateDnsEnabled")]
    try:
        zones = reads.conflicting_zones(reads.private_hosted_zones(chain.aws, chain.vpc_id, chain.region), chain.region)
    except ClientError as exc:
        zones, note = [], f"; hosted zones not readable ({error_code(exc)})"
    else:
        note = ""
    found = [f"endpoint {e} (private DNS on)" for e in others] + [
        f"private hosted zone {z['HostedZoneId']} {name} (owner {z.get('Owner', {}).get('OwningAccount') or z.get('Owner', {}).get('OwningService', '?')})"
        for z in zones]
    if found:
        return Check("endpoint.conflicts", "endpoint", C, FAIL, f"{chain.vpc_id} already resolves {name} through "
                     + "; ".join(found), "Only one may own the name: delete the other endpoint, or disassociate the "
                     f"hosted zone (`aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id ID --vpc "
                     f"VPCRegion={chain.region},VPCId={chain.vpc_id}`), or use that endpoint instead of a second one.")
    return Check("endpoint.conflicts", "endpoint", C, OK, f"no other endpoint or private hosted zone for {name} in "
                 f"{chain.vpc_id}{note}")


def _az_check(chain: Chain, eid: str, subnet_ids: list[str]) -> Check:
    service = reads.endpoint_service(chain.aws, service_name(chain.region))
    if service is None:
        return Check("endpoint.azs", "endpoint", C, FAIL, f"{service_name(chain.region)} is not offered in {chain.region}",
                     "Use a region where the RDS Data API supports PrivateLink.")
    chain.service = service
    supported = set(service.get("AvailabilityZones", []))
    found = reads.subnets(chain.aws, subnet_ids)
    azs = {sid: s.get("AvailabilityZone") for sid, s in found.items()}
    bad = [f"{sid} ({az})" for sid, az in reads.unsupported_azs(service, found)]
    if bad:
        return Check("endpoint.azs", "endpoint", C, FAIL, f"{eid}: subnet(s) {', '.join(bad)} are in Availability Zones "
                     f"the service does not support ({', '.join(sorted(supported))})",
                     "Move the endpoint to subnets in supported AZs: `aws ec2 modify-vpc-endpoint --vpc-endpoint-id "
                     f"{eid} --remove-subnet-ids SUBNET --add-subnet-ids SUBNET_IN_SUPPORTED_AZ`.")
    return Check("endpoint.azs", "endpoint", C, OK, f"subnets in {', '.join(sorted(set(azs.values())))}, all supported")


def _endpoint_policy_checks(chain: Chain, eid: str) -> list[Check]:
    out = []
    doc = chain.endpoint.get("PolicyDocument")
    service = chain.service or {}
    custom = not (doc is None or chain.endpoint_mode == "full")
    if custom and service.get("VpcEndpointPolicySupported") is False:
        out.append(Check("endpoint.policy-supported", "endpoint", C, FAIL, f"{service.get('ServiceName')} does not "
                         "support endpoint policies, but a restricted policy is asked for",
                         "Use --endpoint-policy full (and rely on the access role's permissions)."))
    if chain.mode == "state" and chain.endpoint_mode != "full":
        out += policy_checks(chain, "endpoint.policy", "endpoint", C, "endpoint_policy", doc, eid, ENDPOINT_SENSITIVE)
    role, cluster = chain.role_arn, chain.cluster_arn
    if role and cluster:
        ok, why = grants.endpoint_admits(doc, role, cluster)
        out.append(Check("endpoint.policy-admits", "endpoint", C, OK, f"{eid}: {why}") if ok else
                   Check("endpoint.policy-admits", "endpoint", C, FAIL, f"{eid} does not let {role} call rds-data on "
                         f"{cluster}: {why}", chain.setup_fix()))
    else:
        out.append(_skip("endpoint.policy-admits", "endpoint", C, "the access role or cluster is unknown"))
    return out


def _vpc_cidrs(chain: Chain) -> list[str]:
    assoc = [a["CidrBlock"] for a in chain.vpc.get("CidrBlockAssociationSet", [])
             if a.get("CidrBlockState", {}).get("State") == "associated"]
    return assoc or [chain.vpc["CidrBlock"]]


def _admits(sg: dict, cidr: str) -> bool:
    net = ipaddress.ip_network(cidr)
    for p in sg.get("IpPermissions", []):
        proto = str(p.get("IpProtocol"))
        if not (proto == "-1" or (proto in ("tcp", "6") and p.get("FromPort", 0) <= 443 <= p.get("ToPort", 65535))):
            continue
        if any(net.subnet_of(ipaddress.ip_network(r["CidrIp"])) for r in p.get("IpRanges", [])):
            return True
    return False


def network_checks(chain: Chain) -> list[Check]:
    link = "network"
    if chain.endpoint is None or chain.vpc is None:
        return [_skip("sg.https", link, C, "no endpoint"), _skip("nacl.https", link, C, "no endpoint")]
    cidrs, eid = _vpc_cidrs(chain), chain.endpoint["VpcEndpointId"]
    sgs = reads.security_groups(chain.aws, [g["GroupId"] for g in chain.endpoint.get("Groups", [])])
    out = []
    missing = [c for c in cidrs if not any(_admits(sg, c) for sg in sgs)]
    ids = ", ".join(sg["GroupId"] for sg in sgs) or "none"
    if not sgs or missing:
        first = sgs[0]["GroupId"] if sgs else "SG_ID"
        out.append(Check("sg.https", link, C, FAIL, f"{eid}'s security group(s) {ids} admit no tcp/443 from "
                         + ", ".join(missing or cidrs), " ; ".join(
                             f"`aws ec2 authorize-security-group-ingress --group-id {first} --protocol tcp --port 443 "
                             f"--cidr {c}`" for c in (missing or cidrs))))
    else:
        admit = "admits" if len(sgs) == 1 else "admit"  # the trial read "sg-5766596fbe4dcdb48 admit tcp/443"
        out.append(Check("sg.https", link, C, OK, f"{ids} {admit} tcp/443 from {', '.join(cidrs)}"))
    sg_drift = [p for p in chain.model_problems.get("endpoint", []) if p.startswith("security group")]
    if sg_drift:
        out.append(Check("sg.drift", link, C, WARN, "; ".join(sg_drift), chain.setup_fix()))
    # NACLs are stateless: tcp/443 in and the ephemeral ports out, in rule-number order —
    # https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html
    acls, subnet_cidrs = reads.network_acls(chain.aws, chain.vpc["VpcId"])
    endpoint_subnets = chain.endpoint.get("SubnetIds", [])
    problems = [p for c in cidrs for p in problems_for(acls, endpoint_subnets, c)]
    problems += client_problems(acls, subnet_cidrs, endpoint_subnets, cidrs)
    if problems:
        evidence = [p.split(" Fix: ")[0] for p in problems]
        fixes = [p.split(" Fix: ")[1] for p in problems if " Fix: " in p]
        out.append(Check("nacl.https", link, C, FAIL, "; ".join(evidence), " ".join(fixes)))
    else:
        n = len({acls[s]["NetworkAclId"] for s in endpoint_subnets if s in acls})
        out.append(Check("nacl.https", link, C, OK, f"{n} network ACL(s) pass tcp/443 and its return traffic "
                         f"({EPHEMERAL[0]}-{EPHEMERAL[1]}) both ways for " + ", ".join(cidrs)))
    return out
