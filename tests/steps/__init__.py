"""Per-step tests: moto-backed create / re-run / teardown / drift (test_steps_moto.py) and botocore Stubber
tests for what moto does not simulate (test_stubber.py)."""
