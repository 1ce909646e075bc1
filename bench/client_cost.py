"""What a load client costs the machine it shares with the server: CPU seconds per request for the
bench's own client (`http.client`, one kept-alive connection per thread, bench/load.py) against
httpx's (the well-kept library the project's client uses), sending the same small JSON POSTs to
bench/stub_server.py in another process, which answers at once.

`python -m bench.client_cost [--requests N]` prints one line per client and their ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import time

import httpx

from textserve.inprocess import free_port

BODY = json.dumps({"text": "Hello world!"}).encode()


def with_http_client(port: int, requests: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(requests):
        connection.request("POST", "/", BODY, {"Content-Type": "application/json"})
        connection.getresponse().read()
    connection.close()


def with_httpx(port: int, requests: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for _ in range(requests):
            client.post("/", content=BODY, headers={"Content-Type": "application/json"}).read()


def cpu_per_request(send, port: int, requests: int) -> float:
    """CPU seconds this process spent per request (after a warm-up of 50)."""
    send(port, 50)
    started = time.process_time()
    send(port, requests)
    return (time.process_time() - started) / requests


def measure(requests: int) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.stub_server", str(port)])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.post(f"http://127.0.0.1:{port}/", content=BODY, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return {
            "http.client": cpu_per_request(with_http_client, port, requests),
            "httpx": cpu_per_request(with_httpx, port, requests),
        }
    finally:
        server.terminate()
        server.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args(argv)
    costs = measure(args.requests)
    for name, seconds in costs.items():
        print(f"{name}: {seconds * 1e6:.0f} µs of CPU per request")
    print(f"httpx / http.client: {costs['httpx'] / costs['http.client']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
