#!/usr/bin/env python3
"""A broken DNS-over-HTTPS server: answers every query 200 application/dns-message with junk."""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JUNK = b"\x13\x37 this is not a DNS message \xff\xfe" * 3


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/dns-message")
        self.send_header("Content-Length", str(len(JUNK)))
        self.end_headers()
        self.wfile.write(JUNK)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
