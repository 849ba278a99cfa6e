"""infra/deploy.sh: shellcheck-clean, and run end to end against fake `az`, `npm`, `npx` and
`curl` that record what they are asked: the steps, their order, and that no key or secret is
ever printed or put on a command line."""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra import tools

SECRET = "s3cret-" + "x" * 40 + "-SENTINEL"
EXISTING_SECRET = "existing-" + "y" * 40 + "-SENTINEL"
SWA_TOKEN = "swa-deployment-token-SENTINEL"
FUNCTION_APP = "func-codestream-abc123"
API_BASE_URL = f"https://{FUNCTION_APP}.azurewebsites.net"

FAKE_AZ = r"""
import json, os, sys, zipfile

args = sys.argv[1:]
record = {"tool": "az", "argv": args}
out, code = "", 0


def opt(name):
    return args[args.index(name) + 1] if name in args else None


def outputs():
    hub = next((a.split("=", 1)[1] for a in args if a.startswith("hubName=")), "codestream")
    values = {
        "AZURE_LOCATION": "westeurope",
        "FUNCTION_APP_NAME": "func-codestream-abc123",
        "API_BASE_URL": "https://func-codestream-abc123.azurewebsites.net",
        "STATIC_WEB_APP_NAME": "swa-codestream-abc123",
        "STATIC_SITE_URL": "https://nice-sea-0123.azurestaticapps.net",
        "WEB_PUBSUB_NAME": "wps-codestream-abc123",
        "WEB_PUBSUB_ENDPOINT": "https://wps-codestream-abc123.webpubsub.azure.com",
        "CODESTREAM_HUB": hub,
    }
    return json.dumps({name: {"type": "String", "value": value} for name, value in values.items()})


if args[:2] == ["account", "show"]:
    pass
elif args[:2] == ["group", "exists"]:
    out = os.environ.get("FAKE_GROUP_EXISTS", "false")
elif args[:2] == ["group", "create"]:
    pass
elif args[:2] == ["resource", "list"]:
    out = os.environ.get("FAKE_EXISTING_APP", "")
elif args[:4] == ["functionapp", "config", "appsettings", "list"]:
    out = os.environ.get("FAKE_EXISTING_SECRET", "")
elif args[:3] in (["deployment", "group", "create"], ["deployment", "group", "what-if"]):
    record["template"] = os.path.basename(opt("--template-file"))
    for i, arg in enumerate(args):
        if arg == "--parameters" and args[i + 1].startswith("@"):
            path = args[i + 1][1:]
            record["file_mode"] = oct(os.stat(path).st_mode & 0o777)
            record["file_parameters"] = json.load(open(path))["parameters"]
    if record["template"] == "main.bicep" and args[2] == "create":
        out = outputs()
elif args[:3] == ["deployment", "group", "show"]:
    out = outputs()
elif args[:4] == ["functionapp", "deployment", "source", "config-zip"]:
    record["zip"] = sorted(zipfile.ZipFile(opt("--src")).namelist())
elif args[:3] == ["functionapp", "keys", "list"]:
    out = "true"
elif args[:3] == ["staticwebapp", "secrets", "list"]:
    out = "swa-deployment-token-SENTINEL"
else:
    sys.stderr.write("fake az: unexpected call\n")
    code = 2
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(record) + "\n")
print(out)
sys.exit(code)
"""

FAKE_TOOL = r"""
import json, os, sys

name = os.path.basename(sys.argv[0])
record = {"tool": name, "argv": sys.argv[1:], "cwd": os.getcwd()}
if name == "npm" and sys.argv[1:3] == ["run", "build"]:
    os.makedirs("dist", exist_ok=True)
    open("dist/index.html", "w").write("<!doctype html>")
    json.dump({"apiBaseUrl": "", "sendWindowMs": 50}, open("dist/config.json", "w"))
if name == "npx":
    record["token_env"] = os.environ.get("SWA_CLI_DEPLOYMENT_TOKEN")
    record["config"] = json.load(open("dist/config.json"))
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(record) + "\n")
"""


