"""checkov passes on infra/ (Bicep and secrets) and the deploy workflow, with zero failed checks;
every skipped check gives its reason inline (`//checkov:skip=CKV_...:reason`)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra import tools

WORKFLOW = tools.REPO / ".github" / "workflows" / "deploy.yml"

# A resource checkov must fail: it shows the run is live, not passing everything.
CANARY = """
@description('Region.')
param location string = resourceGroup().location

resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stcanary001'
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowBlobPublicAccess: true
    supportsHttpsTrafficOnly: false
    minimumTlsVersion: 'TLS1_0'
  }
}
"""


@pytest.fixture(scope="module")
def checkov(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One checkov run over infra/, the workflow and the canary: checks grouped by file."""
    executable = tools.require_tool(tools.CHECKOV)
    canary = tmp_path_factory.mktemp("checkov") / "canary.bicep"
    canary.write_text(CANARY, encoding="utf-8")
    command = [
        str(executable),
        "--directory", str(tools.INFRA),
        "--file", str(WORKFLOW),
        "--file", str(canary),
        "--framework", "bicep", "github_actions", "secrets",
        "--skip-download",  # no network: checkov would fetch guideline links
        "--compact",
        "--output", "json",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=tools.REPO)
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not report (exit {done.returncode}):\n{done.stderr[-4000:]}", pytrace=False)
    reports = reports if isinstance(reports, list) else [reports]
    by_file: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, report["results"].get("parsing_errors")
        for outcome in ("passed_checks", "failed_checks", "skipped_checks"):
            for check in report["results"][outcome]:
                entry = by_file.setdefault(check["file_abs_path"], {})
                entry.setdefault(outcome, []).append(check)
    return {"by_file": by_file, "canary": str(canary), "types": {r["check_type"] for r in reports}}


def ours(checkov: dict[str, Any], outcome: str) -> list[dict[str, Any]]:
    return [
        check
        for path, outcomes in checkov["by_file"].items()
        if path != checkov["canary"]
        for check in outcomes.get(outcome, [])
    ]


def test_checkov_scanned_the_bicep_and_the_workflow(checkov: dict[str, Any]) -> None:
    assert {"bicep", "github_actions"} <= checkov["types"]
    scanned = {Path(path) for path in checkov["by_file"]}
    assert tools.MAIN_BICEP in scanned
    assert tools.FUNCTION_BICEP in scanned
    assert WORKFLOW in scanned
    assert len(ours(checkov, "passed_checks")) >= 40


def test_checkov_finds_no_failed_check(checkov: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in ours(checkov, "failed_checks")
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)


def test_checkov_is_live(checkov: dict[str, Any]) -> None:
    """The canary's insecure storage account fails: checkov really evaluates checks."""
    failed = {check["check_id"] for check in checkov["by_file"][checkov["canary"]].get("failed_checks", [])}
    assert {"CKV_AZURE_3", "CKV_AZURE_44"} <= failed, failed


def test_every_skipped_check_gives_its_reason(checkov: dict[str, Any]) -> None:
    skipped = ours(checkov, "skipped_checks")
    assert skipped, "expected the documented skips (e.g. CKV_AZURE_175 for the Free tier)"
    for check in skipped:
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) >= 20 and reason != "No comment provided", f"{check['check_id']}: {reason!r}"


def test_every_skip_comment_has_a_reason_and_is_used(checkov: dict[str, Any]) -> None:
    """Inline skips carry a reason, and none is left over from a check that no longer applies."""
    used = {(Path(c["file_abs_path"]), c["check_id"]) for c in ours(checkov, "skipped_checks")}
    written = set()
    for path in tools.bicep_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "checkov:skip" not in line:
                continue
            match = re.fullmatch(r"\s*//checkov:skip=(CKV2?_[A-Z]+_\d+):(.{20,})", line)
            assert match, f"{path.name}: skip without a reason: {line.strip()}"
            written.add((path, match.group(1)))
    assert written == used, f"unused skips: {sorted(written - used)}; unexplained: {sorted(used - written)}"
