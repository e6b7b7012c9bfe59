"""The page sizes AWS accepts on the listing calls `list --refresh` makes (docs/aws-facts.md, "Listing in bulk"),
enforced in the sandbox with the service's validation error; moto takes any. ListAliases' Limit is checked where
limits.py pages it. Installed by limits.install(), through its patch helper, so limits.uninstall() restores them."""
from __future__ import annotations

from typing import Any, Callable


def install_page_sizes(patch: Callable[[Any, str, Callable[[Any], None]], None]) -> None:
    """Refuse the page sizes AWS refuses, through limits.py's `patch` (so `uninstall()` restores them too)."""
    from moto.ec2.exceptions import InvalidParameterValueError
    from moto.ec2.responses.security_groups import SecurityGroups
    from moto.ec2.responses.vpcs import VPCs
    from moto.resourcegroupstaggingapi.exceptions import ResourceGroupsTaggingAPIError
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse
    from moto.secretsmanager.exceptions import InvalidParameterException
    from moto.secretsmanager.responses import SecretsManagerResponse

    def validation(error: Callable[[str], Exception]) -> Callable[[str, str, int], Exception]:
        return lambda value, param, most: error(f"1 validation error detected: Value '{value}' at '{param}' failed to "
                                                f"satisfy constraint: Member must have value less than or equal to {most}")

    for cls, name, param, most, error in (
            (ResourceGroupsTaggingAPIResponse, "get_resources", "ResourcesPerPage", 100,
             validation(lambda m: ResourceGroupsTaggingAPIError("InvalidParameterException", m))),
            (SecretsManagerResponse, "list_secrets", "MaxResults", 100, validation(InvalidParameterException)),
            (SecurityGroups, "describe_security_groups", "MaxResults", 1000,
             lambda value, *_: InvalidParameterValueError(value)),
            (VPCs, "describe_vpc_endpoints", "MaxResults", 1000, lambda value, *_: InvalidParameterValueError(value))):
        patch(cls, name, _page_size_guard(param, most, error))


def _page_size_guard(param: str, most: int, error: Callable[[str, str, int], Exception]) -> Callable[[Any], None]:
    def guard(response: Any) -> None:
        value = response._get_param(param)
        if value is not None and not 1 <= int(value) <= most:
            raise error(str(value), param[0].lower() + param[1:], most)
    return guard
