"""HTTP requests no ordinary client sends: headers that announce a body, and no body; a body
that trickles in a byte at a time."""

import asyncio
import contextlib
import socket
import time
from urllib.parse import urlsplit


def raw_post_headers_only(serve_url: str, path: str, length: int) -> tuple[str, float]:
    """POST with `Content-Length: length` but send no body at all: an app that read the body
    would wait forever; one that refuses first answers at once. (status line + body, seconds)"""
    address = urlsplit(serve_url)
    started = time.monotonic()
    with socket.create_connection((address.hostname, address.port), timeout=20) as sock:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received.decode(errors="replace"), time.monotonic() - started


async def trickle_post(
    serve_url: str, path: str, body: bytes, *, headers: dict[str, str] | None = None, interval_s: float = 1
) -> tuple[str, float]:
    """POST that announces `body` in its Content-Length and sends it a byte every `interval_s`
    seconds, as a slow or hostile client does; stops sending once an answer starts. Returns (the
    answer's status line, or '' if the connection closed without one; seconds until then)."""
    address = urlsplit(serve_url)
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        ).encode()
    )
    answer = b""
    try:
        for position in range(len(body) + 1):
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.readline(), interval_s)
                break
            if position < len(body):
                writer.write(body[position : position + 1])
                await writer.drain()
        else:
            answer = await asyncio.wait_for(reader.readline(), 120)
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return answer.decode(errors="replace").strip(), time.monotonic() - started
