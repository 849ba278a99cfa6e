"""`python -m azure_local` (Python 3.13, the Azure venv): the Azure build on one local address.

Loads function_app.py into Microsoft's worker and serves it with the stand-ins for Web PubSub
for Socket.IO and Durable Entities, and the web client; prints `Visit http://...`. Table
storage (the history, the rooms' index) is Azurite's, started here in a temporary folder
unless `AzureWebJobsStorage` names a storage already; timer functions fire on their schedule.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from selfhost.shutdown import Uvicorn
from shared.capabilities import new_secret
from shared.settings import Settings

from .azurite import STORAGE, AzuriteMissing, azurite_tables
from .host import CONNECTION_SETTING, ROOT, LocalAzure, local_connection
from .worker import Worker, WorkerError

SECRET_ENV = "CODESTREAM_SECRET"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m azure_local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7071, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        help="seconds the service waits for a connect function that failed before refusing (default: %(default)s)",
    )
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The app settings a Function App would have; a secret made for this run unless given.
    os.environ.setdefault(SECRET_ENV, new_secret())
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
    except OSError as error:
        print(f"azure_local: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    base_url = f"http://{args.host}:{sock.getsockname()[1]}"
    try:
        asyncio.run(_serve(sock, base_url, args.log_level, args.connect_timeout))
    except WorkerError as error:
        print(f"azure_local: the worker could not load function_app.py: {error}", file=sys.stderr)
        return 1
    except AzuriteMissing as error:
        print(f"azure_local: {error}", file=sys.stderr)
        return 1
    return 0


async def _serve(sock: socket.socket, base_url: str, log_level: str, connect_timeout: float) -> None:
    with contextlib.ExitStack() as stack:
        if not os.environ.get(STORAGE):
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="azure_local-azurite-"))
            os.environ[STORAGE] = stack.enter_context(azurite_tables(Path(folder)))
        await _serve_with_storage(sock, base_url, log_level, connect_timeout)


async def _serve_with_storage(sock: socket.socket, base_url: str, log_level: str, connect_timeout: float) -> None:
    connection = local_connection(base_url)
    os.environ[CONNECTION_SETTING] = connection.text()  # an app setting, as the Function App has
    worker = Worker(ROOT)
    await worker.start()  # imports function_app: its settings are in the environment by now
    local = LocalAzure(worker, connection, Settings.from_env().hub)
    local.service.connect_timeout = connect_timeout
    config = uvicorn.Config(local.asgi, log_level=log_level, lifespan="off", access_log=False)
    server = Uvicorn(config)  # returns on SIGTERM, so that the worker and Azurite are stopped below
    announce = asyncio.create_task(_announce(server, base_url))
    timers = asyncio.create_task(local.run_timers())
    try:
        await server.serve(sockets=[sock])
    finally:
        announce.cancel()
        timers.cancel()
        worker.stop()


async def _announce(server: uvicorn.Server, base_url: str) -> None:
    while not server.started:
        await asyncio.sleep(0.05)
    print(f"codestream on the Azure worker (local stand-ins): Visit {base_url}/", flush=True)


if __name__ == "__main__":
    sys.exit(main())
