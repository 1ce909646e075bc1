"""Listening TCP sockets seen from /proc (IPv4): which address a port is bound to, and what a
process listens on."""

import os
import socket
from pathlib import Path


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(host, port) of every TCP socket process `pid` listens on (IPv4, from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            inodes.add(os.readlink(fd))
        except OSError:
            continue
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        host_hex, port_hex = fields[1].split(":")
        if fields[3] == "0A" and f"socket:[{fields[9]}]" in inodes:
            found.append((socket.inet_ntoa(bytes.fromhex(host_hex)[::-1]), int(port_hex, 16)))
    return found


def conn_host(port: int) -> str:
    """The address a listening TCP port of this machine is bound to (from /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        host_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:  # LISTEN
            return socket.inet_ntoa(bytes.fromhex(host_hex)[::-1])
    return "not listening"
