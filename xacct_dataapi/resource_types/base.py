"""What every kind of AWS resource xacct records has to answer: how to read it, and whether AWS shows it is this
deployment's. The second question guards every delete: a state file is untrusted input (it can be edited, copied
from another deployment, or simply stale), so no row is deleted on its word alone.

A kind's module (kms.py, iam.py, secrets.py, ec2.py, rds.py) defines one ResourceType per state-file row kind; the
registry in __init__ maps kinds to them. `guard` marks a delete item of the plan (as data: the recorded row) so that,
right before it runs, the executor has `before_delete` read the resource again and check its ownership (the plan-time
screen in commands may be minutes old).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from botocore.exceptions import ClientError

from xacct_dataapi.aws import is_not_found
from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED, Names
from xacct_dataapi.errors import AwsError
from xacct_dataapi import policy_diff as policies
from xacct_dataapi.models import NOTHING_CHANGED, Account, Bookkeeping, PlanItem, Record, render_value

OURS, NOT_OURS, GONE = "ours", "not ours", "gone"
# A policy naming a principal IAM has not yet propagated is refused with one of these (bounded retry).
INVALID_PRINCIPAL = ("MalformedPolicyDocumentException", "MalformedPolicyDocument", "InvalidParameterValue")


@dataclass(frozen=True)
class Ownership:
    """What AWS shows about one recorded row: `verdict` is OURS, NOT_OURS or GONE; `why` says it in words."""

    verdict: str
    why: str

    @property
    def ours(self) -> bool:
        return self.verdict == OURS


class NotOurs(AwsError):
    """A delete refused: AWS does not show the resource as this deployment's."""


def tags_of(tags: list[dict] | None) -> dict[str, str]:
    """Tag lists in any of AWS's spellings (Key/Value, TagKey/TagValue) as one dict; an item that is no mapping (a
    response is untrusted) is skipped."""
    return {t.get("Key", t.get("TagKey")): t.get("Value", t.get("TagValue")) for t in tags or [] if isinstance(t, dict)}


def tagged_for(tags: dict[str, str], deployment: str) -> bool:
    return tags.get(TAG_DEPLOYMENT) == deployment and tags.get(TAG_MANAGED) == "xacct"


def tagged_resources(tagging, resource_type: str, value: str, key: str = TAG_DEPLOYMENT) -> dict[str, dict[str, str]]:
    """ARN -> tags of each resource of `resource_type` ("kms:key") whose tag `key` is `value`, through the Resource
    Groups Tagging API: one paged GetResources, for the declared step's search and lost-state discovery alike."""
    pages = tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": key, "Values": [value]}], ResourceTypeFilters=[resource_type])
    return {m["ResourceARN"]: tags_of(m.get("Tags")) for page in pages for m in page.get("ResourceTagMappingList", [])}


def read_or_none(fn: Callable[..., Any], **params) -> Any:
    """fn(**params), or None when AWS says the resource does not exist: the one place not-found is handled."""
    try:
        return fn(**params)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


