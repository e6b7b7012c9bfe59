"""Fixtures for what an operator sees: doctor's recorder of operations (with its after-call edits), one deployment."""
from tests.doctor.conftest import calls, deployed, fast  # noqa: F401 (fixtures)
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
