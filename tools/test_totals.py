"""Print one closing line for `make test`'s pytest runs (main venv, Azure venv, the old Azure
harness): `total: N passed, N failed, N skipped`, summed from their JUnit reports."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(paths: list[str]) -> int:
    tests = failed = skipped = 0
    for path in paths:
        for suite in ET.parse(Path(path)).getroot().iter("testsuite"):
            tests += int(suite.get("tests", 0))
            failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped += int(suite.get("skipped", 0))
    print(f"total: {tests - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or tests == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
