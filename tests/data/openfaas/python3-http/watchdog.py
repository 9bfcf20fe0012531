"""A stand-in for OpenFaaS's of-watchdog in HTTP mode, for vsbench's tests only.

of-watchdog cannot be had here (the Go module proxy refuses github.com/openfaas/of-watchdog),
so this plays its part of the contract the template relies on: listen on $port (8080),
start $fprocess, forward every request (method, path, query, headers, body) to the function's
HTTP server at $upstream_url and pass its answer back; GET /_/health answers 200 once the
function's server accepts connections (503 before).
"""
import http.client
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


UPSTREAM = urllib.parse.urlsplit(os.environ.get("upstream_url", "http://127.0.0.1:5000"))
UPSTREAM_HOST, UPSTREAM_PORT = UPSTREAM.hostname, UPSTREAM.port or 80
ready = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _answer(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self):
        if self.path == "/_/health":
            self._answer(200 if ready.is_set() else 503, b"OK" if ready.is_set() else b"")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(UPSTREAM_HOST, UPSTREAM_PORT, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self._answer(resp.status, data, resp.getheaders())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward


def main() -> None:
    child = subprocess.Popen(shlex.split(os.environ.get("fprocess", "python3 index.py")))
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("port", "8080"))), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while child.poll() is None and not ready.is_set():
        try:
            socket.create_connection((UPSTREAM_HOST, UPSTREAM_PORT), timeout=0.2).close()
            ready.set()
            print("Forking - started, upstream ready", flush=True)
        except OSError:
            time.sleep(0.02)
    code = child.wait()
    print(f"fprocess exited: {code}", flush=True)
    sys.exit(code or 1)


if __name__ == "__main__":
    main()
