"""A Wait's JMESPath over a response of a shape AWS does not document (a read's response is untrusted input): the
wait stops at once with UnexpectedState naming what it read (exit 1), never an internal error (exit 70)."""
from __future__ import annotations

import pytest

from tests.helpers.clock import FakeClock
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


# DBCluster.HttpEndpointEnabled is a Boolean (RDS API reference, DBCluster). JMESPath takes any non-empty string for
# true, so the string "false" read as "on" before: a setup went on as if the Data API were on, a teardown's wait for
# "off" stopped at once. Any value that is no boolean is untrusted and unreadable: the wait stops at once naming it.
UNTRUSTED_SWITCHES = ["false", "true", "", 1, 0, ["true"], {"on": True}]


def _cluster(flag, **more) -> dict:
    return {"DBClusters": [{"DBClusterIdentifier": "orders-aurora", "HttpEndpointEnabled": flag, **more}]}


@pytest.mark.parametrize("flag", UNTRUSTED_SWITCHES)
@pytest.mark.parametrize("turning_on", [True, False])
def test_a_data_api_switch_that_is_no_boolean_is_neither_on_nor_off(flag, turning_on):
    from xacct_dataapi.steps import data_api

    wait = data_api._wait("orders-aurora", turning_on)
    polls = []

    def refresh():
        polls.append(1)
        return state_of(wait.state, _cluster(flag))

    probe = Probe(refresh, pending=wait.pending, target=wait.target, what=wait.what)
    with pytest.raises(UnexpectedState) as info:
        wait_all([probe], timeout=60, timing=FakeClock().timing())
    assert len(polls) == 1 and "unreadable: HttpEndpointEnabled is the" in info.value.message
    assert "not a boolean" in info.value.message
    assert state_of(data_api.STAYS_ON_STATE, _cluster(flag)).startswith("unreadable: HttpEndpointEnabled is the")


def test_only_the_boolean_true_reads_as_on():
    from xacct_dataapi.steps import data_api

    assert state_of(data_api.SWITCH_STATE, _cluster(True)) == "on"
    assert state_of(data_api.SWITCH_STATE, _cluster(False)) == "off"
    assert state_of(data_api.SWITCH_STATE, {"DBClusters": [{}]}) == "off"  # modifying: the flag not yet there
    assert state_of(data_api.SWITCH_STATE, _cluster("false")) == (
        "unreadable: HttpEndpointEnabled is the string false, not a boolean")


class _Cluster:
    """A provider whose DescribeDBClusters answers `flag`; every write is recorded (none may happen)."""

    def __init__(self, flag):
        self.flag, self.writes = flag, []

    def client(self, service):
        assert service == "rds", service
        return self

    def describe_db_clusters(self, DBClusterIdentifier):
        return _cluster(self.flag, TagList=[{"Key": "xacct:data-api-enabled-by", "Value": "orders"}])

    def call(self, service, method, **params):
        self.writes.append(method)

    def note(self, text):
        self.writes.append(("note", text))


@pytest.mark.parametrize("flag", ["false", "true", 1])
def test_teardown_changes_nothing_on_a_switch_that_is_no_boolean(flag):
    from xacct_dataapi.errors import AwsError
    from xacct_dataapi.steps.data_api import disable_data_api

    provider = _Cluster(flag)
    with pytest.raises(AwsError) as info:
        disable_data_api(provider, ClusterId="orders-aurora", ClusterArn="arn:aws:rds:eu-west-1:1:cluster:orders-aurora",
                         EngineMode=None, Deployment="orders")
    assert provider.writes == []  # no tag added or removed, the switch not touched
    assert repr(flag) in info.value.message and "not a boolean" in info.value.message

