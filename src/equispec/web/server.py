"""Start the page: check the bind and the token rule, listen, and run uvicorn until Ctrl-C."""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from ..errors import InputError

__all__ = ["is_loopback", "listen", "serve"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only: ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), or one line saying why not."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host.strip("[]"), port), family=family, backlog=128)
    except (OSError, OverflowError) as exc:
        raise InputError(f"--host {host} --port {port}", f"cannot listen there ({getattr(exc, 'strerror', None) or exc})") from None


def serve(host: str = "127.0.0.1", port: int = 8000, token: str | None = None, generate_token: bool = False,
          max_upload_mb: float = 20.0, workers: int = 1, scheduler: str | None = None, pool_workers: int | None = None,
          physics_cache: str | None = None) -> int:
    """Serve the page until Ctrl-C. A bind beyond loopback needs a token (``token``, or ``generate_token``:
    a new one, printed once in the address to open)."""
    if generate_token:
        token = secrets.token_urlsafe(24)
    if token is not None and len(token) < 16:
        raise InputError("--token", "too short to guard a server: use 16 characters or more, or --token alone "
                                    "for a generated one")
    if not is_loopback(host) and not token:
        raise InputError(f"--host {host}", "a bind beyond this machine needs a token: add --token (a generated "
                                           "one is printed once) or --token YOURS")
    if max_upload_mb <= 0:
        raise InputError("--max-upload-mb", f"must be above 0 (got {max_upload_mb:g})")
    try:
        import uvicorn

        from .app import ServeSettings, create_app
    except ImportError as exc:
        raise InputError("serve", f"needs the web extra ({exc.name} is missing): pip install 'equispec[web]'") from None
    sock = listen(host, port)
    root = Path(tempfile.mkdtemp(prefix="equispec-serve-"))
    try:
        settings = ServeSettings(root, token, int(max_upload_mb * 2**20), workers, scheduler, pool_workers,
                                 physics_cache)
        app = create_app(settings)
        shown = f"[{host}]" if ":" in host else host
        address = f"http://{shown}:{sock.getsockname()[1]}/"
        print(f"equispec: serving {address}{f'?token={token}' if generate_token else ''} "
              f"(Ctrl-C stops it; results are kept until then)", flush=True)
        if token and not generate_token:
            print(f"equispec: open {address}?token=YOUR_TOKEN once in the browser", flush=True)
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn raises Ctrl-C again once it has shut down: the normal way to stop
            pass
    finally:
        sock.close()
        shutil.rmtree(root, ignore_errors=True)
    print("equispec: server stopped", file=sys.stderr)
    return 0
