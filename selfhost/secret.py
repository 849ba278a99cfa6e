"""The server secret that signs writer keys and tokens, kept across restarts."""

from __future__ import annotations

import os
from pathlib import Path

from shared.capabilities import new_secret, secret_bytes
from shared.settings import Settings

SECRET_FILE = "secret"


def load_secret(settings: Settings) -> bytes:
    """The configured secret if there is one; else the one in the data folder, made on first use.

    Keeping it on disk means writer keys and tokens handed out stay valid after a restart.
    """
    if settings.secret is not None:
        return secret_bytes(settings.secret)
    data_dir = Path(settings.data_dir)
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_secret())
    return secret_bytes(path.read_text().strip())
