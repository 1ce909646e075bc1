"""An HTTP request no ordinary client sends: headers that announce a body, and no body."""

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
