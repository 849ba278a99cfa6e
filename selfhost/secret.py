"""The server secret that signs writer keys and tokens, kept across restarts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from shared.capabilities import new_secret, secret_bytes

SECRET_ENV = "CODESTREAM_SECRET"
SECRET_FILE = "secret"


def load_secret(data_dir: Path, env: Mapping[str, str]) -> bytes:
    """`CODESTREAM_SECRET` if set; else the one in `data_dir`, made on first use.

    Keeping it on disk means writer keys and tokens handed out stay valid after a restart.
    """
    if env.get(SECRET_ENV):
        return secret_bytes(env[SECRET_ENV])
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_secret())
    return secret_bytes(path.read_text().strip())
