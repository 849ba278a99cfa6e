"""`python -m tests.support.failing_selfhost ARGS`: `python -m selfhost ARGS` whose core fails
every sendToRoom holding the text in CODESTREAM_TEST_FAIL_MARKER (see faults.py)."""

from __future__ import annotations

import os
import sys

from selfhost.__main__ import main

from .faults import MARKER_ENV, fail_sends_containing

if __name__ == "__main__":
    fail_sends_containing(os.environ[MARKER_ENV])
    sys.exit(main())
