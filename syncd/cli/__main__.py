"""``python -m syncd.cli``: the ``syncd`` command."""

import sys

from syncd.cli.main import main

sys.exit(main())