@dataclass
class Run:
    code: int
    output: str
    calls: list[dict[str, Any]]

    def az(self, *prefix: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["tool"] == "az" and c["argv"][: len(prefix)] == list(prefix)]

    def deployments(self) -> dict[str, dict[str, Any]]:
        return {c["template"]: c for c in self.az("deployment", "group", "create")}


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A copy of deploy.sh in a minimal checkout, with fake tools first on PATH."""
    repo = tmp_path / "repo"
    (repo / "infra").mkdir(parents=True)
    shutil.copy2(tools.DEPLOY_SH, repo / "infra" / "deploy.sh")
    (repo / "function_app.py").write_text("import azure.functions\n")
    (repo / "host.json").write_text("{}\n")
    (repo / "requirements.txt").write_text("azure-functions\n")
    (repo / "shared" / "__pycache__").mkdir(parents=True)
    (repo / "shared" / "__init__.py").write_text("")
    (repo / "azure_adapter").mkdir()
    (repo / "azure_adapter" / "__init__.py").write_text("")
    (repo / "shared" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_x.py").write_text("")
    (repo / "static_site").mkdir()
    (repo / "static_site" / "package.json").write_text("{}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {"az": FAKE_AZ, "npm": FAKE_TOOL, "npx": FAKE_TOOL, "node": FAKE_TOOL, "curl": FAKE_TOOL}.items():
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "tmp").mkdir()
    return tmp_path


def run(sandbox: Path, *args: str, **env: str) -> Run:
    log = sandbox / "calls.jsonl"
    log.unlink(missing_ok=True)
    environment = {
        "PATH": os.pathsep.join(
            [str(sandbox / "bin"), str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "HOME": str(sandbox),
        "TMPDIR": str(sandbox / "tmp"),
        "FAKE_LOG": str(log),
        **env,
    }
    done = subprocess.run(
        ["bash", str(sandbox / "repo" / "infra" / "deploy.sh"), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return Run(done.returncode, done.stdout + done.stderr, calls)


def assert_nothing_leaks(result: Run, *secrets: str) -> None:
    for secret in (*secrets, SWA_TOKEN):
        assert secret not in result.output, "a secret was printed"
        for call in result.calls:
            assert secret not in " ".join(call["argv"]), f"a secret was on the command line of {call['tool']}"


# --- shellcheck ------------------------------------------------------------------------------


def test_deploy_sh_passes_shellcheck() -> None:
    shellcheck = tools.require_shellcheck()
    done = subprocess.run([shellcheck, str(tools.DEPLOY_SH)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_is_live(tmp_path: Path) -> None:
    shellcheck = tools.require_shellcheck()
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nfor f in $(ls $1); do echo $f; done\n")
    done = subprocess.run([shellcheck, str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0


def test_deploy_sh_is_strict_and_executable() -> None:
    text = tools.DEPLOY_SH.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert "set -x" not in text
    assert os.access(tools.DEPLOY_SH, os.X_OK)


# --- the command line ------------------------------------------------------------------------


def test_help(sandbox: Path) -> None:
    result = run(sandbox, "--help")
    assert result.code == 0
    assert "Usage: infra/deploy.sh" in result.output
    for step in ("infra", "api", "hub", "site", "--resource-group", "--what-if", "CODESTREAM_SECRET"):
        assert step in result.output
    assert result.calls == []


@pytest.mark.parametrize("args", [["--bogus"], ["deploy-everything"], ["--resource-group"]])
def test_bad_arguments_fail_clearly(sandbox: Path, args: list[str]) -> None:
    result = run(sandbox, *args)
    assert result.code != 0
    assert "deploy.sh: error:" in result.output
    assert result.calls == []


# --- a whole deployment ----------------------------------------------------------------------


def test_a_first_deployment_runs_every_step_in_order(sandbox: Path) -> None:
    result = run(sandbox, "--resource-group", "rg-test", "--location", "swedencentral", CODESTREAM_SECRET=SECRET)
    assert result.code == 0, result.output
    steps = [
        (c["argv"][0], c["argv"][1], c.get("template"))
        for c in result.calls
        if c["tool"] == "az" and c["argv"][:2] not in (["account", "show"], ["group", "exists"], ["resource", "list"])
    ]
    assert steps == [
        ("group", "create", None),
        ("deployment", "group", "main.bicep"),
        ("functionapp", "deployment", None),
        ("functionapp", "keys", None),
        ("deployment", "group", "socketio-hub.bicep"),
        ("staticwebapp", "secrets", None),
    ]
    assert_nothing_leaks(result, SECRET)
    assert "Done." in result.output


def test_the_secret_travels_in_a_private_file(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "infra", CODESTREAM_SECRET=SECRET)
    assert result.code == 0, result.output
    main = result.deployments()["main.bicep"]
    assert main["file_parameters"] == {
        "codestreamSecret": {"value": SECRET},
        "extraAllowedOrigins": {"value": []},
        "webPubSubCapacity": {"value": 1},
    }
    assert main["file_mode"] == "0o600"
    assert_nothing_leaks(result, SECRET)
    assert list((sandbox / "tmp").iterdir()) == [], "the temporary files were not removed"


def test_main_gets_the_hub_and_region(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "-l", "swedencentral", "--hub", "demo", "infra", CODESTREAM_SECRET=SECRET)
    argv = result.deployments()["main.bicep"]["argv"]
    assert argv[argv.index("--resource-group") + 1] == "rg-test"
    assert {"location=swedencentral", "hubName=demo", "webPubSubSku=Free_F1"} <= set(argv)


def test_the_default_hub_is_the_codes(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "infra", "hub", CODESTREAM_SECRET=SECRET)
    assert f"hubName={tools.default_hub()}" in result.deployments()["main.bicep"]["argv"]
    hub = result.deployments()["socketio-hub.bicep"]["argv"]
    assert {
        f"hubName={tools.default_hub()}",
        f"functionAppName={FUNCTION_APP}",
        "webPubSubName=wps-codestream-abc123",
    } <= set(hub)


def test_the_api_package_holds_the_function_app_only(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "infra", "api", CODESTREAM_SECRET=SECRET)
    assert result.code == 0, result.output
    (deploy,) = result.az("functionapp", "deployment", "source", "config-zip")
    assert deploy["zip"] == [
        "azure_adapter/__init__.py",
        "function_app.py",
        "host.json",
        "requirements.txt",
        "shared/__init__.py",
    ]
    argv = deploy["argv"]
    assert argv[argv.index("--name") + 1] == FUNCTION_APP
    assert argv[argv.index("--build-remote") + 1] == "true"


def test_the_hub_step_only_asks_whether_the_key_exists(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "hub")
    assert result.code == 0, result.output
    assert result.az("deployment", "group", "show"), "later steps read the infra deployment's outputs"
    (keys,) = result.az("functionapp", "keys", "list")
    assert keys["argv"][keys["argv"].index("--query") + 1] == "systemKeys.socketio_extension != null"
    assert "socketio-hub.bicep" in result.deployments()


def test_the_site_gets_its_config_and_the_token_only_through_the_environment(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "site")
    assert result.code == 0, result.output
    npm = [c["argv"][:2] for c in result.calls if c["tool"] == "npm"]
    assert npm == [["ci", "--no-audit"], ["run", "build"]]
    (npx,) = [c for c in result.calls if c["tool"] == "npx"]
    assert npx["token_env"] == SWA_TOKEN
    assert npx["config"] == {"apiBaseUrl": API_BASE_URL, "sendWindowMs": 50}, "the build's other settings stay"
    assert npx["argv"][:2] == ["--yes", "@azure/static-web-apps-cli@2.0.10"]
    assert npx["argv"][2:] == ["deploy", "./dist", "--env", "production"]
    assert Path(npx["cwd"]) == sandbox / "repo" / "static_site"
    assert_nothing_leaks(result)


def test_a_second_run_keeps_the_secret_the_app_already_has(sandbox: Path) -> None:
    result = run(
        sandbox,
        "-g",
        "rg-test",
        FAKE_GROUP_EXISTS="true",
        FAKE_EXISTING_APP=FUNCTION_APP,
        FAKE_EXISTING_SECRET=EXISTING_SECRET,
    )
    assert result.code == 0, result.output
    assert not result.az("group", "create"), "an existing group is left as it is"
    secret = result.deployments()["main.bicep"]["file_parameters"]["codestreamSecret"]["value"]
    assert secret == EXISTING_SECRET
    assert "keeping the one the Function App already has" in result.output
    assert_nothing_leaks(result, EXISTING_SECRET)


def test_a_first_run_without_a_secret_generates_one(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "infra")
    assert result.code == 0, result.output
    secret = result.deployments()["main.bicep"]["file_parameters"]["codestreamSecret"]["value"]
    assert len(secret) >= 32
    assert "generated a new random one" in result.output
    assert_nothing_leaks(result, secret)


def test_a_short_secret_is_refused(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "infra", CODESTREAM_SECRET="too-short")
    assert result.code != 0
    assert "at least 32 characters" in result.output
    assert "too-short" not in result.output
    assert not result.deployments()


def test_what_if_changes_nothing(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "--what-if", FAKE_GROUP_EXISTS="true", CODESTREAM_SECRET=SECRET)
    assert result.code == 0, result.output
    assert [c["template"] for c in result.az("deployment", "group", "what-if")] == ["main.bicep"]
    assert not result.deployments()
    assert not result.az("functionapp", "deployment")


def test_missing_function_code_stops_the_api_step(sandbox: Path) -> None:
    (sandbox / "repo" / "host.json").unlink()
    result = run(sandbox, "-g", "rg-test", "api")
    assert result.code != 0
    assert "host.json is missing" in result.output
    assert not result.az("functionapp", "deployment")


def test_extra_origins_reach_cors(sandbox: Path) -> None:
    origins = " https://code.example.com, http://localhost:5173 "
    result = run(sandbox, "-g", "rg-test", "infra", CODESTREAM_SECRET=SECRET, CODESTREAM_EXTRA_ORIGINS=origins)
    assert result.code == 0, result.output
    parameters = result.deployments()["main.bicep"]["file_parameters"]
    assert parameters["extraAllowedOrigins"] == {"value": ["https://code.example.com", "http://localhost:5173"]}


def test_a_bad_extra_origin_is_refused(sandbox: Path) -> None:
    result = run(
        sandbox, "-g", "rg-test", "infra", CODESTREAM_SECRET=SECRET, CODESTREAM_EXTRA_ORIGINS="example.com/app"
    )
    assert result.code != 0
    assert "is not an origin" in result.output
    assert not result.deployments()


def test_units_are_checked_and_passed_as_a_number(sandbox: Path) -> None:
    result = run(sandbox, "-g", "rg-test", "--sku", "Standard_S1", "--units", "5", "infra", CODESTREAM_SECRET=SECRET)
    assert result.code == 0, result.output
    main = result.deployments()["main.bicep"]
    assert main["file_parameters"]["webPubSubCapacity"] == {"value": 5}
    assert "webPubSubSku=Standard_S1" in main["argv"]
    refused = run(sandbox, "-g", "rg-test", "--units", "3", "infra", CODESTREAM_SECRET=SECRET)
    assert refused.code != 0
    assert "units must be 1, 2, 5, 10, 20, 50 or 100" in refused.output


def api_files() -> list[str]:
    script = tools.DEPLOY_SH.read_text(encoding="utf-8")
    return re.search(r"^API_FILES=\(([^)]*)\)$", script, re.M).group(1).split()


def local_imports(path: Path) -> set[str]:
    """Top-level names imported by a module that are folders or modules of this repository."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if (tools.REPO / n).is_dir() or (tools.REPO / f"{n}.py").is_file()}


