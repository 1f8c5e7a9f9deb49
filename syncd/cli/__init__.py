"""The ``syncd`` command: one module per group of commands, registered in
:mod:`syncd.cli.main` (which holds the parser and ``main``)."""
