"""Shared test helpers; what each module is for is in README.md and in each module's docstring."""
