"""Known-vulnerability audit: the Python environment (pip-audit) and the web client (npm audit).

Fails on any finding not justified in ACCEPTED. An advisory service that cannot be reached
(this project's machines reach only the package registries, and some registry front-ends do
not serve the advisory endpoints) is reported loudly but does not fail the run: it says
nothing about the code. Run it with `make audit`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Advisory id -> why it does not apply to codestream (reviewed; remove once fixed upstream).
ACCEPTED: dict[str, str] = {}


def pip_audit() -> tuple[list[str], int, list[str]]:
    """The main venv (this interpreter's) and the Azure venv (.venv-azure, Python 3.13), when built."""
    paths = [str(p) for p in sorted((ROOT / ".venv-azure" / "lib").glob("python3.*/site-packages"))]
    paths += [str(Path(p)) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    result = subprocess.run(
        [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"]
        + [arg for path in paths for arg in ("--path", path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stderr, file=sys.stderr)
        return [f"pip-audit failed (exit {result.returncode})"], 0, []
    findings, audited, skipped = [], 0, []
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            dep["version"] = dep["skip_reason"].rsplit("(", 1)[-1].rstrip(")")  # "... could not be audited: x (1.2)"
            dep["vulns"] = _latest_release_vulns(dep["name"], dep["version"])
            if dep["vulns"] is None:
                skipped.append(f"{dep['name']} {dep['version']}")
                continue
        audited += 1
        for vuln in dep.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            if not any(i in ACCEPTED for i in ids):
                findings.append(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {vuln.get('fix_versions')})")
    return findings, audited, skipped


def _latest_release_vulns(name: str, version: str) -> list[dict[str, object]] | None:
    """PyPI's project JSON lists the advisories of its newest release: usable when that is ours.

    pip-audit asks for /pypi/NAME/VERSION/json, which some registry front-ends do not serve.
    """
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=30) as response:
            project = json.loads(response.read())
    except (OSError, ValueError):
        return None
    if project.get("info", {}).get("version") != version:
        return None
    return [{"id": v["id"], "aliases": v.get("aliases", []), "fix_versions": v.get("fixed_in")} for v in
            project.get("vulnerabilities", [])]  # fmt: skip


def npm_audit() -> tuple[list[str], bool]:
    site = ROOT / "static_site"
    if not (site / "package-lock.json").is_file():
        return [], True
    result = subprocess.run(["npm", "audit", "--json"], capture_output=True, text=True, cwd=site)
    try:
        report = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        return [f"npm audit printed no JSON (exit {result.returncode})"], True
    if "error" in report:
        print(f"audit: npm advisory service unreachable: {report['error'].get('summary', report['error'])}")
        return [], False
    findings = []
    for name, vuln in report.get("vulnerabilities", {}).items():
        sources = [v for v in vuln.get("via", []) if isinstance(v, dict)]
        ids = [str(v.get("source")) for v in sources] + [v.get("url", "") for v in sources]
        if not any(i in ACCEPTED for i in ids):
            findings.append(f"npm {name}: {vuln.get('severity')} {[v.get('title') for v in sources]}")
    return findings, True


def main() -> int:
    py_findings, audited, skipped = pip_audit()
    print(f"audit: pip-audit checked {audited} Python packages; not looked up (older than PyPI's newest): {skipped}")
    if skipped and not audited:
        print("audit: WARNING the PyPI advisory data was not reachable: Python packages were NOT audited")
    npm_findings, npm_reached = npm_audit()
    print(f"audit: npm audit {'ran' if npm_reached else 'could NOT reach its advisory service (WARNING)'}")
    findings = py_findings + npm_findings
    for finding in findings:
        print(f"audit: FINDING {finding}")
    print(f"audit: {len(findings)} finding(s) not justified")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
