from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra import tools


@pytest.fixture(scope="session")
def parsed_bicep() -> dict[Path, dict[str, Any]]:
    """Every infra/**/*.bicep parsed once by pycep-parser: {path: {"tree": ...} or {"error": ...}}."""
    files = tools.bicep_files()
    results = tools.parse_bicep({str(path): path.read_text(encoding="utf-8") for path in files})
    return {path: results[str(path)] for path in files}


@pytest.fixture(scope="session")
def trees(parsed_bicep: dict[Path, dict[str, Any]]) -> dict[Path, dict[str, Any]]:
    """The parse trees; fails if any file does not parse."""
    broken = {path.name: result["error"] for path, result in parsed_bicep.items() if "error" in result}
    assert not broken, f"Bicep files that do not parse: {broken}"
    return {path: result["tree"] for path, result in parsed_bicep.items()}
