"""What a command module hands the command line: a command's handler, and the ``add``
function of :func:`syncd.cli.main.build_parser` that makes a command's parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from syncd.app import App

# A command: the App of the athlete it is about and the parsed arguments in, the exit code out.
Command = Callable[[App, argparse.Namespace], int]
