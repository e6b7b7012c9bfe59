"""Step 7's security group rules: HTTPS from the clients in, HTTPS to them out, as sets of comparable tuples (so a
re-run can name what is missing and what is extra, and revoke exactly the extra)."""
from __future__ import annotations


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
