#!/usr/bin/env python3
"""A local webhook receiver for the local CDN: edgepurge's notifications (NOTIFY_WEBHOOKS) are
POSTed here. Each one's X-Edgepurge-Signature is checked against the HMAC-SHA256 of the body's
bytes with the secret (NOTIFY_SECRET), in constant time, before the body is parsed; every POST
is kept, valid or not, for the tests:

  POST /<anything>  a notification: 204 when its signature is valid, 401 when not (kept either way)
  GET  /received    every POST received: path, headers, signature_valid, body (parsed, or null), raw
  POST /control     {"status": 500} answers every notification with that status; {"status": 204} heals

Usage: webhook_receiver.py <ip> <port> <secret>
"""
import hashlib
import hmac
import json
import sys
import threading

from jsonhttp import JsonHandler, serve

LOCK = threading.Lock()
RECEIVED = []
MODE = {"status": 204}
SECRET = b""


def valid(body, header):
    """Whether `header` is `sha256=` and the hex HMAC-SHA256 of `body` with the secret."""
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), (header or "").strip().encode())


class Handler(JsonHandler):
    name = "webhook-receiver"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/control":
            MODE.update(json.loads(body))
            return self.answer(200, {"mode": MODE})
        ok = valid(body, self.headers.get("X-Edgepurge-Signature"))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with LOCK:
            RECEIVED.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                             "signature_valid": ok, "body": parsed, "raw": body.decode("utf-8", "replace")})
        if not ok:
            return self.answer(401, {"error": "bad signature"})
        if MODE["status"] != 204:
            return self.answer(MODE["status"], {"error": "failing on purpose"})
        self.send_response(204)
        self.end_headers()

    def do_GET(self):
        if self.path != "/received":
            return self.answer(404, {"error": "not found"})
        with LOCK:
            self.answer(200, RECEIVED)


if __name__ == "__main__":
    SECRET = sys.argv[3].encode()
    serve(Handler, sys.argv[1], sys.argv[2])
