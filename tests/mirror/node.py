"""Run a static_site/src module's exports in Node, for the tests that hold it against its Python original."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.server import ROOT

SOURCES = ROOT / "static_site" / "src"
DRIVER = Path(__file__).with_name("call_driver.mjs")


def node() -> str:
    """The `node` that builds the web client; without it there is no client to check."""
    path = shutil.which("node")
    assert path is not None, "no `node` on PATH: install Node.js (it builds static_site)"
    return path


def node_calls(module: str, calls: list[tuple[str, list[Any] | None]]) -> list[dict[str, Any]]:
    """Run each (export name, args) on static_site/src/`module` in one Node process.

    `args` None reads the export; a list calls it with those arguments. Each result is
    {"value": ...} or {"error": {"name": ..., "message": ...}}, as JSON brings it back.
    """
    lines = "".join(json.dumps([name] if args is None else [name, args]) + "\n" for name, args in calls)
    result = subprocess.run(
        [node(), str(DRIVER), str(SOURCES / module)], input=lines, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]
