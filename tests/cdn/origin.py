#!/usr/bin/env python3
"""The demo origin: every fetch answers a different body, so a purge is visible.

GET /<anything> -> 200 text/html, Cache-Control: public, max-age=3600, and a body naming the
host, path, a per-process fetch counter and the fetch time (`at <unix ms>`, which the soak test
compares with purge times); pages under /tagged/<tag>/ carry
`Surrogate-Key: <tag>` (for key purges). GET /__origin/fetches -> JSON {path: count}.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
fetches = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/__origin/fetches":
            with lock:
                body = json.dumps(fetches).encode()
            return self.reply(body, "application/json", "no-store")
        with lock:
            n = fetches.get(self.path, 0) + 1
            fetches[self.path] = n
        host = self.headers.get("Host", "")
        body = (f"<!doctype html><title>{host}{self.path}</title>"
                f"<p>{host}{self.path} origin fetch #{n} at {time.time_ns() // 1_000_000}</p>\n").encode()
        parts = self.path.split("/")
        tags = parts[2] if len(parts) > 3 and parts[1] == "tagged" else None
        self.reply(body, "text/html; charset=utf-8", "public, max-age=3600", tags)

    def reply(self, body, ctype, cache_control, surrogate_keys=None):
        self.send_response(200)
        if surrogate_keys:
            self.send_header("Surrogate-Key", surrogate_keys)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", cache_control)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    ThreadingHTTPServer((host, port), Handler).serve_forever()