class ResourceType:
    """One kind of state-file row. Subclasses set `kind`, `service`, `noun` and implement `read` and `judge`, and
    `delete` unless the step that records the kind plans its deletion itself (shared resources)."""

    kind: str = ""
    service: str = ""
    noun: str = ""  # "IAM role": how messages name it
    guarded = True  # its deletion changes AWS, so AWS must first show the resource is this deployment's

    account: Account = Account.PROVIDER
    # The link of doctor's chain that checks this kind (doctor/checks.py); None: doctor checks each recorded row of
    # it by its read and ownership test (doctor/recorded.py).
    doctor_link: str | None = None
    cfn_refs: dict = {}  # Ref key -> (logical id, attribute or None): how a template names what this kind produces

    def cloudformation(self, template, resource, ctx) -> None:
        """Add the desired `resource` (models.Resource) to `template` (cfn.Template), or say why it is left out."""
        raise NotImplementedError(f"resource type {self.kind} has no CloudFormation mapping")

    # What the generic planner (declared.py) asks of a type whose step only declares the resource and its properties.
    def create(self, resource) -> list[PlanItem]:
        """The items that make the desired `resource` (models.Resource) and record it."""
        raise NotImplementedError(f"resource type {self.kind} cannot be created by a declared step")

    def differences(self, found, resource) -> list[str]:
        """How what AWS holds (`found`, from `read`) differs from the desired resource, one line each."""
        return []

    def requested(self, found, resource) -> list[str]:
        """Changes the desired resource asks for although nothing differs (new credentials), one line each: planned
        with `update`, named in the reason, no problem."""
        return []

    def drift(self, found, resource) -> list[dict]:
        """Each differing policy statement as data (`status --output json`), when `differences` named some."""
        return []

    def update(self, found, resource) -> list[PlanItem]:
        """The items that bring the resource to its desired properties (after `differences` named some)."""
        raise NotImplementedError(f"resource type {self.kind} cannot be updated by a declared step")

    def replacement(self, found, resource) -> list[str]:
        """How what AWS holds differs from the desired resource in a property AWS cannot change in place (terraform's
        ForceNew), one line each: the generic planner deletes the resource through its type (guarded) and creates it
        again, with whatever lives inside it (`inside`)."""
        return []

    # The generic planner reads a desired resource by its name (whatever holds that name now, which a create would
    # collide with), or, for a document on another resource, through the ARN the desired resource names.
    reads_through_arn = False

    # The kinds of resource this one lives in (an inline policy in its role), its id `<container id>/...`: read beside
    # it, this deployment's when it is (a planner's verdict; a delete's guard still judges it alone), gone with it.
    inside: tuple[str, ...] = ()
    refused_fix = ""  # the fix a refusal names, when not "another --name, or remove that resource"

    # A kind whose id AWS makes (CreateKey takes no name): the generic planner does not read it by the desired id but
    # asks `locate` which one is this deployment's, and keys what it found by the id AWS gave it (`id_of`).
    located = False

    def id_of(self, found) -> str:
        return found["Id"]

    def search(self, client_for: Callable[[str], Any], names: Names) -> Any:
        """This deployment's resource of a `located` kind, found by its tag (what `read` returns), or None;
        `client_for(service)` gives a client in the resource's account. A run that records none starts it beside the
        step's reads; otherwise `locate` asks for it only if what the reads name will not do."""
        return None

    def locate(self, found: dict, resource, names: Names, read: Callable[[], Any], search: Callable[[], Any]) -> Any:
        """This deployment's resource of a `located` kind (what `read` returns) or None, given what the planner read
        of the step's other resources (`found`, by (kind, id)), which may name it, `read()` (the recorded one: the
        desired resource's id when it is no Ref) and `search()`."""
        return search()

    def read_part(self, client, row) -> Any:
        """`read` minus what the resource it lives in (`inside`) tells, when that is read at the same time."""
        return self.read(client, row)

    def joined(self, found, container) -> Any:
        """What `read_part` found, completed with what was read of the resource it lives in (None: absent)."""
        return found

    def values(self, found, resource, names: Names, known: dict) -> dict:
        """The values (ARNs, ids) that what AWS holds gives the steps after this one (None: no longer known), for
        a declared step that `provides` them; `known`: the values known before this inspection."""
        return {}

    def foreign(self, client, resource) -> list[str]:
        """What reaches the resource that xacct did not make (a KMS grant on the key), one finding line each: the
        plan names it and keeps it (never removed: it is not ours), and setup fails (exit 1) while any is there."""
        return []

    def record(self, resource, found) -> Record:
        """The state row of a resource that exists (adopted: made by a run that died before recording it)."""
        return Record(self.kind, resource.id, arn=found.get("Arn") or found.get("ARN"))

    def delete(self, row, state) -> list[PlanItem] | None:
        """The items that delete the resource, from the recorded row alone (pure); None: the step plans them."""
        return None

    def name_of(self, names: Names) -> str | None:
        """The deterministic name xacct gives this kind's resource (None: found another way, or not at all)."""
        return None

    def find(self, finder) -> list[tuple[str, str | None]]:
        """Lost-state discovery, read-only: (id, arn) of this deployment's resources of this kind, found by the name
        xacct gives them and judged by the same ownership test that guards their deletion."""
        name = self.name_of(finder.names)
        if name is None:
            return []
        probe = _Probe(name)
        found = self.read(finder.client(self.account, self.service), probe)
        if found is None or not self.judge(found, probe, finder.names).ours or not self.live(found):
            return []
        return [(name, found.get("Arn") or found.get("ARN"))]

    def live(self, found) -> bool:
        """Worth finding (not already on its way out)."""
        return True

    def read(self, client, row) -> Any:
        """The resource as AWS describes it now (whatever `judge` needs), or None if it is gone."""
        raise NotImplementedError

    def judge(self, found: Any, row, names: Names) -> Ownership:
        """OURS only if what AWS returned carries this deployment's marks (tag, deterministic name, ...)."""
        raise NotImplementedError

    def ownership(self, client, row, deployment: str) -> Ownership:
        found = self.read(client, row)
        if found is None:
            return Ownership(GONE, f"{self.noun} {row.id} no longer exists")
        return self.judge(found, row, Names(deployment))

    def refusal(self, row, verdict: Ownership, deployment: str) -> NotOurs:
        return NotOurs(f"Not deleting {self.noun} {row.id}: {verdict.why}, so AWS does not show it as deployment "
                       f"{deployment!r}'s.",
                       "The state file names a resource xacct did not make for this deployment (edited, copied or "
                       "stale). Nothing was deleted; check the resource, then remove its row from the state file.")

    def guard(self, item: PlanItem, row, deployment: str) -> PlanItem:
        """The same delete, run only after AWS shows the resource is this deployment's: the item carries the guard as
        data (the row as recorded), and the executor reads the resource again right before it runs (before_delete)."""
        if not item.changes_aws:
            return item
        guard = {"kind": row.kind, "id": row.id, "reads": self.noun, "deployment": deployment,
                 **{key: value for key, value in (("arn", row.arn), ("name", row.name)) if value is not None}}
        return replace(item, description=f"{item.description}, once AWS shows it is deployment {deployment}'s",
                       guard=guard)

    def before_delete(self, client, guard: dict) -> dict | None:
        """Right before a guarded delete: None when AWS shows the resource is the guard's deployment's, the
        "already gone" response when it is gone (nothing to delete), and NotOurs raised for anything else."""
        row = _Probe(guard["id"], guard.get("arn"), guard.get("name"), guard["kind"])
        verdict = self.ownership(client, row, guard["deployment"])
        if verdict.verdict == GONE:
            return {NOTHING_CHANGED: "already gone"}
        if not verdict.ours:
            raise self.refusal(row, verdict, guard["deployment"])
        return None


