"""The ``syncd`` command: one module per group of commands, registered in
:mod:`syncd.cli.main`."""

from syncd.cli.main import main

__all__ = ["main"]
