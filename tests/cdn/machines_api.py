#!/usr/bin/env python3
"""A stand-in for Fly.io's Machines API (the one part of the Fly-like edge that cannot run here):
`GET /v1/apps/<app>/machines` with `Authorization: Bearer <token>` answers the app's Machines in
the documented shape (id, name, state, region, ...). The state is a JSON file, read on every
request, so tests change it between purges: {"token": "...", "apps": {"<app>": [machines]}}.

Usage: machines_api.py <ip> <port> <state.json>
"""
import json
import re
import sys
from pathlib import Path

from jsonhttp import JsonHandler, serve

STATE = Path(sys.argv[3])


class Handler(JsonHandler):
    name = "machines-api"

    def do_GET(self):
        state = json.loads(STATE.read_text())
        if self.headers.get("Authorization") != f"Bearer {state['token']}":
            return self.answer(401, {"error": "unauthorized"})
        m = re.fullmatch(r"/v1/apps/([a-z0-9-]+)/machines", self.path)
        if not m or m.group(1) not in state["apps"]:
            return self.answer(404, {"error": "app not found"})
        self.answer(200, state["apps"][m.group(1)])


if __name__ == "__main__":
    serve(Handler, sys.argv[1], sys.argv[2])
