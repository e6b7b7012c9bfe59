"""Step 7's security group rules: HTTPS from the clients in, HTTPS to them out, as sets of comparable tuples (so a
re-run can name what is missing and what is extra, and revoke exactly the extra)."""
from __future__ import annotations

from xacct_dataapi.models import Account, Call


def https_rule(cidrs, description: str) -> dict:
    cidrs = [cidrs] if isinstance(cidrs, str) else list(cidrs)
    return {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "IpRanges": [{"CidrIp": c, "Description": description} for c in cidrs]}


def rules_of(perms: list[dict]) -> set[tuple]:
    out = set()
    for p in perms or []:
        for r in p.get("IpRanges", []):
            out.add((p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), r.get("CidrIp")))
        for r in p.get("Ipv6Ranges", []):
            out.add((p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), r.get("CidrIpv6")))
        for g in p.get("UserIdGroupPairs", []):
            out.add((p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), g.get("GroupId")))
        for pl in p.get("PrefixListIds", []):
            out.add((p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), pl.get("PrefixListId")))
    return out


def describe_rule(rule: tuple) -> str:
    proto, lo, hi, target = rule
    proto = {"-1": "all traffic", "6": "tcp", "17": "udp"}.get(str(proto), str(proto))
    ports = "" if lo is None or proto == "all traffic" else (f" {lo}" if lo == hi else f" {lo}-{hi}")
    return f"{proto}{ports} {target}"


def permission_of(rule: tuple) -> dict:
    proto, lo, hi, target = rule
    perm = {"IpProtocol": proto}
    if lo is not None:
        perm["FromPort"], perm["ToPort"] = lo, hi
    if str(target).startswith("sg-"):
        perm["UserIdGroupPairs"] = [{"GroupId": target}]
    elif str(target).startswith("pl-"):
        perm["PrefixListIds"] = [{"PrefixListId": target}]
    elif ":" in str(target):
        perm["Ipv6Ranges"] = [{"CidrIpv6": target}]
    else:
        perm["IpRanges"] = [{"CidrIp": target}]
    return perm


def only_rules(permission: dict, rules: set[tuple]) -> dict:
    """`permission` with only the IPv4 ranges `rules` name (descriptions kept). Why: AuthorizeSecurityGroupIngress
    refuses the whole request with InvalidPermission.Duplicate when one of its rules exists, so a new --client-cidr
    must be authorized alone, not with the CIDRs the group already has."""
    key = (permission["IpProtocol"], permission.get("FromPort"), permission.get("ToPort"))
    return {**permission, "IpRanges": [r for r in permission["IpRanges"] if (*key, r["CidrIp"]) in rules]}


def rule_repairs(sg: dict, sg_id: str, ingress: dict, egress: dict, reasons: list[str], problems: list[str]) -> list:
    """The calls that bring the group's rules to exactly `ingress` and `egress`, each missing or extra rule named."""
    calls = []
    have = {"ingress": rules_of(sg.get("IpPermissions")), "egress": rules_of(sg.get("IpPermissionsEgress"))}
    for direction, permission in (("ingress", ingress), ("egress", egress)):
        want = rules_of([permission])
        missing, extra = sorted(want - have[direction], key=str), sorted(have[direction] - want, key=str)
        if missing:
            named = ", ".join(describe_rule(r) for r in missing)
            reasons.append(f"{direction} rule {named} is missing")
            problems.append(f"security group {sg_id}: {direction} rule {named} missing")
            calls.append(Call(Account.CONSUMER, "ec2", f"authorize_security_group_{direction}",
                              {"GroupId": sg_id, "IpPermissions": [only_rules(permission, set(missing))]},
                              ok_codes=("InvalidPermission.Duplicate",), description=f"add {direction} rule {named}"))
        if extra:
            named = ", ".join(describe_rule(r) for r in extra)
            reasons.append(f"unexpected {direction} rule(s) {named}")
            problems.append(f"security group {sg_id}: unexpected {direction} rule(s) {named}")
            calls.append(Call(Account.CONSUMER, "ec2", f"revoke_security_group_{direction}",
                              {"GroupId": sg_id, "IpPermissions": [permission_of(r) for r in extra]},
                              ok_codes=("InvalidPermission.NotFound",), description=f"remove unexpected {direction} rules"))
    return calls


ENDPOINT_CHANGES = {"AddSubnetIds": "adds subnet", "RemoveSubnetIds": "removes subnet",
                    "AddSecurityGroupIds": "adds security group"}


def describe_endpoint_change(modify: dict) -> str:
    """ModifyVpcEndpoint's parameters as the plan names them: every subnet and group added or removed, by id."""
    parts = [f"{ENDPOINT_CHANGES[k]}{'s' if len(v) > 1 else ''} {', '.join(v)}"
             for k, v in modify.items() if k in ENDPOINT_CHANGES]
    parts += [{"PrivateDnsEnabled": "turns private DNS on", "ResetPolicy": "resets its policy to AWS's full-access default",
               "PolicyDocument": "writes its policy from the member tags"}[k] for k in modify if k not in ENDPOINT_CHANGES]
    return "; ".join(parts)
