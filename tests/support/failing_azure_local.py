"""`python -m tests.support.failing_azure_local ARGS`: `python -m azure_local ARGS` (the Azure
build in Microsoft's worker, in this process) whose core fails the first sendToRoom holding the
text in CODESTREAM_TEST_FAIL_MARKER (see faults.py)."""

from __future__ import annotations

import os
import sys

from azure_local.__main__ import main

from .faults import MARKER_ENV, fail_sends_containing

if __name__ == "__main__":
    fail_sends_containing(os.environ[MARKER_ENV])
    sys.exit(main())
