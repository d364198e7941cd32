"""What the local CDN's small JSON servers share (the Machines API stand-in, the OTLP receiver):
a handler that answers JSON and logs to stderr under its name, and how they are run."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    name = "json-server"

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{self.name}: " + fmt % args + "\n")


def serve(handler, ip, port):
    ThreadingHTTPServer((ip, int(port)), handler).serve_forever()
