"""Fixtures for doctor: one xacct deployment in moto (the same pipeline as `xacct setup`), a recorder of every
operation doctor's clients send, and a way to answer ONE operation where moto cannot (botocore's before-call
event: a handler that returns a response short-circuits the request, like Stubber for that operation alone)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

# doctor (and the setup before it) runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from tests.steps.test_steps_moto import Deployment
from xacct_dataapi import aws as aws_mod

pytestmark = pytest.mark.usefixtures("fast_aws")


@pytest.fixture(autouse=True)
def fast(fast_aws):
    """Every doctor test runs with tests.helpers.speed's shared botocore loader (the one speed-up)."""


@pytest.fixture
def deployed(world, password) -> Deployment:
    dep = Deployment(world, password)
    dep.apply()
    return dep


@dataclass
class Calls:
    """Every operation sent through xacct's clients ('Service.Operation'); canned answers for some."""

    seen: list[str] = field(default_factory=list)
    answers: dict = field(default_factory=dict)  # operation name -> parsed response dict or an exception
    edits: dict = field(default_factory=dict)  # operation name -> fn(parsed) that edits moto's answer in place

    def mutating(self) -> list[str]:
        return [c for c in self.seen if not c.split(".", 1)[1].startswith(("Describe", "Get", "List", "Simulate"))]


@pytest.fixture
def calls(monkeypatch) -> Calls:
    rec = Calls()
    original = aws_mod.Sessions.client

    def client(sessions, account, service):
        c = original(sessions, account, service)
        if not getattr(c, "_doctor_hooked", False):
            c._doctor_hooked = True

            def before(model, **_):
                rec.seen.append(f"{model.service_model.service_name}.{model.name}")
                answer = rec.answers.get(model.name)
                if isinstance(answer, BaseException):
                    raise answer
                if answer is not None:
                    return _Http(), answer

            def after(model, parsed, **_):
                edit = rec.edits.get(model.name)
                if edit is not None:
                    edit(parsed)

            c.meta.events.register("before-call.*.*", before, unique_id="doctor-test-before")
            c.meta.events.register("after-call.*.*", after, unique_id="doctor-test-after")
        return c

    monkeypatch.setattr(aws_mod.Sessions, "client", client)
    return rec


class _Http:
    status_code = 200
    headers: dict = {}
    raw = None
    content = b""
