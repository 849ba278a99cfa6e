"""Azurite's Table service on a free loopback port: the Table storage of the local Azure build.

Azurite is npm's `azurite` (the Azure Storage emulator), vendored in tools/azurite with its
lock file; `make test` and `make run-azure` install it there (`npm ci`). `python -m azure_local`
starts one when `AzureWebJobsStorage` names no storage, and the tests start one each session;
its data lives in the folder given (a temporary one).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AZURITE_TABLE = ROOT / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-table"
STORAGE = "AzureWebJobsStorage"  # the Functions host's storage setting, which the app's tables use
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (the same in every Azurite): not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteMissing(RuntimeError):
    """tools/azurite has not been installed."""


@contextmanager
def azurite_tables(workdir: Path) -> Iterator[str]:
    """Run Azurite's Table service until the block ends; its connection string."""
    if not AZURITE_TABLE.exists():
        raise AzuriteMissing(
            "Azurite is not installed: `make test` and `make run-azure` install it (cd tools/azurite && npm ci)"
        )
    port = _free_port()
    command = [str(AZURITE_TABLE), "--tableHost", "127.0.0.1", "--tablePort", str(port), "--location", str(workdir)]
    command += ["--silent", "--disableTelemetry", "--skipApiVersionCheck"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Azurite did not start on port {port}")
            time.sleep(0.1)
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
        )
    finally:
        process.terminate()
        process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
