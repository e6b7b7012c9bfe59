"""A Wait's JMESPath over a response of a shape AWS does not document (a read's response is untrusted input): the
wait stops at once with UnexpectedState naming what it read (exit 1), never an internal error (exit 70)."""
from __future__ import annotations

import pytest

from xacct_dataapi.steps.endpoint_joined import ENDPOINT_STATE
from xacct_dataapi.waiting import Probe, Timing, UnexpectedState, state_of, wait_all


@pytest.mark.parametrize("state", [5, ["available"], {"Name": "available"}, True])
def test_an_endpoint_state_that_is_no_string_stops_the_wait_at_once(state):
    polls = []

    def refresh():
        polls.append(1)
        return state_of(ENDPOINT_STATE, {"VpcEndpoints": [{"VpcEndpointId": "vpce-1", "State": state}]})

    probe = Probe(refresh, pending=("pending",), target=("available",), what="the endpoint to become available")
    with pytest.raises(UnexpectedState) as info:
        wait_all([probe], timeout=60, timing=Timing(sleep=lambda s: None))
    assert len(polls) == 1 and "unreadable" in info.value.message and "lower()" in info.value.message


def test_documented_shapes_still_read_as_before():
    assert state_of(ENDPOINT_STATE, {"VpcEndpoints": [{"State": "Available"}]}) == "available"
    assert state_of(ENDPOINT_STATE, {"VpcEndpoints": []}) == "deleted"