class _Probe:
    """A row-shaped handle for a resource known only by its name (discovery), or by a guard's copy of its row."""

    def __init__(self, id_: str, arn: str | None = None, name: str | None = None, kind: str | None = None):
        self.id, self.arn, self.name, self.kind = id_, arn, name, kind


class ForgetOnly(ResourceType):
    """A row whose teardown makes no AWS call: a policy document that goes with its resource, or an adopted principal
    that is never deleted. Nothing to guard: only the state file changes."""

    guarded = False

    def __init__(self, kind: str, account: Account, why: str):
        self.kind, self.account, self.why = kind, account, why

    def delete(self, row, state) -> list[PlanItem]:
        return [Bookkeeping(self.account, forget=(row.kind, row.id), description=self.why.format(row=row))]


class DocumentDiff:
    """A type whose desired resource names one policy document (`document`) that AWS holds in `found[held]`: compared
    as AWS would hold it (a value not yet known never compares equal), each differing statement a line (after
    `what`) and, as data, its drift."""

    document, held, what = "", "Document", ""

    def _want(self, resource):
        return render_value(resource.documents[self.document])

    def differences(self, found, resource) -> list[str]:
        have, want = found[self.held], self._want(resource)
        return [] if policies.equal(have, want) else [f"{self.what}{d}" for d in policies.differing_statements(have, want)]

    def drift(self, found, resource) -> list[dict]:
        return policies.statement_drift(found[self.held], self._want(resource), self.document)


class PolicyDocument(DocumentDiff, ForgetOnly):
    """A resource's policy document (a key policy, a secret's resource policy) as a declared step's resource: read,
    compared with the desired document (as AWS would hold it: a value not yet known never compares equal), written
    whole, recorded; at teardown only forgotten (it goes with its resource). Subclasses set `document` (the desired
    resource's document name) and implement `read_document` and `put`."""

    reads_through_arn = True

    def read_document(self, client, row):
        raise NotImplementedError

    def put(self, resource) -> PlanItem:
        raise NotImplementedError

    def read(self, client, row):
        found = self.read_document(client, row)
        return None if found is None else {"Document": found}

    def judge(self, found, row, names):
        # Read through its resource, which its own step found as this deployment's (that step refuses any other).
        return Ownership(OURS, f"it is the {self.noun} of this deployment's resource")

    def create(self, resource) -> list[PlanItem]:
        return [self.put(resource)]

    def update(self, found, resource) -> list[PlanItem]:
        return [self.put(resource)]  # the document is written whole

    def record(self, resource, found) -> Record:
        return Record(self.kind, resource.id, arn=resource.arn)


def account_of(row) -> Account:
    return Account(row.account)
