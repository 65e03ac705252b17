"""``python -m neurotep``: the command line (:mod:`neurotep.cli`)."""

import sys

from neurotep.cli import main

sys.exit(main())
