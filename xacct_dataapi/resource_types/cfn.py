"""The template a resource type writes its CloudFormation mapping into (ResourceType.cloudformation), and the
conversion of model values into CloudFormation: Refs become Ref/GetAtt, strings with `${...}` become Fn::Sub.

Each type declares the Refs its resources answer to (`cfn_refs`: the key_arn -> Key.Arn); the template is given
all of them, so no mapping names another type's logical ids except through a Ref.
AWS source: CloudFormation template reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/
(intrinsic-function-reference-sub.html, intrinsic-function-reference-getatt.html).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from xacct_dataapi.models import Account, Ref, Sensitive


def cfn(value: Any, refs: dict[str, tuple[str, str | None]], replace: dict[str, str] | None = None) -> Any:
    """A model value as CloudFormation: Refs become Ref/GetAtt, placeholder strings Fn::Sub."""
    if isinstance(value, Ref):
        logical, attr = refs[value.key]
        return {"Fn::GetAtt": [logical, attr]} if attr else {"Ref": logical}
    if isinstance(value, Sensitive):
        raise AssertionError("a secret value must never reach a template")
    if isinstance(value, dict):
        return {k: cfn(v, refs, replace) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cfn(v, refs, replace) for v in value]
    if isinstance(value, str):
        for old, new in (replace or {}).items():
            value = value.replace(old, new)
        if "${" in value:
            return {"Ref": value[2:-1]} if re.fullmatch(r"\$\{[A-Za-z0-9:]+\}", value) else {"Fn::Sub": value}
    return value


def cfn_tags(d: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in d.items()]


@dataclass
class Template:
    """A template being built: its resources, and the model kinds each one implements."""

    side: Account
    refs: dict = dataclasses.field(default_factory=dict)  # Ref key -> (logical id, attribute or None)
    resources: dict = dataclasses.field(default_factory=dict)
    implements: dict = dataclasses.field(default_factory=dict)  # logical id -> [model kind]
    not_in_template: dict = dataclasses.field(default_factory=dict)  # model kind -> why
    replace: dict = dataclasses.field(default_factory=dict)  # literal -> placeholder, applied to every string

    def add(self, logical: str, kind: str, type_: str, properties: dict, **attributes) -> None:
        self.resources[logical] = {"Type": type_, **attributes, "Properties": cfn(properties, self.refs, self.replace)}
        self.implements.setdefault(logical, []).append(kind)

    def merge(self, logical: str, kind: str, properties: dict) -> None:
        self.resources[logical]["Properties"].update(cfn(properties, self.refs, self.replace))
        self.implements[logical].append(kind)

    def leave_out(self, kind: str, why: str) -> None:
        self.not_in_template[kind] = why
