"""`python -m harness.scan [--require-audit] [variants...]`."""

import sys

from .runner import main

sys.exit(main(sys.argv[1:]))
