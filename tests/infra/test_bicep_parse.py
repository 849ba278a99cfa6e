"""Every Bicep file under infra/ parses with pycep-parser (a syntax error fails here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra import tools

EXPECTED = {
    "main.bicep",
    "modules/monitoring.bicep",
    "modules/storage.bicep",
    "modules/webpubsub.bicep",
    "modules/functionapp.bicep",
    "modules/roles.bicep",
    "modules/staticwebapp.bicep",
    "modules/socketio-hub.bicep",
}


def test_the_expected_bicep_files_exist() -> None:
    found = {path.relative_to(tools.INFRA).as_posix() for path in tools.bicep_files()}
    assert found >= EXPECTED, f"missing: {sorted(EXPECTED - found)}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bicep_file_parses(name: str, parsed_bicep: dict[Path, dict[str, Any]]) -> None:
    result = parsed_bicep[tools.INFRA / name]
    assert "error" not in result, f"{name}: {result.get('error')}"
    assert result["tree"].get("resources") or result["tree"].get("modules"), f"{name} declares nothing"


def test_every_module_main_uses_exists(trees: dict[Path, dict[str, Any]]) -> None:
    modules = trees[tools.MAIN_BICEP]["modules"]
    paths = {module["detail"]["path"] for module in modules.values()}
    assert paths == {name for name in EXPECTED if name.startswith("modules/")}
    for path in paths:
        assert (tools.INFRA / path).is_file(), path


BROKEN = {
    "unclosed resource": "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'x'\n",
    "unterminated string": "param hub string = 'codestream\n",
    "stray tokens": "output o string = 'a' 'b'\n",
    "decorator without a declaration": "param p string\n@description('dangling')\n",
}


VALID = "@description('Hub.')\nparam hub string = 'codestream'\noutput o string = hub\n"


@pytest.fixture(scope="module")
def samples() -> dict[str, dict[str, Any]]:
    """The broken texts and one valid text, parsed in one run of pycep-parser."""
    return tools.parse_bicep({**BROKEN, "valid": VALID})


@pytest.mark.parametrize("label", sorted(BROKEN))
def test_a_broken_bicep_text_fails_to_parse(label: str, samples: dict[str, dict[str, Any]]) -> None:
    """The parse check is live: pycep-parser rejects bad syntax rather than passing anything."""
    assert "error" in samples[label], f"pycep-parser accepted broken Bicep ({label})"


def test_a_valid_bicep_text_parses(samples: dict[str, dict[str, Any]]) -> None:
    assert samples["valid"]["tree"]["parameters"]["hub"]["default"] == "codestream"
