#!/usr/bin/env python3
"""A local OTLP/HTTP trace receiver for the local CDN: POST /v1/traces with an OTLP/JSON
ExportTraceServiceRequest. Every export is parsed strictly with the official OpenTelemetry
protobuf schema (opentelemetry-proto, google.protobuf.json_format, unknown fields refused), after
OTLP/JSON's one departure from the protobuf JSON mapping (trace and span ids in hex, not base64);
a bad export is answered 400 and kept in /errors. What was received is kept for the tests:

  GET  /spans    every span received, flattened: trace_id, span_id, parent_span_id (hex), name,
                 kind, start/end (ns), attributes {key: value}, status {code, message}, service
  GET  /errors   the exports refused, and why
  GET  /headers  the request headers of the last export
  GET  /trace/<trace id>  the spans of one trace (what the console's history links to locally)
  POST /control  {"status": 500} makes every export fail with that status; {"status": 200} heals

Usage: otlp_receiver.py <ip> <port>   (runs on the .venv Python: scripts/setup installs it)
"""
import base64
import json
import re
import sys
import threading

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from jsonhttp import JsonHandler, serve

LOCK = threading.Lock()
SPANS, ERRORS, LAST_HEADERS = [], [], {}
MODE = {"status": 200}
IDS = {"traceId": 32, "spanId": 16, "parentSpanId": 16}


def hex_ids_to_base64(export):
    """OTLP/JSON writes ids as lower-case hex; protobuf's JSON mapping wants base64."""
    for rs in export.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                # A span's ids, and those of the spans it links to.
                for obj in [span, *span.get("links", [])]:
                    for key, length in IDS.items():
                        if key not in obj:
                            continue
                        value = obj[key]
                        if not (isinstance(value, str) and re.fullmatch(f"[0-9a-f]{{{length}}}", value)):
                            raise ValueError(f"{key} {value!r} is not {length} lower-case hex digits")
                        obj[key] = base64.b64encode(bytes.fromhex(value)).decode()
    return export


def value_of(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class Handler(JsonHandler):
    name = "otlp-receiver"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/control":
            MODE.update(json.loads(body))
            return self.answer(200, {"mode": MODE})
        if self.path != "/v1/traces":
            return self.answer(404, {"error": "not found"})
        with LOCK:
            LAST_HEADERS.clear()
            LAST_HEADERS.update({k.lower(): v for k, v in self.headers.items()})
        if MODE["status"] != 200:
            return self.answer(MODE["status"], {"error": "failing on purpose"})
        try:
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                raise ValueError(f"content type {self.headers.get('Content-Type')!r}")
            message = json_format.ParseDict(hex_ids_to_base64(json.loads(body)), ExportTraceServiceRequest(),
                                            ignore_unknown_fields=False)
        except Exception as e:  # every way an export can be bad: refused, and kept for the tests
            with LOCK:
                ERRORS.append(str(e))
            return self.answer(400, {"error": str(e)})
        received = []
        for rs in message.resource_spans:
            service = {kv.key: value_of(kv.value) for kv in rs.resource.attributes}.get("service.name")
            for ss in rs.scope_spans:
                for s in ss.spans:
                    received.append({
                        "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex() or None, "name": s.name, "kind": s.kind,
                        "start": s.start_time_unix_nano, "end": s.end_time_unix_nano,
                        "attributes": {kv.key: value_of(kv.value) for kv in s.attributes},
                        "status": {"code": s.status.code, "message": s.status.message}, "service": service,
                        "links": [{"trace_id": l.trace_id.hex(), "span_id": l.span_id.hex()} for l in s.links],
                    })
        with LOCK:
            SPANS.extend(received)
        self.answer(200, {"partialSuccess": {}})

    def do_GET(self):
        with LOCK:
            data = {"/spans": SPANS, "/errors": ERRORS, "/headers": LAST_HEADERS}.get(self.path)
            one = re.fullmatch(r"/trace/([0-9a-f]{32})", self.path)
            if one:
                data = [s for s in SPANS if s["trace_id"] == one.group(1)]
            if data is None:
                return self.answer(404, {"error": "not found"})
            self.answer(200, data)


if __name__ == "__main__":
    serve(Handler, sys.argv[1], sys.argv[2])
