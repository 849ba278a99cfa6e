"""Parse Bicep with pycep-parser and print the trees as JSON.

Run by the infra tests with the tools venv's Python (`.venv-infra/bin/python`), so that
pycep-parser and its dependencies stay out of the main venv. Reads
`{"sources": {"label": "bicep text", ...}}` on stdin and prints
`{"label": {"tree": {...}} or {"error": "..."}, ...}`.
"""

from __future__ import annotations

import json
import sys

from pycep import BicepParser


def main() -> None:
    sources = json.load(sys.stdin)["sources"]
    parser = BicepParser()
    results = {}
    for label, text in sources.items():
        try:
            results[label] = {"tree": parser.parse(text=text)}
        except Exception as error:  # a syntax error is the answer, not a crash
            results[label] = {"error": f"{type(error).__name__}: {error}"}
    json.dump(results, sys.stdout, default=str)


if __name__ == "__main__":
    main()
