"""Fixtures for what an operator sees: doctor's recorder of operations (with its after-call edits), one deployment."""
from tests.doctor.conftest import calls, deployed, fast  # noqa: F401 (fixtures)
