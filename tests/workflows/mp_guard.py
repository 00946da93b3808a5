"""Network guard for the Materials Project tests: connections and name lookups go to this machine only.

Kept free of heavy imports so that the CLI subprocesses (through ``mp_site/sitecustomize.py``) start fast.
"""

from __future__ import annotations

import socket

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
ATTEMPTS: list[str] = []  # every address a test connected to; refused ones as "blocked:HOST"
_ORIGINAL = {}


class NetworkBlocked(OSError):
    """Raised instead of connecting anywhere but this machine."""


def _host_of(address) -> str:
    if isinstance(address, tuple):
        return str(address[0])
    return str(address)


def install_network_guard(log_path: str | None = None) -> None:
    """Patch socket connect and name resolution: loopback only; every attempt is recorded."""
    if _ORIGINAL:
        return
    _ORIGINAL["connect"] = socket.socket.connect
    _ORIGINAL["connect_ex"] = socket.socket.connect_ex
    _ORIGINAL["getaddrinfo"] = socket.getaddrinfo

    def record(host: str) -> None:
        ATTEMPTS.append(host)
        if log_path:
            with open(log_path, "a") as handle:
                handle.write(host + "\n")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = _host_of(address)
            if host in _LOOPBACK:
                record(host)
            if host not in _LOOPBACK:
                record("blocked:" + host)
                raise NetworkBlocked(f"test network guard: connection to {host} refused")
        return _ORIGINAL["connect"](self, address)

    def connect_ex(self, address):
        try:
            connect(self, address)
        except NetworkBlocked:
            return 111
        return 0

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and str(host) not in _LOOPBACK:
            record("blocked:" + str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: no name resolution for {host}")
        return _ORIGINAL["getaddrinfo"](host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo


def is_loopback(host: str) -> bool:
    return host in _LOOPBACK


