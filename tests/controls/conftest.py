"""Fixtures of the controls tests: the CLI runner of tests/cli."""

from tests.cli.conftest import cli

__all__ = ["cli"]