def test_the_api_package_holds_everything_function_app_imports() -> None:
    entry = tools.REPO / "function_app.py"
    if not entry.exists():
        pytest.fail("function_app.py is missing: the api step packages it", pytrace=False)
    packaged = set(api_files())
    assert {"function_app.py", "host.json", "requirements.txt"} <= packaged
    seen, todo = set(), [entry]
    while todo:
        path = todo.pop()
        for name in local_imports(path) - seen:
            seen.add(name)
            assert name in packaged, f"{path.name} imports {name}, which deploy.sh does not package"
            folder = tools.REPO / name
            todo.extend(folder.rglob("*.py") if folder.is_dir() else [tools.REPO / f"{name}.py"])


def test_funcignore_keeps_what_deploy_sh_packages() -> None:
    """azd (and `func publish`) package the repository root minus .funcignore: the same set."""
    path = tools.REPO / ".funcignore"
    if not path.exists():
        pytest.fail(".funcignore is missing: azd would package the whole repository", pytrace=False)
    patterns = [p.strip().rstrip("/") for p in path.read_text(encoding="utf-8").splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    for item in api_files():
        assert not any(fnmatch.fnmatch(item, pattern) for pattern in patterns), f".funcignore drops {item}"
    for item in ("tests", "static_site", "infra", ".venv", "selfhost", "azure_local", ".venv-azure", "tools"):
        assert any(fnmatch.fnmatch(item, pattern) for pattern in patterns), f".funcignore keeps {item}"
