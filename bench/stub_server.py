"""A local HTTP server that answers every POST with a small JSON body, after the server's
`delay_s` (0 unless set): what the bench's load clients are measured against without a model
(bench/client_cost.py runs it as its own process; the load generator's tests in-process).

`python -m bench.stub_server PORT` serves on 127.0.0.1:PORT until it is ended.
"""

from __future__ import annotations

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = b'{"ok": true}'


class StubAnswer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients use
    wbufsize = 1 << 16  # one write per response (else Nagle + delayed ACK add 40 ms)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(getattr(self.server, "delay_s", 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args):
        pass


class StubServer(ThreadingHTTPServer):
    request_queue_size = 1024  # socketserver's 5 refuses a burst of new connections from the load clients


if __name__ == "__main__":
    StubServer(("127.0.0.1", int(sys.argv[1])), StubAnswer).serve_forever()
