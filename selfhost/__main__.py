"""`python -m selfhost`: run codestream in one process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sqlite3
import sys
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

import uvicorn

from shared.capabilities import CapabilityError
from shared.history import Recorder
from shared.settings import Settings, SettingsError, env_name

from . import fanout
from .app import Server
from .redact import redact_logs
from .redis_store import check_reachable, redis_backends
from .secret import load_secret
from .shutdown import Uvicorn, end_tasks, report_stuck
from .sqlite_store import SqliteStore

log = logging.getLogger("codestream")
DEFAULTS = Settings()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m selfhost",
        description="Serve codestream (the web client, /api/negotiate and Socket.IO) from one process.",
        epilog="Every option has a CODESTREAM_* environment variable, and so do limits and timeouts "
        f"(see README). The server secret comes from {env_name('secret')}, or is made once and kept in DATA_DIR.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=3000, help="port to listen on; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--hub",
        help=f"Socket.IO hub: clients connect at /clients/socketio/hubs/HUB "
        f"(default: {env_name('hub')} or {DEFAULTS.hub})",
    )
    parser.add_argument(
        "--data-dir",
        help=f"folder for the generated server secret (default: {env_name('data_dir')} or {DEFAULTS.data_dir})",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="another web origin allowed to open sockets (repeatable; default: same origin only; "
        f"{env_name('allowed_origins')} takes a comma-separated list)",
    )
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="share rooms with other processes through Redis, e.g. redis://localhost:6379/0 "
        f"(default: {env_name('redis_url')}, else rooms live in this process; see docs/SCALING.md)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="(default: %(default)s)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, recorder: Recorder | None = None) -> int:
    """Run the server; `recorder` records the streams' history (the bench passes one that keeps nothing)."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(_with_options(os.environ, args))
        secret = load_secret(settings)
    except (SettingsError, CapabilityError, OSError) as error:
        print(f"codestream: {error}", file=sys.stderr)
        return 2
    shared: dict[str, Any] = {}  # no Redis: the SQLite store, opened in the event loop
    if settings.redis_url:
        try:
            check_reachable(settings.redis_url)
        except OSError as error:
            print(f"codestream: {error}", file=sys.stderr)
            return 2
        shared["store"], shared["client_manager"] = redis_backends(settings.redis_url, settings)
    try:
        sock = _bind(args.host, args.port)
    except OSError as error:
        print(f"codestream: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    return _run(_serve(settings, secret, shared, sock, args.log_level, recorder))


def _with_options(env: Mapping[str, str], args: argparse.Namespace) -> dict[str, str]:
    """The environment with the command line's options written over it: settings have one parser."""
    options = {
        "hub": args.hub,
        "data_dir": args.data_dir,
        "allowed_origins": ",".join(args.allowed_origin) if args.allowed_origin else None,
        "redis_url": args.redis_url,
    }
    return {**env, **{env_name(name): value for name, value in options.items() if value is not None}}


def _run(main: Coroutine[Any, Any, int]) -> int:
    """On uvloop when installed (uvicorn[standard] brings it): the benchmark's profile showed
    the default loop's socket writes and task switches as the fan-out's largest cost."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


async def _serve(
    settings: Settings,
    secret: bytes,
    shared: dict[str, Any],
    sock: socket.socket,
    log_level: str,
    recorder: Recorder | None,
) -> int:
    if "store" not in shared:
        try:
            shared["store"] = await SqliteStore.for_settings(settings, recorder)
        except (sqlite3.Error, OSError) as error:
            print(f"codestream: cannot open the database in {settings.data_dir}: {error}", file=sys.stderr)
            return 2
    server = Server(settings, secret, **shared)
    stuck: set[asyncio.Task[Any]] = set()
    try:
        stuck = await _serve_until_stopped(server, sock, log_level)
    finally:
        close = getattr(server.store, "close", None)
        if close is not None:
            await close()  # the SQLite store writes what is queued
    if stuck:
        # The event loop's own last cancellation would wait for them forever: the store is
        # closed, nothing is left to save, so the process ends here and says why.
        report_stuck(stuck)
        logging.shutdown()
        os._exit(1)
    return 0


def uvicorn_config(server: Server, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        server.asgi,
        log_level=log_level,
        lifespan="off",
        timeout_graceful_shutdown=3,
        access_log=False,  # access lines would log tokens
        ws_max_size=server.sio.eio.max_http_buffer_size,
        ws=fanout.install(),  # broadcasts framed once per message (or, if the check fails, uvicorn's default)
        # No WebSocket-level pings: Engine.IO's heartbeat already ends a connection that stops
        # answering, and a second one per viewer every 20 s was a share of the server's idle CPU.
        ws_ping_interval=None,
    )


async def _serve_until_stopped(server: Server, sock: socket.socket, log_level: str) -> set[asyncio.Task[Any]]:
    """Serve until SIGINT or SIGTERM; then end every task; return those that would not end."""
    running_before = asyncio.all_tasks()  # this one, and the store's own (it ends them as it closes)
    config = uvicorn_config(server, log_level)
    redact_logs()  # uvicorn has set up its log handlers by now
    runner = Uvicorn(config)
    # Held in `tasks` while serving: the loop keeps only weak references to tasks.
    tasks = [asyncio.create_task(_announce(runner, sock)), asyncio.create_task(server.sweep())]
    tasks += [asyncio.create_task(server.reap_lost_sockets()), asyncio.create_task(server.flush_presence())]
    tasks.append(asyncio.create_task(server.record_due()))
    try:
        await runner.serve(sockets=[sock])  # stops cleanly on SIGINT and SIGTERM
    finally:
        # What serving started ends before the store closes (in _serve): it could write to it.
        stuck = await end_tasks(asyncio.all_tasks() - running_before)
    return stuck


async def _announce(runner: uvicorn.Server, sock: socket.socket) -> None:
    while not runner.started:
        await asyncio.sleep(0.02)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"Visit http://{shown}:{port}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
