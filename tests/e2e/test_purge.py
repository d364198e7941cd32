"""End-to-end: the purge API against the real local CDN.

Real varnishd instances with vcl/edgepurge.vcl, real dnsdist answering DNS over HTTPS, and the
worker compiled to Wasm running in workerd under `wrangler dev`, all on loopback (the test ports,
so a running demo is left alone). Each test uses its own page paths, so the order does not matter;
a test that stops a part starts it again.

Run: python3 -m unittest discover -s tests/e2e -v   (scripts/test does it after the setup)
"""
import atexit
import base64
import hashlib
import http.client
import json
import random
import re
import select
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cdn"))
from localcdn import (  # noqa: E402
    ASSETS_SITE, BLACKHOLE_IP, EDGE_SITE, EDGE_ZONE, FASTLY_SERVICE, FLY_MACHINES, FLY_SITE, INSTANCE_IPS, LAYERS_SITE,
    LAYERS_ZONE, MISDECLARED_SITE, PLAIN_SITE, SITE, TEST_PORTS, WIDE_SITE, WRONG_TOKEN_IP, LocalCDN, http_get,
)

CDN = None


def setUpModule():
    """Starts the local CDN once for every e2e module (each imports this as its own
    `setUpModule`); it stops when the run ends."""
    global CDN
    if CDN is not None:
        return
    # A short lease margin, so a purge cut off by a killed worker is the cron's within seconds.
    CDN = LocalCDN(ports=TEST_PORTS, state=Path(__file__).resolve().parents[2] / ".state" / "e2e", wide=True,
                   extra_vars={"LEASE_MARGIN_MS": "1000"})
    atexit.register(CDN.stop)
    CDN.start()


def api(method, path, body=None, token="default", content_type="application/json", raw=None, headers=None, base=None):
    """Calls the worker (or the one at `base`); returns (status, content type, parsed JSON body)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request((base or CDN.api) + path, data=data, method=method, headers=headers or {})
    if content_type:
        req.add_header("Content-Type", content_type)
    if token == "default":
        token = CDN.api_token
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers.get("Content-Type"), json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), json.loads(e.read())


def fetch(instance, path, host=SITE):
    """GETs `path` from one instance; returns (Cache-Status, body)."""
    ip, port = instance.rsplit(":", 1)
    status, headers, body = http_get(ip, int(port), path, headers={"Host": host})
    assert status == 200, (instance, path, status)
    return headers.get("cache-status", ""), body


def settled_counters(name, quiet=0.3, timeout=3.0):
    """A varnishstat counter on each instance once it has stopped moving for `quiet` seconds:
    a snapshot taken right after a warm-up must not miss the warm-up's own connections counted
    a moment late (the acceptor's statistics reach the shared counters in their own time)."""
    deadline = time.monotonic() + timeout
    values = [CDN.counter(i, name) for i in range(3)]
    while time.monotonic() < deadline:
        time.sleep(quiet)
        again = [CDN.counter(i, name) for i in range(3)]
        if again == values:
            break
        values = again
    return values


def counter_deltas(name, before, expected, timeout=2.0):
    """How much a varnishstat counter grew on each instance since `before`: polled until it
    equals `expected` or, with `expected` None (nothing should arrive), for the whole `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        deltas = [CDN.counter(i, name) - before[i] for i in range(3)]
        if deltas == expected or time.monotonic() > deadline:
            return deltas
        time.sleep(0.1)


def completed_entry(test, path, timeout=10.0):
    """The one history entry of `path`, once completed: with nothing to queue for redelivery, a
    purge's entry is completed just after its reply (the write-ahead entry is `running` until)."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, page = api("GET", "/api/history?url=" + urllib.parse.quote(path), content_type=None)
        test.assertEqual(status, 200, page)
        test.assertEqual(len(page["entries"]), 1, page)
        entry = page["entries"][0]
        if entry["status"] != "running" or time.monotonic() > deadline:
            return entry
        time.sleep(0.05)


def is_hit(cache_status):
    return "; hit" in cache_status


def new_page():
    return f"/e2e/{uuid.uuid4().hex}"


class CdnTestCase(unittest.TestCase):
    """Helpers shared by the test classes below."""

    def warm(self, path, host=SITE, instances=None):
        """Fetches path through every instance until each serves a hit; returns the bodies."""
        bodies = {}
        for inst in instances or CDN.instances:
            first, body = fetch(inst, path, host)
            self.assertIn("fwd=uri-miss", first, f"{inst} first fetch of {path}")
            second, again = fetch(inst, path, host)
            self.assertTrue(is_hit(second), f"{inst} second fetch of {path}: {second}")
            self.assertEqual(body, again)
            bodies[inst] = body
        return bodies

    def assert_all_hits(self, path, host=SITE, instances=None):
        for inst in instances or CDN.instances:
            status, _ = fetch(inst, path, host)
            self.assertTrue(is_hit(status), f"{inst} should still serve a hit for {path}: {status}")

    def assert_refused_and_nothing_sent(self, cases, path):
        """Each (name, api kwargs, status) case is refused with that problem, not one request
        reaches any instance (varnishstat MAIN.client_req), and `path` is still a hit everywhere."""
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        for name, kwargs, want in cases:
            with self.subTest(name):
                status, ctype, body = api("POST", "/api/purge", **kwargs)
                self.assert_problem(status, ctype, body, want)
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        self.assert_all_hits(path)

    def assert_problem(self, status, ctype, body, want_status):
        self.assertEqual(status, want_status, body)
        self.assertEqual(ctype, "application/problem+json")
        self.assertEqual(body["status"], want_status)
        for key in ("type", "title", "detail"):
            self.assertIsInstance(body[key], str)

    def newest_history_id(self):
        status, _, page = api("GET", "/api/history?limit=1", content_type=None)
        self.assertEqual(status, 200, page)
        return page["entries"][0]["id"] if page["entries"] else 0


class PurgeApi(CdnTestCase):
    def test_purge_reaches_every_instance_and_the_next_fetch_is_a_miss(self):
        path = new_page()
        before = self.warm(path)
        status, ctype, report = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]})
        self.assertEqual(status, 200, report)
        self.assertEqual(ctype, "application/json")
        self.assertEqual(report["status"], "purged")
        self.assertEqual(sorted(r["instance"] for r in report["results"]), sorted(CDN.instances))
        for row in report["results"]:
            self.assertEqual(row["url"], f"https://{SITE}{path}")
            self.assertEqual(row["outcome"], "purged", row)
            self.assertEqual(row["http_status"], 200)
        for inst in CDN.instances:
            cache_status, body = fetch(inst, path)
            self.assertIn("fwd=uri-miss", cache_status, inst)
            self.assertNotEqual(body, before[inst], f"{inst} served the old copy")

    def test_batch_of_100_urls_uses_one_connection_per_instance(self):
        batch = uuid.uuid4().hex
        paths = [f"/batch-{batch}/{n}" for n in range(100)]
        for p in paths:
            self.warm(p)
        urls = [f"https://{SITE}{p}" for p in paths]
        connections = settled_counters("MAIN.sess_conn")
        requests = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        status, _, report = api("POST", "/api/purge", {"urls": urls})
        self.assertEqual(status, 200, report)
        # Each instance got its 100 PURGEs over one connection (varnishstat).
        self.assertEqual(counter_deltas("MAIN.client_req", requests, [100, 100, 100]), [100, 100, 100])
        self.assertEqual(counter_deltas("MAIN.sess_conn", connections, [1, 1, 1]), [1, 1, 1])
        self.assertEqual(report["summary"]["total"], 300)
        self.assertEqual(report["plan"], {"instances": 3, "requests": 300, "concurrency": 3})
        # Those connections opened while the history was written (CONCURRENCY 6 leaves one for
        # it), and were the ones the PURGEs then went on: still one per instance.
        plan = [s for s in trace_spans(report["trace_id"], 2) if s["name"] == "plan"]
        self.assertEqual([p["attributes"]["edgepurge.connections.early"] for p in plan], [3])
        for p in paths:
            for inst in CDN.instances:
                self.assertIn("fwd=uri-miss", fetch(inst, p)[0])

    def test_missing_or_wrong_token_is_401_and_purges_nothing(self):
        path = new_page()
        self.warm(path)
        for token in (None, "not-the-token-0123456789", CDN.api_token + "x"):
            status, ctype, body = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]}, token=token)
            self.assert_problem(status, ctype, body, 401)
            self.assertEqual(body["type"], "urn:edgepurge:problem:unauthorized")
        self.assert_all_hits(path)
        # Refused attempts are in the history too; nobody signed in, so no URLs are recorded.
        status, _, page = api("GET", "/api/history?limit=100&actor=" + urllib.parse.quote("(not signed in)"), content_type=None)
        self.assertEqual(status, 200, page)
        denied = [e for e in page["entries"] if e["status"] == "denied" and e["http_status"] == 401]
        self.assertGreaterEqual(len(denied), 3, page)

    def test_host_not_on_the_allowlist_is_403_and_purges_nothing(self):
        path = new_page()
        self.warm(path)
        for urls in ([f"https://evil.example{path}"], [f"https://{SITE}{path}", f"https://evil.example{path}"]):
            status, ctype, body = api("POST", "/api/purge", {"urls": urls})
            self.assert_problem(status, ctype, body, 403)
            self.assertEqual(body["subject"], f"https://evil.example{path}")
        self.assert_all_hits(path)
        # Refused attempts are in the history, with who asked and why.
        status, _, page = api("GET", f"/api/history?url=evil.example{path}", content_type=None)
        self.assertEqual(status, 200, page)
        self.assertEqual(len(page["entries"]), 2, page)
        for entry in page["entries"]:
            self.assertEqual((entry["status"], entry["http_status"], entry["actor"]), ("denied", 403, "admin"))
            self.assertIn("not in ALLOWED_HOSTS", entry["detail"])
            self.assertEqual(entry["results"], [])

    def test_an_international_domain_name_is_put_in_its_xn_form_by_the_runtime(self):
        # The core has no Unicode tables: the worker's runtime (workerd's URL) does IDNA, for
        # URLs and hosts alike; the result is checked against ALLOWED_HOSTS like any host.
        path = new_page()
        for body, detail in (({"urls": [f"https://Bücher.example{path}"]}, "\"xn--bcher-kva.example\""),
                             ({"hosts": ["BÜCHER.example"]}, "\"xn--bcher-kva.example\"")):
            status, ctype, problem = api("POST", "/api/purge", body)
            self.assert_problem(status, ctype, problem, 403)
            self.assertIn(detail, problem["detail"])
            self.assertIn("not in ALLOWED_HOSTS", problem["detail"])
        # What the runtime refuses (full-width % maps to %, which no host may hold) is a 400.
        status, ctype, problem = api("POST", "/api/purge", {"urls": ["https://exa\uff05mple.com/"]})
        self.assert_problem(status, ctype, problem, 400)
        self.assertIn("invalid international domain name", problem["detail"])

    def test_hostile_input_is_a_4xx_problem_and_no_purge_reaches_any_instance(self):
        path = new_page()
        self.warm(path)
        url = f"https://{SITE}{path}"
        cases = [
            ("malformed JSON", dict(raw=b'{"urls": ['), 400),
            ("not an object", dict(body=[url]), 400),
            ("unknown field", dict(body={"urls": [url], "extra": 1}), 400),
            ("empty body", dict(raw=b""), 400),
            ("empty list", dict(body={"urls": []}), 400),
            ("wrong content type", dict(body={"urls": [url]}, content_type="text/plain"), 415),
            ("no content type", dict(body={"urls": [url]}, content_type=None), 415),
            ("body too large", dict(raw=b'{"urls": ["' + b"a" * (1 << 20) + b'"]}'), 413),
            ("too many URLs", dict(body={"urls": [f"{url}?n={i}" for i in range(101)]}), 422),
            ("ftp scheme", dict(body={"urls": [f"ftp://{SITE}{path}"]}), 400),
            ("javascript scheme", dict(body={"urls": ["javascript:alert(1)"]}), 400),
            ("relative URL", dict(body={"urls": [path]}), 400),
            ("userinfo", dict(body={"urls": [f"https://user:pw@{SITE}{path}"]}), 400),
            ("IPv4 literal host", dict(body={"urls": [f"https://127.0.1.1{path}"]}), 400),
            ("IPv6 literal host", dict(body={"urls": [f"https://[::1]{path}"]}), 400),
            ("host not allowed", dict(body={"urls": [f"https://evil.example{path}"]}), 403),
            ("CRLF in URL", dict(body={"urls": [url + "\r\nX-Evil: 1"]}), 400),
            ("LF in URL", dict(body={"urls": [url + "\nX-Evil: 1"]}), 400),
            ("NUL in URL", dict(body={"urls": [url + "\u0000"]}), 400),
            ("tab in host", dict(body={"urls": [f"https://www.edge\tpurge.test{path}"]}), 400),
            ("invalid percent-encoding", dict(body={"urls": [url + "%zz"]}), 400),
            ("over-long URL", dict(body={"urls": [url + "?" + "a" * 9000]}), 400),
            ("one bad URL among good ones", dict(body={"urls": [url, url + "\r\n"]}), 400),
            ("wrong token", dict(body={"urls": [url]}, token="ep_wrong-wrong-wrong-wrong"), 401),
        ]
        self.assert_refused_and_nothing_sent(cases, path)

    def test_duplicate_urls_are_purged_once_not_refused(self):
        path = new_page()
        self.warm(path)
        url = f"https://{SITE}{path}"
        status, _, report = api("POST", "/api/purge", {"urls": [url, url, f"https://WWW.EDGEPURGE.TEST{path}#top"]})
        self.assertEqual(status, 200, report)
        self.assertEqual(report["summary"]["total"], 3)
        self.assertEqual({r["url"] for r in report["results"]}, {url})

    def test_one_instance_down_gives_207_naming_it(self):
        path = new_page()
        self.warm(path)
        down = CDN.instances[1]
        CDN.stop_instance(1)
        try:
            status, _, report = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]})
        finally:
            CDN.start_instance(1)
        self.assertEqual(status, 207, report)
        self.assertEqual(report["status"], "partial")
        outcomes = {r["instance"]: r for r in report["results"]}
        self.assertEqual(set(outcomes), set(CDN.instances))
        self.assertEqual(outcomes[down]["outcome"], "failed")
        self.assertIn("connection", outcomes[down]["error"])
        self.assertTrue(outcomes[down]["retryable"])
        self.assertEqual(outcomes[down]["attempts"], 3, "retried inline (RETRY_ATTEMPTS)")
        self.assertTrue(outcomes[down]["pending"], "queued for background redelivery")
        self.assertNotIn("http_status", outcomes[down])
        for inst in CDN.instances:
            if inst != down:
                self.assertEqual(outcomes[inst]["outcome"], "purged")
                self.assertIn("fwd=uri-miss", fetch(inst, path)[0])

    def test_rate_limit_answers_429_with_retry_after_per_person(self):
        # A person of its own, so the limit it hits does not slow the other tests down.
        status, _, person = api("POST", "/api/people", {"name": f"rate-{uuid.uuid4().hex[:8]}", "role": "editor"})
        self.assertEqual(status, 201, person)
        status, _, issued = api("POST", f"/api/people/{person['id']}/tokens", {"label": "spam"})
        self.assertEqual(status, 201, issued)
        body = {"urls": ["https://evil.example/not-allowed"]}  # refused (403) after the limit check
        seen = []
        for _ in range(300):
            req = urllib.request.Request(CDN.api + "/api/purge", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {issued['token']}"})
            try:
                urllib.request.urlopen(req, timeout=30)
            except urllib.error.HTTPError as e:
                seen.append(e.code)
                if e.code == 429:
                    problem = json.loads(e.read())
                    self.assertEqual(problem["type"], "urn:edgepurge:problem:rate-limited")
                    self.assertTrue(1 <= int(e.headers["Retry-After"]) <= 60, e.headers["Retry-After"])
                    break
        self.assertEqual(seen[-1], 429, f"no 429 after {len(seen)} requests")
        self.assertEqual(set(seen[:-1]), {403})
        # RATE_LIMIT_PER_MINUTE defaults to 120: the 121st request of a minute is refused (241st if
        # the minute turned over while sending).
        self.assertTrue(121 <= len(seen) <= 241, len(seen))
        # The limit is per person: others are not limited by it.
        status, _, _ = api("POST", "/api/purge", body)
        self.assertEqual(status, 403)

    def test_the_fan_out_learns_each_instances_typical_time_from_the_history(self):
        # An isolate reads the instances' mean request times from D1 after a reply, at most once
        # a minute, and starts the slowest first; the plan span says how many had a figure.
        deadline = time.monotonic() + 90
        while True:
            status, _, report = api("POST", "/api/purge", {"urls": [f"https://{SITE}{new_page()}"]})
            self.assertEqual(status, 200, report)
            plan = [s for s in trace_spans(report["trace_id"], 2) if s["name"] == "plan"]
            self.assertEqual(len(plan), 1)
            timed = plan[0]["attributes"]["edgepurge.instances.timed"]
            if timed == 3 or time.monotonic() > deadline:
                break
            time.sleep(5)
        self.assertEqual(timed, 3, "no figures read within a minute and a half")

    def test_instances_lists_what_dns_says(self):
        url = f"https://{SITE}{new_page()}"
        self.assertEqual(api("POST", "/api/purge", {"urls": [url]})[0], 200)
        status, _, body = api("GET", "/api/instances", content_type=None)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["hosts"][0]["host"], SITE)
        self.assertEqual(body["hosts"][0]["instances"], [f"{ip}:{TEST_PORTS.varnish}" for ip in INSTANCE_IPS])
        # Each instance's last purge (one D1 query for all of them) is the one just made.
        last = {entry["instance"]: entry for entry in body["hosts"][0]["last"]}
        self.assertEqual(sorted(last), sorted(CDN.instances))
        self.assertTrue(all(entry["url"] == url and entry["outcome"] == "not_cached" for entry in last.values()), last)
        status, ctype, body = api("GET", "/api/instances", token=None, content_type=None)
        self.assert_problem(status, ctype, body, 401)

    def test_a_method_the_platform_does_not_know_is_405_not_a_get(self):
        # worker::Method reads QUERY (or PURGE) as GET: it once served /api/me and the history.
        for path, allow in (("/api/me", "GET"), ("/api/history", "GET"), ("/api/purge", "POST")):
            req = urllib.request.Request(CDN.api + path, method="QUERY",
                                         headers={"Authorization": f"Bearer {CDN.api_token}"})
            with self.subTest(path), self.assertRaises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(req, timeout=30)
            self.assertEqual(caught.exception.code, 405, path)
            self.assertEqual(caught.exception.headers.get("Allow"), allow, path)
            self.assertEqual(json.loads(caught.exception.read())["type"], "urn:edgepurge:problem:method-not-allowed")

    def test_health_and_unknown_routes(self):
        status, _, body = api("GET", "/api/health", token=None, content_type=None)
        self.assertEqual((status, body["status"]), (200, "ok"))
        status, ctype, body = api("GET", "/api/purge", content_type=None)
        self.assert_problem(status, ctype, body, 405)
        status, ctype, body = api("GET", "/api/nope", content_type=None)
        self.assert_problem(status, ctype, body, 404)


def new_editor(name="editor"):
    """A fresh editor (named `name-<random>`) and their personal token."""
    status, _, person = api("POST", "/api/people", {"name": f"{name}-{uuid.uuid4().hex[:8]}", "role": "editor"})
    assert status == 201, person
    status, _, issued = api("POST", f"/api/people/{person['id']}/tokens", {"label": "e2e"})
    assert status == 201, issued
    return person, issued["token"]


def editor_token():
    """A fresh editor's personal token."""
    return new_editor()[1]


class Pipelining(CdnTestCase):
    """HTTP/1.1 pipelining: an instance's whole batch goes out before its first answer is back."""

    def purge_batch(self, paths):
        urls = [f"https://{SITE}{p}" for p in paths]
        for p in paths:
            self.warm(p)
        connections = settled_counters("MAIN.sess_conn")
        requests = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        status, _, report = api("POST", "/api/purge", {"urls": urls})
        reqs = counter_deltas("MAIN.client_req", requests, [100, 100, 100])
        sess = counter_deltas("MAIN.sess_conn", connections, None, timeout=0)
        self.assertEqual(status, 200, report)
        self.assertEqual(report["status"], "purged", report["summary"])
        # Every (URL, instance) is in the report exactly once, purged at the first attempt.
        pairs = sorted((r["url"], r["instance"]) for r in report["results"])
        self.assertEqual(pairs, sorted((u, i) for u in urls for i in CDN.instances))
        for row in report["results"]:
            self.assertEqual((row["outcome"], row["attempts"]), ("purged", 1), row)
        for p in paths:
            for inst in CDN.instances:
                self.assertIn("fwd=uri-miss", fetch(inst, p)[0], (inst, p))
        return report, sess, reqs

    def test_a_batch_of_100_is_sent_before_the_first_answer_on_one_connection_per_instance(self):
        batch = uuid.uuid4().hex
        report, sess, reqs = self.purge_batch([f"/pipe-{batch}/{n}" for n in range(100)])
        self.assertEqual((sess, reqs), ([1, 1, 1], [100, 100, 100]))
        # Pipelined: on each instance every request started before any answer had come back.
        for inst in CDN.instances:
            rows = [r for r in report["results"] if r["instance"] == inst]
            last_start = max(r["started_ms"] for r in rows)
            first_end = min(r["started_ms"] + r["elapsed_ms"] for r in rows)
            self.assertLessEqual(last_start, first_end, inst)

    def test_a_connection_closed_after_the_10th_answer_ends_with_all_100_purged(self):
        # The 10th URL's PURGE is answered with `Connection: close` (the local CDN's test hook)
        # and the instance closes there: the 90 requests it left unanswered go again on a new
        # connection, and none is counted as a failed attempt.
        batch = uuid.uuid4().hex
        paths = [f"/pipe-{batch}/{n}" for n in range(100)]
        paths[9] = f"/close-after/{batch}"
        _, sess, reqs = self.purge_batch(paths)
        self.assertEqual((sess, reqs), ([2, 2, 2], [100, 100, 100]))


class Shards(CdnTestCase):
    """Fan-out past six connections: 15 instances under CONCURRENCY=6 run in three shards of
    five, the first in the calling invocation and two in Durable Objects, all at once."""

    def purge_wide(self, live):
        path = new_page()
        urls = [f"https://{WIDE_SITE}{path}", f"https://{WIDE_SITE}{path}?v=2"]
        for u in urls:
            for inst in CDN.wide_instances:
                ip, port = inst.rsplit(":", 1)
                http_get(ip, int(port), u.split(WIDE_SITE, 1)[1], headers={"Host": WIDE_SITE})
        connections = settled_counters("MAIN.sess_conn")
        headers = {"Authorization": f"Bearer {CDN.api_token}", "Content-Type": "application/json"}
        if live:
            headers["Accept"] = "application/x-ndjson"
        req = urllib.request.Request(CDN.api + "/api/purge", data=json.dumps({"urls": urls, "confirm": True}).encode(),
                                     method="POST", headers=headers)
        with urllib.request.urlopen(req, timeout=60) as resp:
            tp = resp.headers["traceparent"]
            body = resp.read()
        self.assertEqual(counter_deltas("MAIN.sess_conn", connections, [5, 5, 5]), [5, 5, 5],
                         "one connection per instance address")
        return urls, tp.split("-")[1], body

    def check_trace(self, trace_id):
        root = [s for s in trace_spans(trace_id, 1) if s["name"] == "POST /api/purge"]
        self.assertEqual(len(root), 1)
        attrs = root[0]["attributes"]
        # The driver's socket counters: the caller's own shard and each Durable Object held at
        # most CONCURRENCY (6) sockets at once; here five each, all instances of a shard at once.
        self.assertEqual(attrs["edgepurge.shards"], 2)
        self.assertEqual(attrs["edgepurge.sockets.peak"], 5)
        self.assertEqual(attrs["edgepurge.shards.sockets.peak"], 5)
        purges = [s for s in trace_spans(trace_id, 1 + 15 + 30 + 30) if s["name"] == "PURGE"]
        self.assertEqual(len(purges), 30, "every request of every shard is in the one trace")

    def test_a_15_instance_plan_runs_in_shards_and_every_row_is_reported_once(self):
        urls, trace_id, body = self.purge_wide(live=False)
        report = json.loads(body)
        self.assertEqual(report["plan"]["instances"], 15)
        pairs = sorted((r["url"], r["instance"]) for r in report["results"])
        self.assertEqual(pairs, sorted((u, i) for u in urls for i in CDN.wide_instances))
        for row in report["results"]:
            self.assertIn(row["outcome"], ("purged", "not_cached"), row)
            self.assertIn("confirm", row, "the HEAD's answer came back from the shard too")
        # (Five addresses share each varnishd's cache, and their PURGEs and HEADs interleave, so
        # which of them finds a URL cached, and what each HEAD then sees, varies from run to run.)
        self.check_trace(trace_id)

    def test_verification_of_15_instances_runs_in_shards_too(self):
        path = new_page()
        for inst in CDN.wide_instances:
            ip, port = inst.rsplit(":", 1)
            http_get(ip, int(port), path, headers={"Host": WIDE_SITE})
        req = urllib.request.Request(CDN.api + "/api/verify", data=json.dumps({"url": f"https://{WIDE_SITE}{path}"}).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {CDN.api_token}",
                                                             "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            trace_id = resp.headers["traceparent"].split("-")[1]
            report = json.loads(resp.read())
        self.assertEqual(sorted(r["instance"] for r in report["results"]), sorted(CDN.wide_instances))
        # Each address was fetched through just before: every one of them serves a hit.
        self.assertTrue(all(r.get("hit") is True for r in report["results"]), report["results"])
        root = [s for s in trace_spans(trace_id, 1) if s["name"] == "POST /api/verify"]
        self.assertEqual(len(root), 1)
        attrs = root[0]["attributes"]
        self.assertEqual((attrs["edgepurge.shards"], attrs["edgepurge.sockets.peak"],
                          attrs["edgepurge.shards.sockets.peak"]), (2, 5, 5))

    def test_live_rows_from_every_shard_arrive_once_each(self):
        urls, trace_id, body = self.purge_wide(live=True)
        events = [json.loads(line) for line in body.decode().splitlines()]
        self.assertEqual(events[0]["event"], "started")
        self.assertEqual(len(events[0]["pairs"]), 30)
        rows = [(e["url"], e["instance"]) for e in events if e["event"] == "result"]
        self.assertEqual(sorted(rows), sorted((u, i) for u in urls for i in CDN.wide_instances))
        self.assertEqual(events[-1]["event"], "done")
        self.assertEqual(events[-1]["status"], "purged", events[-1]["summary"])
        self.check_trace(trace_id)


class Confirm(CdnTestCase):
    """Purge and confirm: a HEAD right behind each PURGE on the same connection."""

    def test_each_row_says_the_instance_now_serves_a_fresh_copy_and_the_next_visitor_gets_a_hit(self):
        paths = [new_page(), new_page()]
        for p in paths:
            self.warm(p)
        urls = [f"https://{SITE}{p}" for p in paths]
        connections = settled_counters("MAIN.sess_conn")
        status, _, report = api("POST", "/api/purge", {"urls": urls, "confirm": True})
        self.assertEqual(counter_deltas("MAIN.sess_conn", connections, None, timeout=0), [1, 1, 1])
        self.assertEqual(status, 200, report)
        self.assertEqual(report["plan"]["requests"], 12, "a PURGE and a HEAD per (URL, instance)")
        self.assertEqual(len(report["results"]), 6, "the HEAD adds to its row, not a row")
        for row in report["results"]:
            self.assertEqual(row["outcome"], "purged", row)
            confirm = row["confirm"]
            self.assertTrue(confirm["fresh"], row)
            self.assertEqual(confirm["http_status"], 200)
            self.assertRegex(confirm["cache_status"], r"^edge-\d+; fwd=uri-miss; stored$")
        # The HEAD fetched and stored a fresh copy: the next visitor gets a hit.
        for p in paths:
            self.assert_all_hits(p)

    def test_without_confirm_there_is_no_head_and_no_confirmation(self):
        path = new_page()
        self.warm(path)
        status, _, report = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]})
        self.assertEqual(status, 200, report)
        self.assertEqual(report["plan"]["requests"], 3)
        self.assertTrue(all("confirm" not in r for r in report["results"]), report["results"])
        for inst in CDN.instances:
            self.assertIn("fwd=uri-miss", fetch(inst, path)[0])

    def test_a_soft_purge_is_confirmed_by_a_stale_copy(self):
        path = new_page()
        self.warm(path)
        status, _, report = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"], "soft": True, "confirm": True})
        self.assertEqual(status, 200, report)
        for row in report["results"]:
            self.assertTrue(row["confirm"]["fresh"], row)
            self.assertIn("fwd=stale", row["confirm"]["cache_status"], row)

    def test_key_and_prefix_purges_are_confirmed_through_the_urls_the_caller_names(self):
        tag = f"t{uuid.uuid4().hex[:8]}"
        pages = [f"/tagged/{tag}/a", f"/tagged/{tag}/b"]
        for p in pages:
            self.warm(p)
        named = [f"https://{SITE}{p}" for p in pages]
        status, _, report = api("POST", "/api/purge", {"keys": [tag], "confirm_urls": named})
        self.assertEqual(status, 200, report)
        mine = [r for r in report["results"] if r["url"] == f"key:{tag}@{SITE}"]
        self.assertEqual(sorted(r["instance"] for r in mine), sorted(CDN.instances))
        for row in mine:
            # Both pages fresh: the verdict is fresh and names the first.
            self.assertEqual((row["confirm"]["fresh"], row["confirm"]["url"]), (True, named[0]), row)
            self.assertRegex(row["confirm"]["cache_status"], r"^edge-\d+; fwd=uri-miss; stored$")
        # The other groups' instances serve none of the named URLs' host: nothing to confirm.
        self.assertTrue(all("confirm" not in r for r in report["results"] if r not in mine))
        # (Whether the next visitor gets a hit is not checked here: the wide group's purges of
        # the key reach the same varnishd through other addresses, after some of these HEADs.)
        # A prefix, confirmed through a page under it; the next visitor then gets a hit.
        prefix = f"https://{SITE}/pfx-{uuid.uuid4().hex[:8]}/"
        self.warm(prefix.split(SITE, 1)[1] + "page")
        status, _, report = api("POST", "/api/purge", {"prefixes": [prefix], "confirm_urls": [prefix + "page"]})
        self.assertEqual(status, 200, report)
        self.assertEqual([(r["confirm"]["fresh"], r["confirm"]["url"]) for r in report["results"]],
                         [(True, prefix + "page")] * 3, report["results"])
        self.assert_all_hits(prefix.split(SITE, 1)[1] + "page")

    def test_a_named_url_no_purge_covers_is_refused_and_nothing_is_sent(self):
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        prefix = f"https://{SITE}/pfx-{uuid.uuid4().hex[:8]}/"
        status, _, problem = api("POST", "/api/purge", {"prefixes": [prefix], "confirm_urls": [f"https://{SITE}/elsewhere"]})
        self.assertEqual((status, problem["type"]), (400, "urn:edgepurge:problem:bad-request"), problem)
        self.assertIn("covers", problem["detail"])
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])


class Kinds(CdnTestCase):
    """Purge kinds against the real instances (vcl/edgepurge.vcl with vmod_xkey and bans)."""

    def test_key_purge_misses_every_tagged_page_and_keeps_the_rest(self):
        tag = f"t{uuid.uuid4().hex[:8]}"
        tagged = [f"/tagged/{tag}/a", f"/tagged/{tag}/b"]
        untagged = [new_page(), f"/tagged/other{tag}/c"]
        for p in tagged + untagged:
            self.warm(p)
        self.warm(tagged[0], ASSETS_SITE, CDN.assets_varnish)
        status, _, report = api("POST", "/api/purge", {"keys": [tag]})
        self.assertEqual(status, 200, report)
        # Keys are instance-wide: one purge per instance group, each named by its first host;
        # the layered sites' upstream groups (a Fastly service, Cloudflare zones) are groups too.
        self.assertEqual(sorted((r["url"], r["instance"]) for r in report["results"]),
                         sorted([(f"key:{tag}@{ASSETS_SITE}", i) for i in CDN.assets_instances]
                                + [(f"key:{tag}@{FLY_SITE}", i) for i in fly_started()]
                                + [(f"key:{tag}@{WIDE_SITE}", i) for i in CDN.wide_instances]
                                + [(f"key:{tag}@{MISDECLARED_SITE}", i) for i in CDN.misdeclared_instances]
                                + [(f"key:{tag}@{LAYERS_SITE}", i)
                                   for i in CDN.layers_instances + CDN.upstream_groups[LAYERS_SITE]]
                                + [(f"key:{tag}@{EDGE_SITE}", i)
                                   for i in CDN.edge_instances + CDN.upstream_groups[EDGE_SITE]]
                                + [(f"key:{tag}@{SITE}", i) for i in CDN.instances]))
        # The plain group cannot purge keys: nothing sent there, and the report says so. The
        # misdeclared group (Pipely-like, declared edgepurge) is sent it and answers 200 without
        # a count: unconfirmed, as the instance check warns.
        self.assertEqual([(g["item"], g["contract"]) for g in report["skipped"]],
                         [(f"key:{tag}@{PLAIN_SITE}", "plain")])
        legacy = [r for r in report["results"] if r["instance"] in CDN.misdeclared_instances]
        self.assertEqual({r["outcome"] for r in legacy}, {"unconfirmed"}, legacy)
        report["results"] = [r for r in report["results"] if r not in legacy]
        # The Fly-like app's Machines are the assets group's varnishd, and the wide group's
        # addresses are the app group's: the six purges of the key that reach one app varnishd
        # at once each count what they found (the same objects, or none once they are gone),
        # so at least one of them purged it, and the pages below are gone.
        for i, inst in enumerate(CDN.instances):
            names = {inst, *CDN.wide_instances[5 * i:5 * i + 5]}
            outcomes = [r["outcome"] for r in report["results"] if r["instance"] in names]
            self.assertIn("purged", outcomes, inst)
        self.assertLessEqual({r["outcome"] for r in report["results"]}, {"purged", "not_cached"})
        for inst in CDN.instances:
            for p in tagged:
                self.assertIn("fwd=uri-miss", fetch(inst, p)[0], (inst, p))
        for inst in CDN.assets_varnish:
            self.assertIn("fwd=uri-miss", fetch(inst, tagged[0], ASSETS_SITE)[0], inst)
        self.assert_all_hits(untagged[0])
        self.assert_all_hits(untagged[1])

    def test_soft_purge_serves_stale_while_it_refetches(self):
        path = new_page()
        before = self.warm(path)
        status, _, report = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"], "soft": True})
        self.assertEqual(status, 200, report)
        self.assertEqual({r["url"] for r in report["results"]}, {f"soft:https://{SITE}{path}"})
        for inst in CDN.instances:
            cache_status, body = fetch(inst, path)
            self.assertIn("; hit; fwd=stale", cache_status, inst)
            self.assertEqual(body, before[inst], "the stale copy is served")
        time.sleep(0.5)
        for inst in CDN.instances:
            cache_status, body = fetch(inst, path)
            self.assertRegex(cache_status, r"; hit; ttl=\d+$")
            self.assertNotEqual(body, before[inst], "a fresh copy was fetched in the background")

    def test_soft_key_purge_serves_stale(self):
        tag = f"s{uuid.uuid4().hex[:8]}"
        path = f"/tagged/{tag}/x"
        self.warm(path)
        status, _, report = api("POST", "/api/purge", {"keys": [tag], "soft": True})
        self.assertEqual(status, 200, report)
        for inst in CDN.instances:
            self.assertIn("; hit; fwd=stale", fetch(inst, path)[0], inst)

    def test_prefix_purge_misses_only_matching_paths(self):
        section = f"/s{uuid.uuid4().hex[:8]}"
        inside = [f"{section}/a", f"{section}/b/c"]
        outside = [f"{section}x/a", new_page()]
        for p in inside + outside:
            self.warm(p)
        status, _, report = api("POST", "/api/purge", {"prefixes": [f"https://{SITE}{section}/"]})
        self.assertEqual(status, 200, report)
        self.assertEqual({r["outcome"] for r in report["results"]}, {"purged"})
        for inst in CDN.instances:
            for p in inside:
                self.assertIn("fwd=uri-miss", fetch(inst, p)[0], (inst, p))
        for p in outside:
            self.assert_all_hits(p)

    def test_host_purge_leaves_nothing_on_the_host_a_hit(self):
        pages = [new_page() for _ in range(3)]
        for p in pages:
            self.warm(p)
        status, _, report = api("POST", "/api/purge", {"hosts": [SITE]})
        self.assertEqual(status, 200, report)
        self.assertEqual([r["url"] for r in report["results"]], [f"host:{SITE}"] * 3)
        for inst in CDN.instances:
            for p in pages:
                self.assertIn("fwd=uri-miss", fetch(inst, p)[0], (inst, p))

    def test_wide_purges_are_for_admins_and_bad_kinds_are_refused(self):
        path = new_page()
        self.warm(path)
        token = editor_token()
        cases = [
            ("editor prefix", dict(body={"prefixes": [f"https://{SITE}/"]}, token=token), 403),
            ("editor host", dict(body={"hosts": [SITE]}, token=token), 403),
            ("soft host", dict(body={"hosts": [SITE], "soft": True}), 400),
            ("key with a space", dict(body={"keys": ["two words"]}), 400),
            ("prefix with a query", dict(body={"prefixes": [f"https://{SITE}/a?b=1"]}), 400),
            ("host not allowed", dict(body={"hosts": ["evil.example"]}), 403),
            ("nothing at all", dict(body={}), 400),
        ]
        self.assert_refused_and_nothing_sent(cases, path)
        # Editors may purge keys.
        status, _, report = api("POST", "/api/purge", {"keys": ["nothing-tagged-with-this"]}, token=token)
        self.assertEqual(status, 200, report)


def fastly(path, key="default", headers=None):
    """A request exactly as Fastly's API documentation shows it, to this worker's base URL."""
    req = urllib.request.Request(CDN.api + path, data=b"", method="POST", headers=headers or {})
    if key is not None:
        req.add_header("Fastly-Key", CDN.api_token if key == "default" else key)
    req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class FastlyCompatible(CdnTestCase):
    """Fastly's purge API, so Fastly clients switch by changing the base URL and the key."""

    def test_single_url_purge(self):
        path = new_page()
        self.warm(path)
        status, body = fastly(f"/purge/{SITE}{path}")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "ok")
        self.assertIsInstance(body["id"], str)
        for inst in CDN.instances:
            self.assertIn("fwd=uri-miss", fetch(inst, path)[0])

    def test_surrogate_key_purges_single_batch_and_soft(self):
        a, b = f"fa{uuid.uuid4().hex[:8]}", f"fb{uuid.uuid4().hex[:8]}"
        pages = {a: f"/tagged/{a}/x", b: f"/tagged/{b}/y"}
        for p in pages.values():
            self.warm(p)
        status, body = fastly(f"/service/SU1Z0isxPaozGVKXdv0eY/purge/{a}")
        self.assertEqual((status, body["status"]), (200, "ok"), body)
        for inst in CDN.instances:
            self.assertIn("fwd=uri-miss", fetch(inst, pages[a])[0])
        self.assert_all_hits(pages[b])
        # Batch: Surrogate-Key header, reply maps each key to a purge id. (The fetches above cached
        # page a again.)
        self.assert_all_hits(pages[a])
        status, body = fastly("/service/SU1Z0isxPaozGVKXdv0eY/purge", headers={"Surrogate-Key": f"{a} {b}"})
        self.assertEqual(status, 200, body)
        self.assertEqual(set(body), {a, b})
        for inst in CDN.instances:
            for p in pages.values():
                self.assertIn("fwd=uri-miss", fetch(inst, p)[0])
        # Soft purge: stale served while refetching.
        self.assert_all_hits(pages[b])
        status, body = fastly(f"/service/SU1Z0isxPaozGVKXdv0eY/purge/{b}", headers={"Fastly-Soft-Purge": "1"})
        self.assertEqual(status, 200, body)
        for inst in CDN.instances:
            self.assertIn("; hit; fwd=stale", fetch(inst, pages[b])[0])

    def test_purge_all_and_refusals(self):
        pages = [new_page(), new_page()]
        for p in pages:
            self.warm(p)
        status, body = fastly("/service/x/purge_all", key=editor_token())
        self.assertEqual(status, 403, body)
        self.assert_all_hits(pages[0])
        for key in (None, "wrong-key-wrong-key-wrong"):
            status, body = fastly(f"/purge/{SITE}{pages[0]}", key=key)
            self.assertEqual((status, body["type"]), (401, "urn:edgepurge:problem:unauthorized"), body)
        self.assert_all_hits(pages[0])
        # Every allowed host includes the plain group's, and a plain cache cannot purge a whole
        # host: purge_all is refused, naming the group, and nothing is sent anywhere.
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        plain_before = plain_counters()
        status, body = fastly("/service/x/purge_all")
        self.assertEqual(status, 400, body)
        self.assertIn(f"{PLAIN_SITE}=static:contract=plain", body["detail"])
        self.assertIn("host purge", body["detail"])
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        self.assertEqual([a - b for a, b in zip(plain_counters(), plain_before)], [0, 0])
        for p in pages:
            self.assert_all_hits(p)

    def test_a_soft_purge_in_another_spelling_is_refused_recorded_and_sends_nothing(self):
        # `Fastly-Soft-Purge: true` once became a hard purge; now it is a 400, in the history.
        path = new_page()
        self.warm(path)
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        status, body = fastly(f"/purge/{SITE}{path}", headers={"Fastly-Soft-Purge": "true"})
        self.assertEqual((status, body["type"]), (400, "urn:edgepurge:problem:bad-request"), body)
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        self.assert_all_hits(path)
        status, _, page = api("GET", "/api/history?limit=20", content_type=None)
        self.assertEqual(status, 200, page)
        refused = [e for e in page["entries"] if "Fastly-Soft-Purge" in (e.get("detail") or "")]
        self.assertTrue(refused, page["entries"][:3])
        self.assertEqual((refused[0]["status"], refused[0]["http_status"]), ("denied", 400))


class CloudflareCompatible(CdnTestCase):
    """Cloudflare's purge_cache, as its API documentation shows the requests."""

    def purge_cache(self, body, token="default"):
        return api("POST", "/client/v4/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache", body, token=token)

    def test_files_tags_prefixes_hosts_in_the_cloudflare_envelope(self):
        tag = f"cf{uuid.uuid4().hex[:8]}"
        section = f"/cf{uuid.uuid4().hex[:8]}"
        pages = {"file": new_page(), "tagged": f"/tagged/{tag}/p", "prefixed": f"{section}/p", "other": new_page()}
        for p in pages.values():
            self.warm(p)
        body = {"files": [f"https://{SITE}{pages['file']}"], "tags": [tag], "prefixes": [f"{SITE}{section}/"]}
        status, ctype, reply = self.purge_cache(body)
        self.assertEqual(status, 200, reply)
        self.assertEqual((reply["success"], reply["errors"], reply["messages"]), (True, [], []))
        self.assertIsInstance(reply["result"]["id"], str)
        for inst in CDN.instances:
            for name in ("file", "tagged", "prefixed"):
                self.assertIn("fwd=uri-miss", fetch(inst, pages[name])[0], (inst, name))
        self.assert_all_hits(pages["other"])
        # files as objects, as the API also accepts
        self.assert_all_hits(pages["file"])
        status, _, reply = self.purge_cache({"files": [{"url": f"https://{SITE}{pages['file']}", "headers": {}}]})
        self.assertEqual((status, reply["success"]), (200, True), reply)
        # purge_everything: every allowed host, the plain group's among them, which cannot be
        # purged whole: refused (a problem, as every refusal), naming the group; nothing is sent.
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        status, ctype, reply = self.purge_cache({"purge_everything": True})
        self.assert_problem(status, ctype, reply, 400)
        self.assertIn(f"{PLAIN_SITE}=static:contract=plain", reply["detail"])
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        self.assert_all_hits(pages["other"])

    def test_limits_and_refusals(self):
        path = new_page()
        self.warm(path)
        url = f"https://{SITE}{path}"
        cases = [
            ("31 files", {"files": [f"{url}?n={i}" for i in range(31)]}, 422),
            ("everything plus files", {"purge_everything": True, "files": [url]}, 400),
            ("unknown field", {"files": [url], "bogus": 1}, 400),
            ("host not allowed", {"files": [f"https://evil.example{path}"]}, 403),
        ]
        for name, body, want in cases:
            with self.subTest(name):
                status, ctype, reply = self.purge_cache(body)
                self.assert_problem(status, ctype, reply, want)
        status, ctype, reply = self.purge_cache({"files": [url]}, token="wrong-wrong-wrong-wrong")
        self.assert_problem(status, ctype, reply, 401)
        self.assert_all_hits(path)


def send_chunked(path, total, token=None):
    """POSTs a chunked JSON body of `total` bytes to `path` over a raw connection, sending only
    while no answer is waiting, so the answer is read the moment it comes (before the server's
    close can reset the connection). Returns (status or None when the connection was reset first,
    bytes of body sent before the answer)."""
    host, port = CDN.api.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=60)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
    piece = b'{"urls": ["' + b"a" * (64 * 1024 - 11)
    pending, sent, answer = b"", 0, b""
    conn.setblocking(False)
    deadline = time.monotonic() + 120
    while b"\r\n" not in answer and time.monotonic() < deadline:
        readable, writable, _ = select.select([conn], [conn] if sent < total else [], [], 1)
        try:
            if readable:
                data = conn.recv(65536)
                if not data:
                    break
                answer += data
            elif writable:
                if not pending:
                    pending = b"%x\r\n%s\r\n" % (len(piece), piece)
                n = conn.send(pending)
                pending = pending[n:]
                if not pending:
                    sent += len(piece)
        except (BlockingIOError, InterruptedError):
            pass
        except ConnectionResetError:
            break
    conn.close()
    return (int(answer.split(b" ", 2)[1]) if b" " in answer else None), sent


class Hardening(CdnTestCase):
    """Regression tests for the security review (issue 9), one per finding."""

    def test_finding_1_a_huge_chunked_body_is_refused_after_about_the_cap(self):
        # 200 MiB, no Content-Length: the worker answers 413 once a little over 1 MiB has arrived
        # and reads no more, so the sender is stopped long before 200 MiB (what it managed to send
        # also fills the loopback's and the dev proxy's buffers). wrangler dev's proxy sometimes
        # resets the connection before the early answer reaches the client ("Network connection
        # lost"); the worker's own log line then shows the 413 it sent.
        log = CDN.state / "logs" / "worker.log"
        for path, token in (("/api/session", None), ("/api/purge", CDN.api_token),
                            ("/client/v4/zones/z/purge_cache", CDN.api_token)):
            with self.subTest(path):
                line, tries = f"POST {path} 413".encode(), []
                # When the dev proxy loses the request altogether (its own 500), try again.
                while len(tries) < 4 and not any(status == 413 or logged for status, _, logged in tries):
                    before = log.read_bytes().count(line)
                    status, sent = send_chunked(path, 200 << 20, token)
                    deadline = time.monotonic() + 10
                    while status != 413 and log.read_bytes().count(line) == before and time.monotonic() < deadline:
                        time.sleep(0.2)
                    tries.append((status, sent, log.read_bytes().count(line) - before))
                shown = "; ".join(f"answer {st} after {sent / (1 << 20):.1f} MiB, {n} x 413 logged" for st, sent, n in tries)
                print(f"\n  {path} (200 MiB chunked): {shown}", file=sys.stderr)
                self.assertTrue(any(status == 413 or logged for status, _, logged in tries))
                for _, sent, _ in tries:
                    self.assertLess(sent, 40 << 20)

    def test_finding_2_an_accepted_purge_always_has_its_history_row(self):
        # The real page plus 99 URLs of about 8 KB of non-ASCII characters each (about 24 KB
        # each once percent-encoded): the page is purged and the history has the purge's row.
        path = new_page()
        self.warm(path)
        junk = [f"https://{SITE}/{i}/" + "é" * 4000 for i in range(99)]
        body = json.dumps({"urls": [f"https://{SITE}{path}"] + junk}, ensure_ascii=False).encode()
        self.assertLess(len(body), 1 << 20)
        status, _, report = api("POST", "/api/purge", raw=body)
        self.assertEqual(status, 200, report.get("audit_error") or report.get("detail"))
        self.assertNotIn("audit_error", report)
        for inst in CDN.instances:
            self.assertIn("fwd=uri-miss", fetch(inst, path)[0])
        entry = completed_entry(self, path)
        self.assertEqual((entry["status"], entry["http_status"], entry["item_count"]), ("purged", 200, 100))
        self.assertEqual(len(entry["urls"]), 100)
        self.assertTrue(all(len(u) <= 1025 for u in entry["urls"]))
        self.assertEqual(len(entry["results"]), 300)

    def history_since(self, newest_id, **query):
        """History entries newer than `newest_id` matching `query`, paging through all of them."""
        entries, before = [], None
        while True:
            q = urllib.parse.urlencode({**query, "limit": 100, **({"before": before} if before else {})})
            status, _, page = api("GET", f"/api/history?{q}", content_type=None)
            self.assertEqual(status, 200, page)
            fresh = [e for e in page["entries"] if e["id"] > newest_id]
            entries += fresh
            if len(fresh) < len(page["entries"]) or not page.get("next_before"):
                return entries
            before = page["next_before"]

    def test_a_valid_purge_over_the_limit_is_refused_after_planning_and_sends_nothing(self):
        # The limit is counted in the D1 batch that writes the history entry: the request over it
        # was validated and planned, yet no PURGE leaves for it.
        person, token = new_editor("busy")
        newest = self.newest_history_id()
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        seen = []
        for _ in range(300):
            url = f"https://{SITE}{new_page()}"
            status, _, body = api("POST", "/api/purge", {"urls": [url]}, token=token)
            seen.append(status)
            if status != 200:
                break
        self.assertEqual((seen[-1], body["type"]), (429, "urn:edgepurge:problem:rate-limited"), body)
        self.assertEqual(set(seen[:-1]), {200})
        self.assertTrue(121 <= len(seen) <= 241, len(seen))
        # One request per instance for each accepted purge, none for the refused one.
        accepted = len(seen) - 1
        self.assertEqual(counter_deltas("MAIN.client_req", before, [accepted] * 3), [accepted] * 3)
        # The next one is refused too, and a page stays cached on every instance.
        path = new_page()
        self.warm(path)
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        status, _, body = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]}, token=token)
        self.assertEqual(status, 429, body)
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        rows = self.history_since(newest, actor=person["name"])
        self.assertEqual([r["http_status"] for r in rows].count(429), 1, "one 429 a minute is recorded")
        self.assertEqual(len(rows), accepted + 1, "every accepted purge has its entry")

    def test_finding_3_refusals_of_unknown_callers_are_written_within_a_budget(self):
        # 150 refused requests from 150 addresses: at most REFUSAL_BUDGET_PER_MINUTE (60) rows,
        # whichever minutes they fall in (at most two).
        newest = self.newest_history_id()
        for i in range(150):
            req = urllib.request.Request(CDN.api + "/api/purge", data=b'{"urls": []}', method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "CF-Connecting-IP": f"198.51.100.{i}"})
            with self.assertRaises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(req, timeout=30)
            self.assertEqual(refused.exception.code, 401)
        rows = self.history_since(newest, actor="(not signed in)")
        print(f"\n  150 anonymous refusals from 150 addresses: {len(rows)} history rows", file=sys.stderr)
        self.assertGreater(len(rows), 0)
        self.assertLessEqual(len(rows), 2 * 60)
        self.assertLess(len(rows), 150)

    def test_finding_3_an_identified_callers_refusals_count_towards_its_limit(self):
        # 415s (and 400s, CSRF) used to be written before the rate limit and never got a 429.
        person, token = new_editor("refused")
        newest = self.newest_history_id()

        def refused():
            req = urllib.request.Request(CDN.api + "/api/purge", data=b'{"urls": ["https://x/"]}',
                                         method="POST", headers={"Content-Type": "text/plain",
                                                                 "Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    return resp.status, resp.headers
            except urllib.error.HTTPError as e:
                e.read()
                return e.code, e.headers

        def until_429():
            seen = []
            for _ in range(300):
                status, headers = refused()
                seen.append(status)
                if status == 429:
                    return seen, int(headers["Retry-After"])
            self.fail(f"no 429 after {len(seen)} refused requests")

        seen, retry_after = until_429()
        self.assertEqual(set(seen[:-1]), {415})
        self.assertTrue(121 <= len(seen) <= 241, len(seen))
        if retry_after < 10:
            # The window is about to roll over and would let the next refusals through: wait for
            # the next one, which a fresh run of refusals fills in exactly the limit's worth.
            time.sleep(retry_after + 0.5)
            seen, retry_after = until_429()
            self.assertEqual(set(seen[:-1]), {415})
            self.assertEqual(len(seen), 121)
        rows = self.history_since(newest, actor=person["name"])
        # At most the limit's worth of refusals a minute plus the first 429 (three minutes at most).
        self.assertLessEqual(len(rows), 3 * 121)
        self.assertEqual(rows[0]["http_status"], 429)
        # Over the limit, further refusals are answered but not written (20 refusals take well
        # under the 10 seconds left in this window).
        for _ in range(20):
            status, _ = refused()
            self.assertEqual(status, 429)
        self.assertEqual(len(self.history_since(newest, actor=person["name"])), len(rows))

    def test_finding_7_a_removed_or_regraded_person_loses_sessions_and_tokens(self):
        status, _, person = api("POST", "/api/people", {"name": f"leaver-{uuid.uuid4().hex[:8]}", "role": "editor"})
        self.assertEqual(status, 201, person)
        status, _, issued = api("POST", f"/api/people/{person['id']}/tokens", {"label": "leaver"})
        self.assertEqual(status, 201, issued)

        def session():
            req = urllib.request.Request(CDN.api + "/api/session", method="POST",
                                         data=json.dumps({"token": issued["token"]}).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as resp:
                cookie = resp.headers["Set-Cookie"].split(";", 1)[0]
            self.assertTrue(cookie.startswith("__Host-ep_session="), cookie)
            return cookie

        def me(cookie=None, token=None):
            headers = {"Cookie": cookie} if cookie else {"Authorization": f"Bearer {token}"}
            req = urllib.request.Request(CDN.api + "/api/me", headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        cookie = session()
        self.assertEqual(me(cookie)[0], 200)
        # Two session cookies: neither is believed.
        self.assertEqual(me(f"{cookie}; {cookie.split('=', 1)[0]}=planted")[0], 401)
        # A new role ends the sessions; the token works on, with the new role.
        status, _, changed = api("PATCH", f"/api/people/{person['id']}", {"role": "admin"})
        self.assertEqual((status, changed["role"]), (200, "admin"), changed)
        self.assertEqual(me(cookie)[0], 401)
        status, who = me(token=issued["token"])
        self.assertEqual((status, who["role"]), (200, "admin"))
        # Another admin cannot demote or remove the bootstrap admin.
        status, _, people = api("GET", "/api/people", content_type=None)
        admin = next(p for p in people if p["name"] == "admin")
        status, _, problem = api("PATCH", f"/api/people/{admin['id']}", {"role": "editor"}, token=issued["token"])
        self.assert_problem(status, "application/problem+json", problem, 409)
        status, _, problem = api("DELETE", f"/api/people/{admin['id']}", token=issued["token"], content_type=None)
        self.assert_problem(status, "application/problem+json", problem, 409)
        # Removed: sessions and tokens stop working; the person is gone from the list.
        cookie = session()
        req = urllib.request.Request(CDN.api + f"/api/people/{person['id']}", method="DELETE",
                                     headers={"Authorization": f"Bearer {CDN.api_token}"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            self.assertEqual(resp.status, 204)
        self.assertEqual(me(cookie)[0], 401)
        self.assertEqual(me(token=issued["token"])[0], 401)
        status, _, people = api("GET", "/api/people", content_type=None)
        self.assertNotIn(person["id"], [p["id"] for p in people])
        # Nobody changes their own role; a removed person's name can be used again.
        status, _, problem = api("PATCH", f"/api/people/{admin['id']}", {"role": "editor"})
        self.assert_problem(status, "application/problem+json", problem, 409)
        status, _, again = api("POST", "/api/people", {"name": person["name"], "role": "editor"})
        self.assertEqual(status, 201, again)

    def test_review_2_finding_2_a_purge_whose_report_would_be_too_large_is_refused_up_front(self):
        # 100 URLs of 8 KB (an 800 KB body, within every limit) to 15 instances: a 12 MB report,
        # built whole in a 128 MB isolate. Refused before anything is sent, saying how to split.
        base = f"https://{WIDE_SITE}/big-{uuid.uuid4().hex[:8]}"
        urls = [f"{base}/{i}/{'x' * 8000}" for i in range(100)]
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        status, ctype, problem = api("POST", "/api/purge", {"urls": urls})
        self.assert_problem(status, ctype, problem, 413)
        self.assertEqual((problem["type"], problem.get("setting")),
                         ("urn:edgepurge:problem:report-too-large", "MAX_REPORT_BYTES"))
        fit = int(re.search(r"at most (\d+) items", problem["detail"]).group(1))
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        # Split as it says, the purge goes through, and its reply stays within the bound (the
        # figures printed: the reply's size and workerd's peak memory around it).
        peak_before = workerd_peak_rss_kb()
        req = urllib.request.Request(CDN.api + "/api/purge", data=json.dumps({"urls": urls[:fit]}).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {CDN.api_token}",
                                                             "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            body = resp.read()
        report = json.loads(body)
        print(f"\n  100 x 8 KB URLs to 15 instances: 413, split into {fit}; that reply {len(body):,} bytes; "
              f"workerd peak RSS {peak_before / 1024:.0f} MB before, {workerd_peak_rss_kb() / 1024:.0f} MB after",
              file=sys.stderr)
        self.assertEqual(len(report["results"]), fit * 15)
        self.assertLessEqual(len(body), 8 << 20)

    def test_review_2_finding_3_anonymous_refusals_past_the_budget_write_nothing(self):
        # 120 refused purges and 120 refused sign-ins from one client: past its quota, each is a
        # read and no write (the per-client counter stops at the quota instead of counting on).
        ip = f"203.0.113.{random.randint(100, 250)}"
        purge = {"Content-Type": "application/json", "CF-Connecting-IP": ip}
        signin = {"Content-Type": "application/json", "CF-Connecting-IP": ip, "Origin": CDN.api}
        codes = {"purge": [], "sign-in": []}
        for _ in range(120):
            for name, path, body, headers in (("purge", "/api/purge", b'{"urls": ["https://x/"]}', purge),
                                              ("sign-in", "/api/session", b'{"token": "ep_wrong"}', signin)):
                req = urllib.request.Request(CDN.api + path, method="POST", data=body, headers=headers)
                with self.assertRaises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(req, timeout=30)
                codes[name].append(refused.exception.code)
        self.assertEqual(set(codes["purge"]), {401})
        self.assertEqual(set(codes["sign-in"]), {401, 429})
        counts = CDN.d1(f"SELECT key, window, count FROM rate_limits WHERE key IN ('anonymous:{ip}', 'signin:{ip}')")
        print(f"\n  120 refused purges and sign-ins from one client: counters {counts}", file=sys.stderr)
        # REFUSAL_BUDGET_PER_MINUTE (60) / 4 and SIGN_IN_RATE_LIMIT_PER_MINUTE (30): one window
        # each, or two if the minute turned (the first window's row is then forgotten).
        # (The per-client counter is not even read when the deployment's whole refusal budget
        # for the minute is spent, as earlier tests may have done.)
        for row in counts:
            self.assertLessEqual(row["count"], 15 if row["key"].startswith("anonymous:") else 30, row)
        self.assertIn(f"signin:{ip}", {r["key"] for r in counts})

    def test_review_2_finding_4_the_bootstrap_admin_has_no_personal_tokens(self):
        # Rotating API_TOKENS is the remedy for a leaked bootstrap token: no personal token of the
        # bootstrap admin may outlive it.
        status, _, people = api("GET", "/api/people", content_type=None)
        admin = next(p for p in people if p["name"] == "admin")
        status, _, problem = api("POST", f"/api/people/{admin['id']}/tokens", {"label": "backdoor"})
        self.assert_problem(status, "application/problem+json", problem, 409)
        self.assertIn("API_TOKENS", problem["detail"])
        # One minted before (as older versions allowed; migration 0011 revokes them) is refused.
        token = "ep_" + uuid.uuid4().hex
        digest = hashlib.sha256(token.encode()).hexdigest()
        CDN.d1("INSERT INTO tokens (person_id, label, hint, hash, created_at) "
               f"VALUES ({admin['id']}, 'minted before', 'ep_…', '{digest}', 0)")
        status, _, problem = api("GET", "/api/me", token=token, content_type=None)
        self.assert_problem(status, "application/problem+json", problem, 401)
        self.assertEqual(api("GET", "/api/me", content_type=None)[0], 200, "API_TOKENS still sign in")

    def test_review_2_finding_7_a_broken_configuration_fails_health_naming_the_setting(self):
        # A deploy gated on /api/health must not pass a configuration that cannot purge.
        CDN.restart_worker(expect_health=503, DISCOVERY="bogus:thing")
        try:
            status, ctype, problem = api("GET", "/api/health", token=None, content_type=None)
            self.assert_problem(status, "application/problem+json", problem, 503)
            self.assertEqual(problem["type"], "urn:edgepurge:problem:not-ready")
            self.assertIn("DISCOVERY", problem["detail"] + problem.get("setting", ""))
            self.assertNotIn(CDN.purge_token, json.dumps(problem))
            req = urllib.request.Request(CDN.api + "/api/health", method="HEAD")
            with self.assertRaises(urllib.error.HTTPError) as head:
                urllib.request.urlopen(req, timeout=30)
            self.assertEqual(head.exception.code, 503)
            # What a purge answers with the same configuration.
            status, _, problem = api("POST", "/api/purge", {"urls": [f"https://{SITE}/"]})
            self.assertEqual(status, 500, problem)
        finally:
            CDN.restart_worker(DISCOVERY=None)
        self.assertEqual(api("GET", "/api/health", token=None, content_type=None)[0], 200)

    def test_finding_7_sign_in_is_rate_limited_per_client(self):
        # SIGN_IN_RATE_LIMIT_PER_MINUTE (30) per client address: guessing tokens is slowed down.
        seen = []
        for _ in range(70):
            req = urllib.request.Request(CDN.api + "/api/session", method="POST", data=b'{"token": "ep_wrong"}',
                                         headers={"Content-Type": "application/json", "CF-Connecting-IP": "203.0.113.99"})
            try:
                urllib.request.urlopen(req, timeout=30)
                seen.append(200)
            except urllib.error.HTTPError as e:
                seen.append(e.code)
                if e.code == 429:
                    break
        self.assertEqual(seen[-1], 429, seen)
        self.assertEqual(set(seen[:-1]), {401})
        self.assertTrue(31 <= len(seen) <= 61, len(seen))

    def test_finding_3_old_rate_limit_windows_are_pruned_by_the_cron_trigger(self):
        CDN.d1("INSERT OR REPLACE INTO rate_limits (key, window, count) VALUES ('prune-test', 1, 5)")
        self.assertEqual(len(CDN.d1("SELECT * FROM rate_limits WHERE key = 'prune-test'")), 1)
        CDN.run_scheduled()
        self.assertEqual(CDN.d1("SELECT count(*) AS n FROM rate_limits WHERE window < 1000"), [{"n": 0}])

    def test_finding_7_every_authenticated_route_has_a_per_person_limit(self):
        # READ_RATE_LIMIT_PER_MINUTE (600): a person reading in a loop gets a 429 by the 1201st
        # request (if the minute turned over while reading), and others are not limited by it.
        status, _, person = api("POST", "/api/people", {"name": f"reader-{uuid.uuid4().hex[:8]}", "role": "editor"})
        status, _, issued = api("POST", f"/api/people/{person['id']}/tokens", {"label": "reader"})
        self.assertEqual(status, 201, issued)
        seen = []
        for _ in range(1201):
            status, _, body = api("GET", "/api/me", token=issued["token"], content_type=None)
            seen.append(status)
            if status == 429:
                self.assertEqual(body["type"], "urn:edgepurge:problem:rate-limited")
                break
        self.assertEqual(seen[-1], 429, f"no 429 after {len(seen)} reads")
        self.assertEqual(set(seen[:-1]), {200})
        self.assertTrue(601 <= len(seen) <= 1201, len(seen))
        self.assertEqual(api("GET", "/api/me", content_type=None)[0], 200)

    def test_finding_4_a_session_cookie_needs_csrf_on_the_cloudflare_endpoint_too(self):
        path = new_page()
        self.warm(path)
        req = urllib.request.Request(CDN.api + "/api/session", data=json.dumps({"token": CDN.api_token}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            cookie = resp.headers["Set-Cookie"].split(";", 1)[0]
            csrf = json.loads(resp.read())["csrf_token"]
        body = json.dumps({"files": [f"https://{SITE}{path}"]}).encode()

        def purge_cache(headers):
            r = urllib.request.Request(CDN.api + "/client/v4/zones/z/purge_cache", data=body, method="POST",
                                       headers={"Content-Type": "application/json", "Cookie": cookie, **headers})
            try:
                with urllib.request.urlopen(r, timeout=60) as resp:
                    return resp.status
            except urllib.error.HTTPError as e:
                return e.code

        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        self.assertEqual(purge_cache({"Origin": "https://evil.example"}), 403)
        self.assertEqual(purge_cache({"Origin": "https://evil.example", "X-CSRF-Token": csrf}), 403)
        self.assertEqual(purge_cache({}), 403, "no token")
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        self.assert_all_hits(path)
        self.assertEqual(purge_cache({"Origin": CDN.api, "X-CSRF-Token": csrf}), 200)


def assets_counters(name="MAIN.client_req"):
    return [CDN.counter(i, name, group="assets") for i in range(len(CDN.assets_varnish))]


class InstanceGroups(CdnTestCase):
    """Two instance groups: the app host by DNS over HTTPS in clear text (loopback), the assets
    host by a static list over TLS through haproxy, with certificates of a test CA."""

    def test_a_purge_over_tls_reaches_every_assets_instance_and_each_misses_after(self):
        path = new_page()
        self.warm(path, ASSETS_SITE, CDN.assets_varnish)
        before = assets_counters()
        status, _, body = api("POST", "/api/purge", {"urls": [f"https://{ASSETS_SITE}{path}"]})
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(r["instance"] for r in body["results"]), sorted(CDN.assets_instances))
        self.assertEqual({r["outcome"] for r in body["results"]}, {"purged"}, body)
        # Each varnishd behind the terminator got the one PURGE, and serves a fresh copy now.
        self.assertEqual([a - b for a, b in zip(assets_counters(), before)], [1, 1])
        for inst in CDN.assets_varnish:
            self.assertIn("fwd=uri-miss", fetch(inst, path, ASSETS_SITE)[0], inst)

    def test_one_purge_reaches_each_urls_own_group_and_only_that_group(self):
        app_page, assets_page = new_page(), new_page()
        self.warm(app_page)
        self.warm(assets_page, ASSETS_SITE, CDN.assets_varnish)
        # The same paths under the other host, cached in the other group: they must stay.
        self.warm(assets_page)
        self.warm(app_page, ASSETS_SITE, CDN.assets_varnish)
        urls = [f"https://{SITE}{app_page}", f"https://{ASSETS_SITE}{assets_page}"]
        status, _, body = api("POST", "/api/purge", {"urls": urls})
        self.assertEqual(status, 200, body)
        rows = sorted((r["url"], r["instance"]) for r in body["results"])
        want = sorted([(urls[0], i) for i in CDN.instances] + [(urls[1], i) for i in CDN.assets_instances])
        self.assertEqual(rows, want)
        for inst in CDN.instances:
            self.assertIn("fwd=uri-miss", fetch(inst, app_page)[0], inst)
        for inst in CDN.assets_varnish:
            self.assertIn("fwd=uri-miss", fetch(inst, assets_page, ASSETS_SITE)[0], inst)
        self.assert_all_hits(assets_page)
        self.assert_all_hits(app_page, ASSETS_SITE, CDN.assets_varnish)

    def test_a_certificate_for_another_name_fails_that_instance_and_sends_it_nothing(self):
        path = new_page()
        self.warm(path, ASSETS_SITE, CDN.assets_varnish)
        url = f"https://{ASSETS_SITE}{path}"
        CDN.restart_tls(wrong_name_on=1)
        try:
            before = assets_counters()
            status, _, body = api("POST", "/api/purge", {"urls": [url]})
            self.assertEqual(status, 207, body)
            rows = {r["instance"]: r for r in body["results"]}
            good, bad = rows[CDN.assets_instances[0]], rows[CDN.assets_instances[1]]
            self.assertEqual(good["outcome"], "purged", good)
            self.assertEqual(bad["outcome"], "failed", bad)
            self.assertIn(f"TLS expecting a certificate for {ASSETS_SITE}", bad["error"], bad)
            # Nothing got through to the varnishd behind the wrong certificate.
            self.assertEqual([a - b for a, b in zip(assets_counters(), before)], [1, 0])
            self.assertIn("; hit", fetch(CDN.assets_varnish[1], path, ASSETS_SITE)[0])
        finally:
            CDN.restart_tls()


def fly_started():
    """The started Machines as reports name them (`fra 3d8d9e1f0e9d87`)."""
    return [f"{region} {machine_id}" for machine_id, region, state, _ in FLY_MACHINES if state == "started"]


def fly_counters(name="MAIN.client_req"):
    """client_req of each Machine's varnishd, in FLY_MACHINES order."""
    by_ip = {ip: ("assets", i) for i, ip in enumerate(("127.0.1.6", "127.0.1.7"))}
    by_ip.update({ip: ("varnish", i) for i, ip in enumerate(INSTANCE_IPS)})
    return [CDN.counter(by_ip[ip][1], name, group=by_ip[ip][0]) for *_, ip in FLY_MACHINES]


def fly_deltas(before, expected, timeout=3.0):
    """How much each Machine's varnishd client_req grew since `before`, polled until it equals
    `expected` or, when it never does, for the whole `timeout` (so a late PURGE is seen)."""
    deadline = time.monotonic() + timeout
    while True:
        deltas = [a - b for a, b in zip(fly_counters(), before)]
        if (deltas == expected and expected != [0, 0, 0]) or time.monotonic() > deadline:
            return deltas
        time.sleep(0.1)


def fly_varnish():
    return [f"{ip}:{CDN.ports.varnish}" for *_, ip in FLY_MACHINES]


def plain_counters(group="plain", n=2):
    return [CDN.counter(i, "MAIN.client_req", group) for i in range(n)]


def pipely_hit(cache_status):
    """Pipely's cache-status says `; hit` for a cached copy, `; miss` for a fresh fetch."""
    return "; hit;" in cache_status


class Dialects(CdnTestCase):
    """Caches as deployed: the plain group (tests/cdn/plain.vcl, which answers PURGE as Pipely's
    stock VCL does: `return(purge)`, `200 Purged`, no count, Pipely's cache-status), declared
    `:contract=plain`, and the misdeclared group (the same VCL, declared as the edgepurge
    contract)."""

    def warm_plain(self, path, instances=None, host=PLAIN_SITE):
        for inst in instances or CDN.plain_instances:
            first, _ = fetch(inst, path, host)
            self.assertIn("; miss;", first, (inst, path))
            second, _ = fetch(inst, path, host)
            self.assertTrue(pipely_hit(second), (inst, path, second))

    def cache_plain_home(self):
        """Makes sure every plain instance holds its home page (a hit); returns its path."""
        for inst in CDN.plain_instances:
            fetch(inst, "/", PLAIN_SITE)
        self.assertTrue(all(pipely_hit(fetch(i, "/", PLAIN_SITE)[0]) for i in CDN.plain_instances))
        return "/"

    def test_a_url_purge_with_confirm_is_purged_and_fresh_on_every_plain_instance(self):
        path = new_page()
        self.warm_plain(path)
        before = plain_counters()
        url = f"https://{PLAIN_SITE}{path}"
        status, _, report = api("POST", "/api/purge", {"urls": [url], "confirm": True})
        self.assertEqual(status, 200, report)
        self.assertEqual(report["status"], "purged", report)
        self.assertEqual(sorted(r["instance"] for r in report["results"]), sorted(CDN.plain_instances))
        for row in report["results"]:
            # A 2xx is what the plain contract promises: purged, not "unconfirmed".
            self.assertEqual((row["outcome"], row["http_status"]), ("purged", 200), row)
            self.assertNotIn("error", row)
            self.assertNotIn("done_hard", row)
            confirm = row["confirm"]
            self.assertIs(confirm["fresh"], True, row)
            self.assertEqual(confirm["format"], "pipely", row)
            self.assertIn("; miss;", confirm["cache_status"], row)
        # One PURGE and one HEAD on each; the HEAD put the fresh copy back for the next visitor.
        self.assertEqual([a - b for a, b in zip(plain_counters(), before)], [2, 2])
        for inst in CDN.plain_instances:
            self.assertTrue(pipely_hit(fetch(inst, path, PLAIN_SITE)[0]), inst)

    def test_a_key_purge_sends_nothing_to_the_plain_group_and_says_so(self):
        home = self.cache_plain_home()
        before = plain_counters()
        tag = f"t{uuid.uuid4().hex[:8]}"
        status, _, report = api("POST", "/api/purge", {"keys": [tag]})
        self.assertEqual(status, 200, report)
        self.assertNotIn(f"key:{tag}@{PLAIN_SITE}", {r["url"] for r in report["results"]})
        self.assertFalse(set(CDN.plain_instances) & {r["instance"] for r in report["results"]}, report)
        skipped = report["skipped"]
        self.assertEqual(len(skipped), 1, skipped)
        self.assertEqual(skipped[0]["item"], f"key:{tag}@{PLAIN_SITE}")
        self.assertEqual(skipped[0]["contract"], "plain")
        self.assertTrue(skipped[0]["group"].startswith(f"{PLAIN_SITE}=static:contract=plain"), skipped)
        self.assertIn("home page", skipped[0]["reason"])
        # Nothing reached the plain instances, and their home page is still cached.
        self.assertEqual([a - b for a, b in zip(plain_counters(), before)], [0, 0])
        for inst in CDN.plain_instances:
            self.assertTrue(pipely_hit(fetch(inst, home, PLAIN_SITE)[0]), inst)

    def test_a_prefix_or_host_purge_of_the_plain_group_is_a_400_that_sends_nothing(self):
        home = self.cache_plain_home()
        before = plain_counters()
        all_before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        for name, body, field in [
            ("prefix", {"prefixes": [f"https://{PLAIN_SITE}/episodes/"]}, "prefixes[0]"),
            ("host", {"hosts": [PLAIN_SITE]}, "hosts[0]"),
            ("prefix beside a fine url", {"urls": [f"https://{SITE}{new_page()}"],
                                          "prefixes": [f"https://{PLAIN_SITE}/episodes/"]}, "prefixes[0]"),
        ]:
            with self.subTest(name):
                status, ctype, problem = api("POST", "/api/purge", body)
                self.assert_problem(status, ctype, problem, 400)
                self.assertTrue(problem["detail"].startswith(field), problem)
                self.assertIn(f"{PLAIN_SITE}=static:contract=plain", problem["detail"])
                self.assertIn(f"{name.split()[0]} purge", problem["detail"])
        self.assertEqual([a - b for a, b in zip(plain_counters(), before)], [0, 0])
        self.assertEqual(counter_deltas("MAIN.client_req", all_before, None), [0, 0, 0])
        for inst in CDN.plain_instances:
            self.assertTrue(pipely_hit(fetch(inst, home, PLAIN_SITE)[0]), f"{inst}: the home page must stay cached")

    def test_a_soft_url_purge_of_the_plain_group_is_done_hard_and_says_so(self):
        path = new_page()
        self.warm_plain(path)
        self.warm(path)
        urls = [f"https://{PLAIN_SITE}{path}", f"https://{SITE}{path}"]
        status, _, report = api("POST", "/api/purge", {"urls": urls, "soft": True})
        self.assertEqual(status, 200, report)
        rows = {r["instance"]: r for r in report["results"]}
        for inst in CDN.plain_instances:
            self.assertEqual((rows[inst]["outcome"], rows[inst].get("done_hard")), ("purged", True), rows[inst])
            # Removed, not marked stale: the next fetch is a miss, not a stale hit.
            self.assertIn("; miss;", fetch(inst, path, PLAIN_SITE)[0], inst)
        for inst in CDN.instances:
            self.assertNotIn("done_hard", rows[inst])
            self.assertIn("; hit; fwd=stale", fetch(inst, path)[0], inst)

    def test_a_misdeclared_group_is_unconfirmed_and_the_check_says_why(self):
        path = new_page()
        self.warm_plain(path, CDN.misdeclared_instances, MISDECLARED_SITE)
        status, _, report = api("POST", "/api/purge", {"urls": [f"https://{MISDECLARED_SITE}{path}"]})
        self.assertEqual(status, 200, report)
        self.assertEqual({r["outcome"] for r in report["results"]}, {"unconfirmed"}, report)
        self.assertIn("contract=plain", report["results"][0]["error"])

    def test_the_instance_check_names_what_every_instance_speaks(self):
        before = plain_counters()
        status, _, check = api("POST", "/api/instances/check")
        self.assertEqual(status, 200, check)
        rows = {r["instance"]: r for r in check["results"]}
        groups = {r["group"].split("=", 1)[0] for r in check["results"]}
        self.assertEqual(groups, {SITE, ASSETS_SITE, FLY_SITE, PLAIN_SITE, MISDECLARED_SITE, WIDE_SITE, LAYERS_SITE,
                                  EDGE_SITE}, groups)
        for inst in CDN.instances + CDN.assets_instances + CDN.wide_instances + fly_started():
            row = rows[inst]
            self.assertEqual((row["declared"], row["seen"], row["reachable"], row["token_accepted"]),
                             ("edgepurge", "edgepurge", True, True), row)
            self.assertEqual(row["cache_status_format"], "rfc9211", row)
            self.assertNotIn("warning", row)
        for inst in CDN.assets_instances + fly_started():
            self.assertIs(rows[inst]["tls_verified"], True, rows[inst])
        for inst in CDN.instances:
            self.assertNotIn("tls_verified", rows[inst])
        for inst in CDN.plain_instances:
            row = rows[inst]
            self.assertEqual((row["declared"], row["seen"], row["purge_status"]), ("plain", "plain", 200), row)
            self.assertEqual(row["cache_status_format"], "pipely", row)
            self.assertNotIn("warning", row)
        legacy = rows[CDN.misdeclared_instances[0]]
        self.assertEqual((legacy["declared"], legacy["seen"]), ("edgepurge", "plain"), legacy)
        self.assertIn(":contract=plain", legacy["warning"])
        self.assertEqual(check["warnings"], 1, check)
        # One PURGE (of the reserved path) and one HEAD of / on each instance.
        self.assertEqual([a - b for a, b in zip(plain_counters(), before)], [2, 2])
        # In the history as a check, not a purge.
        status, _, page = api("GET", "/api/history?limit=5", content_type=None)
        entry = next(e for e in page["entries"] if e["kind"] == "check")
        self.assertEqual((entry["status"], entry["results"]), ("partial", []), entry)
        self.assertIn(f"{MISDECLARED_SITE}=static", " ".join(entry["urls"]))
        self.assertIn("1 with a warning", entry["detail"])
        # Admins only, and it takes no other method.
        _, editor = new_editor("checker")
        before = plain_counters()
        status, ctype, problem = api("POST", "/api/instances/check", token=editor)
        self.assert_problem(status, ctype, problem, 403)
        self.assertEqual([a - b for a, b in zip(plain_counters(), before)], [0, 0])
        status, ctype, problem = api("GET", "/api/instances/check", content_type=None)
        self.assert_problem(status, ctype, problem, 405)

    def test_instances_name_each_groups_contract(self):
        status, _, body = api("GET", "/api/instances", content_type=None)
        self.assertEqual(status, 200, body)
        contracts = {h["host"]: h["contract"] for h in body["hosts"]}
        self.assertEqual((contracts[PLAIN_SITE], contracts[MISDECLARED_SITE], contracts[SITE]),
                         ("plain", "edgepurge", "edgepurge"))
        hosts = {h["host"]: h for h in body["hosts"]}
        self.assertEqual(hosts[PLAIN_SITE]["instances"], CDN.plain_instances)


class Idempotency(CdnTestCase):
    """`Idempotency-Key` on POST /api/purge: a caller that sends its purge again (it timed out,
    say) gets the first purge's answer, and no PURGE leaves twice."""

    def again(self, body, key, token="default"):
        """POSTs the purge under `key`, asking again while the first one is still running (409)."""
        deadline = time.monotonic() + 20
        while True:
            status, ctype, reply = api("POST", "/api/purge", body, token=token, headers={"Idempotency-Key": key})
            if status != 409 or time.monotonic() > deadline:
                return status, ctype, reply
            self.assertEqual(reply["type"], "urn:edgepurge:problem:idempotency-key-in-use", reply)
            time.sleep(0.3)

    def test_the_same_key_twice_sends_one_set_of_purges_and_keeps_one_entry(self):
        path = new_page()
        self.warm(path)
        url = f"https://{SITE}{path}"
        key = str(uuid.uuid4())
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        status, _, first = self.again({"urls": [url]}, key)
        self.assertEqual(status, 200, first)
        status, _, second = self.again({"urls": [url]}, key)
        self.assertEqual(status, 200, second)
        rows = lambda r: sorted((x["url"], x["instance"], x["outcome"]) for x in r["results"])  # noqa: E731
        self.assertEqual(rows(second), rows(first))
        self.assertEqual(second["trace_id"], first["trace_id"], "the first purge's report")
        # One PURGE per instance in all, and one history entry.
        self.assertEqual(counter_deltas("MAIN.client_req", before, [1, 1, 1]), [1, 1, 1])
        self.assertEqual(completed_entry(self, path)["status"], "purged")
        # Live, it is the report's one line.
        req = urllib.request.Request(CDN.api + "/api/purge", data=json.dumps({"urls": [url]}).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {CDN.api_token}", "Idempotency-Key": key,
                                              "Content-Type": "application/json", "Accept": "application/x-ndjson"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            lines = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
        self.assertEqual([(e["event"], e["trace_id"]) for e in lines], [("done", first["trace_id"])])
        # Another request under the same key is a 422 that sends nothing, recorded as refused.
        other = f"https://{SITE}{new_page()}"
        status, ctype, problem = api("POST", "/api/purge", {"urls": [other]}, headers={"Idempotency-Key": key})
        self.assert_problem(status, ctype, problem, 422)
        self.assertEqual(problem["type"], "urn:edgepurge:problem:idempotency-key-reused")
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [1, 1, 1])
        self.assertEqual(completed_entry(self, path)["status"], "purged")
        # A malformed key is a 400, and keys are each person's own: another one's is a new purge.
        status, ctype, problem = api("POST", "/api/purge", {"urls": [url]}, headers={"Idempotency-Key": "two words"})
        self.assert_problem(status, ctype, problem, 400)
        _, editor = new_editor("idem")
        status, _, theirs = self.again({"urls": [url]}, key, token=editor)
        self.assertEqual(status, 200, theirs)
        self.assertNotEqual(theirs["trace_id"], first["trace_id"])
        self.assertEqual(counter_deltas("MAIN.client_req", before, [2, 2, 2]), [2, 2, 2])


class FlyMachines(CdnTestCase):
    """Fly.io discovery against a Fly-like edge: the Machines API stand-in lists the app's Machines,
    haproxy terminates TLS for the site and routes on fly-force-instance-id (503 for an unknown id)."""

    def tearDown(self):
        CDN.set_fly_machines()

    def test_a_fly_purge_reaches_exactly_the_started_machines(self):
        path = new_page()
        self.warm(path, FLY_SITE, fly_varnish())
        before = fly_counters()
        status, _, body = api("POST", "/api/purge", {"urls": [f"https://{FLY_SITE}{path}"]})
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(r["instance"] for r in body["results"]), sorted(fly_started()))
        self.assertEqual({r["outcome"] for r in body["results"]}, {"purged"}, body)
        # One PURGE to each started Machine's varnishd, none to the stopped one's.
        self.assertEqual(fly_deltas(before, [1, 1, 0]), [1, 1, 0])
        started, stopped = fly_varnish()[:2], fly_varnish()[2]
        for inst in started:
            self.assertIn("fwd=uri-miss", fetch(inst, path, FLY_SITE)[0], inst)
        self.assertIn("; hit", fetch(stopped, path, FLY_SITE)[0])

    def test_a_machine_stopped_between_two_purges_is_skipped_not_failed(self):
        machines = CDN.fly_machines()
        machines[1]["state"] = "stopped"
        CDN.set_fly_machines(machines)
        url = f"https://{FLY_SITE}{new_page()}"
        status, _, body = api("POST", "/api/purge", {"urls": [url]})
        self.assertEqual(status, 200, body)
        self.assertEqual([r["instance"] for r in body["results"]], fly_started()[:1])
        status, _, listed = api("GET", "/api/instances", content_type=None)
        self.assertEqual(status, 200, listed)
        fly = next(h for h in listed["hosts"] if h["host"] == FLY_SITE)
        self.assertEqual(fly["instances"], fly_started()[:1])
        self.assertEqual(sorted(s["instance"] for s in fly["skipped"]), sorted([fly_started()[1], "syd 148e272b4e5d89"]))
        self.assertEqual({s["state"] for s in fly["skipped"]}, {"stopped"})

    def test_review_2_finding_1_a_suspended_machine_is_pending_and_purged_once_started(self):
        # A suspended Machine resumes from its memory snapshot with its old copies: never skipped
        # as a stopped one is (which starts from an empty cache).
        path = new_page()
        self.warm(path, FLY_SITE, fly_varnish())
        machines = CDN.fly_machines()
        machines[1]["state"] = "suspended"
        CDN.set_fly_machines(machines)
        suspended = fly_started()[1]
        url = f"https://{FLY_SITE}{path}"
        before = fly_counters()
        status, _, body = api("POST", "/api/purge", {"urls": [url]})
        self.assertEqual(status, 207, body)
        rows = {r["instance"]: r for r in body["results"]}
        self.assertEqual(rows[fly_started()[0]]["outcome"], "purged")
        held = rows[suspended]
        self.assertEqual((held["outcome"], held["pending"], held["retryable"]), ("failed", True, True), held)
        self.assertIn("suspended", held["error"])
        self.assertEqual(fly_deltas(before, [1, 0, 0]), [1, 0, 0], "nothing is sent to it now")
        # The report lists every Machine not purged, with its state; so does the Instances page.
        listed = {s["instance"]: (s["state"], s.get("pending", False)) for s in body["skipped_instances"]}
        self.assertEqual(listed, {suspended: ("suspended", True), "syd 148e272b4e5d89": ("stopped", False)})
        status, _, page = api("GET", "/api/instances", content_type=None)
        fly = next(h for h in page["hosts"] if h["host"] == FLY_SITE)
        self.assertEqual({s["instance"]: (s["state"], s.get("pending", False)) for s in fly["skipped"]}, listed)
        # While it is suspended the cron waits for it (no attempt); once started it delivers.
        self.assertIn("; hit", fetch(fly_varnish()[1], path, FLY_SITE)[0], "still its old copy")
        before = fly_counters()
        deadline = time.monotonic() + 20
        while True:
            CDN.run_scheduled()
            [d] = [d for d in deliveries_for(url) if d["instance"] == suspended]
            if "waiting until it is started" in (d["last_error"] or "") or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.assertEqual((d["status"], d["attempts"]), ("pending", 0), d)
        self.assertIn("suspended: waiting until it is started", d["last_error"])
        self.assertEqual(fly_deltas(before, [0, 0, 0]), [0, 0, 0], "the cron sent it nothing")
        CDN.set_fly_machines()
        wait_for_delivery(self, url, suspended, "delivered")
        self.assertIn("fwd=uri-miss", fetch(fly_varnish()[1], path, FLY_SITE)[0])

    def test_an_unknown_machine_is_a_failed_row_with_redelivery_pending(self):
        machines = CDN.fly_machines() + [{"id": "0000000000beef", "state": "started", "region": "ams"}]
        CDN.set_fly_machines(machines)
        url = f"https://{FLY_SITE}{new_page()}"
        status, _, body = api("POST", "/api/purge", {"urls": [url]})
        self.assertEqual(status, 207, body)
        rows = {r["instance"]: r for r in body["results"]}
        self.assertEqual(sorted(rows), sorted(fly_started() + ["ams 0000000000beef"]))
        ghost = rows["ams 0000000000beef"]
        self.assertEqual((ghost["outcome"], ghost["http_status"], ghost["pending"]), ("failed", 503, True), ghost)
        queued = [d for d in deliveries_for(url) if d["instance"] == "ams 0000000000beef"]
        self.assertEqual([d["status"] for d in queued], ["pending"])
        # Once the Machine is gone from the app, redelivery drops it, with the reason.
        CDN.set_fly_machines()
        done = wait_for_delivery(self, url, "ams 0000000000beef", "abandoned")
        self.assertIn("no longer in discovery", done["last_error"])

    def test_machines_api_down_or_garbled_is_a_503_or_502_problem_and_sends_nothing(self):
        url = f"https://{FLY_SITE}{new_page()}"
        before = fly_counters()
        # A list that is not the documented one: 502, naming the rule.
        state = json.loads(CDN.fly_state.read_text())
        state["apps"]["edgepurge-demo"] = {"machines": state["apps"]["edgepurge-demo"]}
        CDN.fly_state.write_text(json.dumps(state))
        status, ctype, body = api("POST", "/api/purge", {"urls": [url]})
        self.assert_problem(status, ctype, body, 502)
        self.assertEqual((body["type"], body["subject"]), ("urn:edgepurge:problem:discovery-failed", "fly:edgepurge-demo"))
        # No Machines API at all: 503, try later.
        CDN.set_fly_machines()
        CDN._kill("machines-api")
        try:
            status, ctype, body = api("POST", "/api/purge", {"urls": [url]})
            self.assert_problem(status, ctype, body, 503)
            self.assertEqual(body["type"], "urn:edgepurge:problem:discovery-unavailable", body)
        finally:
            CDN.start_machines_api()
        self.assertEqual(fly_deltas(before, [0, 0, 0]), [0, 0, 0])

    def test_a_refused_fly_token_is_the_500_problem_and_sends_nothing(self):
        CDN.set_fly_machines(token="fo1_some_other_token")
        before = fly_counters()
        status, ctype, body = api("POST", "/api/purge", {"urls": [f"https://{FLY_SITE}{new_page()}"]})
        self.assert_problem(status, ctype, body, 500)
        self.assertEqual((body["type"], body["setting"]), ("urn:edgepurge:problem:config", "FLY_API_TOKEN"), body)
        self.assertEqual(fly_deltas(before, [0, 0, 0]), [0, 0, 0])


def trace_spans(trace_id, want, timeout=15):
    """The spans the local OTLP receiver got for `trace_id`, once there are at least `want`."""
    deadline = time.monotonic() + timeout
    while True:
        spans = [s for s in CDN.otlp_get("spans") if s["trace_id"] == trace_id]
        if len(spans) >= want or time.monotonic() > deadline:
            return spans
        time.sleep(0.2)


def traceparents_seen(i, trace_id):
    """The traceparent values varnishd number i logged for requests of `trace_id` (varnishlog)."""
    out = subprocess.run(["varnishlog", "-n", str(CDN.state / f"varnish-{i + 1}"), "-d", "-g", "raw",
                          "-i", "ReqHeader", "-q", f'ReqHeader:traceparent ~ "{trace_id}"'],
                         capture_output=True, text=True, timeout=30).stdout
    return re.findall(r"traceparent: (00-[0-9a-f]{32}-[0-9a-f]{16}-0[01])", out)


def reply_headers(method, path, body, headers):
    req = urllib.request.Request(CDN.api + path, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


class Tracing(CdnTestCase):
    """OpenTelemetry traces to the local OTLP receiver, which parses each export strictly with
    the official protobuf schema."""

    CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
    CALLER_SPAN = "00f067aa0ba902b7"

    def test_one_purge_is_one_trace_from_the_callers_span_to_each_instances_purge(self):
        path = new_page()
        self.warm(path)
        status, headers, report = reply_headers(
            "POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]},
            {"Authorization": f"Bearer {CDN.api_token}", "traceparent": f"00-{self.CALLER_TRACE}-{self.CALLER_SPAN}-01"})
        self.assertEqual(status, 200, report)
        # The caller's trace is continued, and the reply names it.
        self.assertEqual(report["trace_id"], self.CALLER_TRACE)
        reply_tp = headers.get("traceparent") or headers.get("Traceparent")
        self.assertRegex(reply_tp, f"^00-{self.CALLER_TRACE}-[0-9a-f]{{16}}-01$")
        root_id = reply_tp.split("-")[2]
        spans = trace_spans(self.CALLER_TRACE, 10)
        by_name = {}
        for s in spans:
            by_name.setdefault(s["name"], []).append(s)
        root = [s for s in spans if s["span_id"] == root_id]
        self.assertEqual(len(root), 1, [s["name"] for s in spans])
        root = root[0]
        self.assertEqual((root["name"], root["kind"], root["parent_span_id"]), ("POST /api/purge", 2, self.CALLER_SPAN))
        self.assertEqual(root["attributes"]["http.response.status_code"], 200)
        self.assertEqual(root["attributes"]["edgepurge.purge_status"], "purged")
        # The driver's count of sockets open at once: one per instance, all three together.
        self.assertEqual(root["attributes"]["edgepurge.sockets.peak"], 3)
        self.assertEqual(root["service"], "edgepurge-local")
        for name in ("authenticate", "discover", "plan"):
            self.assertEqual(by_name[name][0]["parent_span_id"], root_id, name)
        # Each item's full label once, on the plan span; request spans name it by index.
        self.assertEqual(by_name["plan"][0]["attributes"]["edgepurge.items"], f"https://{SITE}{path}")
        self.assertEqual({s["attributes"]["edgepurge.item.index"] for s in by_name["PURGE"]}, {0})
        # The DNS lookups behind discovery, one per record type, with what each answered.
        lookups = {s["attributes"]["dns.question.type"]: s for s in by_name["dns lookup"]}
        self.assertEqual(sorted(lookups), ["A", "AAAA"])
        self.assertEqual({s["parent_span_id"] for s in lookups.values()}, {by_name["discover"][0]["span_id"]})
        self.assertEqual(lookups["A"]["attributes"]["edgepurge.answers"], 3)
        connections = by_name["connection"]
        self.assertEqual(sorted(c["attributes"]["edgepurge.instance"] for c in connections), sorted(CDN.instances))
        purges = by_name["PURGE"]
        self.assertEqual(len(purges), 3)
        for p in purges:
            self.assertIn(p["parent_span_id"], {c["span_id"] for c in connections})
            self.assertEqual((p["attributes"]["edgepurge.outcome"], p["attributes"]["http.response.status_code"],
                              p["attributes"]["edgepurge.purge_count"]), ("purged", 200, 1))
            self.assertEqual(p["status"]["code"], 1)
        # Each instance got the traceparent of its own PURGE span.
        seen = {tp.split("-")[2] for i in range(3) for tp in traceparents_seen(i, self.CALLER_TRACE)}
        self.assertEqual(seen, {p["span_id"] for p in purges})
        self.assertEqual(CDN.otlp_get("errors"), [])
        self.assertEqual(CDN.otlp_get("headers").get("x-honeycomb-team"), "local-test-key")
        # The history entry names the same trace.
        status, _, page = api("GET", "/api/history?" + urllib.parse.urlencode({"url": path}), content_type=None)
        self.assertEqual(status, 200, page)
        self.assertEqual(page["entries"][0]["trace_id"], self.CALLER_TRACE)

    def test_refused_requests_are_traced_with_their_refusal_and_send_nothing(self):
        path = new_page()
        self.warm(path)
        url = f"https://{SITE}{path}"
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        token = {"Authorization": f"Bearer {CDN.api_token}"}
        for want, body, headers in (
            (401, {"urls": [url]}, {"Authorization": "Bearer wrong-token-wrong-token"}),
            (403, {"urls": ["https://elsewhere.example/x"]}, token),
            (400, {"urls": ["not a url"]}, token),
        ):
            with self.subTest(want):
                status, got, reply = reply_headers("POST", "/api/purge", body, headers)
                self.assertEqual(status, want, reply)
                trace_id = (got.get("traceparent") or got.get("Traceparent")).split("-")[1]
                spans = trace_spans(trace_id, 2)
                root = next(s for s in spans if s["name"] == "POST /api/purge")
                self.assertEqual((root["attributes"]["http.response.status_code"], root["status"]["code"]), (want, 2))
                self.assertEqual(root["attributes"]["edgepurge.problem"], reply["type"])
                self.assertEqual(next(s for s in spans if s["name"] == "authenticate")["status"]["code"],
                                 2 if want == 401 else 1)
                self.assertNotIn("PURGE", {s["name"] for s in spans})
                if want == 403:
                    # The refusal's history entry names its trace.
                    _, _, page = api("GET", "/api/history?" + urllib.parse.urlencode(
                        {"url": "elsewhere.example", "limit": 1}), content_type=None)
                    self.assertEqual(page["entries"][0]["trace_id"], trace_id)
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])

    def test_review_2_finding_5_a_callers_trace_is_continued_only_once_authenticated(self):
        # An anonymous request that names an editor's trace ends up in a trace of its own, linked
        # to the caller's span, never inside the editor's trace; its refusal row names its own.
        editor_trace = uuid.uuid4().hex
        tp = f"00-{editor_trace}-{self.CALLER_SPAN}-01"
        status, headers, problem = reply_headers("POST", "/api/purge", {"urls": [f"https://{SITE}/x"]},
                                                 {"Authorization": "Bearer ep_not-a-token", "traceparent": tp})
        self.assertEqual(status, 401, problem)
        own = (headers.get("traceparent") or headers.get("Traceparent")).split("-")[1]
        self.assertNotEqual(own, editor_trace)
        spans = trace_spans(own, 2)
        root = next(s for s in spans if s["name"] == "POST /api/purge")
        self.assertIsNone(root["parent_span_id"])
        self.assertEqual(root["links"], [{"trace_id": editor_trace, "span_id": self.CALLER_SPAN}])
        # The editor's own purge under that trace id: its spans are the only ones there.
        path = new_page()
        status, _, report = reply_headers("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]},
                                          {"Authorization": f"Bearer {CDN.api_token}", "traceparent": tp})
        self.assertEqual((status, report["trace_id"]), (200, editor_trace), report)
        roots = [s for s in trace_spans(editor_trace, 5) if s["parent_span_id"] == self.CALLER_SPAN]
        self.assertEqual([(s["name"], s["attributes"]["http.response.status_code"]) for s in roots],
                         [("POST /api/purge", 200)], "no anonymous span in the editor's trace")
        # A caller's "not sampled" flag does not keep a purge out of the collector.
        unsampled = uuid.uuid4().hex
        status, _, report = reply_headers("POST", "/api/purge", {"urls": [f"https://{SITE}{new_page()}"]},
                                          {"Authorization": f"Bearer {CDN.api_token}",
                                           "traceparent": f"00-{unsampled}-{self.CALLER_SPAN}-00"})
        self.assertEqual((status, report["trace_id"]), (200, unsampled), report)
        self.assertTrue(any(s["name"] == "POST /api/purge" for s in trace_spans(unsampled, 1)))

    def test_a_failing_or_absent_collector_changes_nothing_and_health_says_so(self):
        CDN.otlp_fail(500)
        try:
            path = new_page()
            self.warm(path)
            status, _, report = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]})
            self.assertEqual(status, 200, report)
            self.assertEqual({r["outcome"] for r in report["results"]}, {"purged"})
            deadline = time.monotonic() + 15
            while True:
                _, _, health = api("GET", "/api/health", token=None, content_type=None)
                traces = health.get("traces", {})
                if traces.get("last_ok") is False or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            self.assertEqual(traces.get("last_ok"), False, health)
            self.assertGreaterEqual(traces.get("failed", 0), 1)
            # Why it failed is for authenticated callers only (review 2, finding 6).
            self.assertNotIn("last_error", traces, health)
            _, _, health = api("GET", "/api/health", content_type=None)
            self.assertIn("HTTP 500", health["traces"].get("last_error", ""), health)
        finally:
            CDN.otlp_fail(200)
        CDN._kill("otlp-receiver")
        try:
            path = new_page()
            self.warm(path)
            status, _, report = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]})
            self.assertEqual((status, {r["outcome"] for r in report["results"]}), (200, {"purged"}), report)
        finally:
            CDN.start_otlp()


def deliveries_for(url, status=None):
    query = "?limit=1000" + (f"&status={status}" if status else "")
    code, _, body = api("GET", "/api/deliveries" + query, content_type=None)
    assert code == 200, body
    return [d for d in body["deliveries"] if d["url"] == url]


def workerd_peak_rss_kb():
    """The peak resident memory (VmHWM, kB) of the workerd processes under the local CDN's
    wrangler dev: a figure to print, the process's, not one isolate's."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    todo, peak = [CDN.procs["worker"].pid], 0
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if "Name:\tworkerd" in status:
            peak = max(peak, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)))
    return peak


def wait_for_delivery(test, url, instance, status, timeout=40):
    """Fires the cron trigger until the (url, instance) delivery reaches `status`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        CDN.run_scheduled()
        found = [d for d in deliveries_for(url) if d["instance"] == instance]
        if found and found[0]["status"] == status:
            return found[0]
        time.sleep(1)
    test.fail(f"delivery of {url} to {instance} never became {status}: {deliveries_for(url)}")


class StoreWrites(CdnTestCase):
    """D1 as production meters it: a purge's statements and rows written do not grow with its
    items (the store's own counters, on the purge's trace), the free plan's 50 statements an
    invocation are enough, and old rows are forgotten by the cron."""

    def store_usage(self, trace_id):
        """The store's counters on the purge's root span (set once its entry is completed)."""
        deadline = time.monotonic() + 15
        while True:
            roots = [s for s in trace_spans(trace_id, 1) if s["name"] == "POST /api/purge"]
            if roots or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(len(roots), 1, "the purge's root span")
        attrs = roots[0]["attributes"]
        return attrs["edgepurge.d1.statements"], attrs["edgepurge.d1.rows_written"]

    def purge_wide(self, n):
        paths = [new_page() for _ in range(n)]
        urls = [f"https://{WIDE_SITE}{p}" for p in paths]
        status, _, report = api("POST", "/api/purge", {"urls": urls})
        self.assertEqual(status, 200, report)
        self.assertEqual((report["summary"]["total"], report["summary"]["failed"]), (n * 15, 0), report["summary"])
        self.assertEqual(report["plan"]["instances"], 15)
        entry = completed_entry(self, paths[0])
        self.assertEqual(entry["status"], "purged", entry)
        return urls, report

    def test_a_purge_of_100_urls_to_15_instances_costs_a_handful_of_statements_and_rows(self):
        urls, report = self.purge_wide(100)
        statements, rows = self.store_usage(report["trace_id"])
        print(f"\n  100 URLs x 15 instances: {statements} D1 statements, {rows} rows written", file=sys.stderr)
        # One row per pair was 1,500 statements and 1,500 rows; now the write-ahead batch, the
        # completion batch (the entry, one statement of 15 hourly rollups) and the reads.
        self.assertLessEqual(statements, 10)
        self.assertLessEqual(rows, 50)
        self.assertGreaterEqual(rows, 15, "the counters count: at least the 15 rollups were written")
        # The rollups are what the Instances page reads: each instance's last purge is one of
        # these, and its figures count all hundred.
        status, _, body = api("GET", "/api/instances", content_type=None)
        self.assertEqual(status, 200, body)
        wide = [h for h in body["hosts"] if h["host"] == WIDE_SITE][0]
        last = {e["instance"]: e for e in wide["last"]}
        stats = {s["instance"]: s for s in body["stats"]}
        for inst in CDN.wide_instances:
            self.assertIn(last[inst]["url"], urls, last[inst])
            self.assertEqual(last[inst]["outcome"], "not_cached", last[inst])
            self.assertGreaterEqual(stats[inst]["requests"], 100, stats[inst])
            self.assertIsNotNone(stats[inst]["p95_ms"], stats[inst])

    def test_with_the_free_plans_50_statements_a_15_instance_purge_completes(self):
        CDN.restart_worker(D1_STATEMENT_BUDGET="50")
        try:
            # 20 URLs x 15 instances: 300 pairs, a statement each when results were rows.
            _, report = self.purge_wide(20)
            statements, _ = self.store_usage(report["trace_id"])
            self.assertLessEqual(statements, 50)
            # The cron's pass fits too (its prunes, takeovers and redeliveries): its trace is not
            # failed, and it counted its statements.
            seen = {s["span_id"] for s in CDN.otlp_get("spans") if s["name"] == "redelivery"}
            CDN.run_scheduled()
            deadline = time.monotonic() + 15
            while True:
                runs = [s for s in CDN.otlp_get("spans") if s["name"] == "redelivery" and s["span_id"] not in seen]
                if runs or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual(len(runs), 1)
            self.assertNotEqual(runs[0]["status"]["code"], 2, runs[0]["status"])
            self.assertLessEqual(runs[0]["attributes"]["edgepurge.d1.statements"], 50)
        finally:
            CDN.restart_worker(D1_STATEMENT_BUDGET=None)

    def test_the_cron_forgets_rows_past_the_retention_but_each_instances_last_purge(self):
        # Rows of an entry that exists (deliveries reference it).
        self.assertEqual(api("POST", "/api/purge", {"urls": [f"https://{SITE}{new_page()}"]})[0], 200)
        entry = self.newest_history_id()
        now_hour = int(time.time() // 3600)
        old = now_hour - 24 * 91  # RETENTION_DAYS is 90
        row = "INSERT INTO instance_hours (instance, hour, requests, failed, timed, elapsed_sum, last_purge_id, " \
              "last_at, last_url, last_outcome) VALUES ('{}', {}, 1, 0, 0, 0, " + str(entry) + ", 0, 'https://x/', 'purged')"
        CDN.d1(";".join([row.format("retired:80", old), row.format("retired:80", old - 1),
                         row.format("busy:80", now_hour), row.format("busy:80", old)]))
        delivery = "INSERT INTO deliveries (purge_id, url, instance, status, attempts, first_at, next_at, updated_at) " \
                   "VALUES (" + str(entry) + ", 'https://retention/', '{}', '{}', 1, 0, {}, {})"
        long_ago, not_due = old * 3600 * 1000, (now_hour + 24) * 3600 * 1000
        CDN.d1(";".join([delivery.format("a", "delivered", 0, long_ago), delivery.format("b", "abandoned", 0, long_ago),
                         delivery.format("c", "pending", not_due, long_ago)]))
        CDN.run_scheduled()
        hours = CDN.d1("SELECT instance, hour FROM instance_hours WHERE instance IN ('retired:80', 'busy:80') "
                       "ORDER BY instance, hour")
        # A retired instance keeps its newest row (its last purge); a busy one its recent hour.
        self.assertEqual([(h["instance"], h["hour"]) for h in hours], [("busy:80", now_hour), ("retired:80", old)])
        left = CDN.d1("SELECT instance, status FROM deliveries WHERE url = 'https://retention/'")
        self.assertEqual(left, [{"instance": "c", "status": "pending"}], "a pending delivery is never forgotten")


class Faults(CdnTestCase):
    """Faults against the real instances: kills, silence, refusal, and broken discovery."""

    def test_a_caller_who_hangs_up_mid_purge_still_gets_it_finished_and_queued(self):
        # A live purge whose caller goes away after the first line: the history entry is still
        # completed and the silent instance's delivery still queued, with nobody left to read.
        path = new_page()
        self.warm(path)
        url = f"https://{SITE}{path}"
        CDN.freeze_instance(2)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", CDN.ports.worker, timeout=30)
            conn.request("POST", "/api/purge", body=json.dumps({"urls": [url]}),
                         headers={"Authorization": f"Bearer {CDN.api_token}", "Content-Type": "application/json",
                                  "Accept": "application/x-ndjson"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.readline())["event"], "started")
            conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()
            deadline, entry = time.monotonic() + 40, None
            while time.monotonic() < deadline:
                status, _, page = api("GET", "/api/history?" + urllib.parse.urlencode({"url": path, "limit": 5}),
                                      content_type=None)
                self.assertEqual(status, 200, page)
                entry = page["entries"][0] if page["entries"] else None
                if entry and entry["status"] != "running":
                    break
                time.sleep(0.5)
            self.assertIsNotNone(entry)
            self.assertEqual(entry["status"], "partial", entry)
            queued = [d for d in deliveries_for(url) if d["instance"] == CDN.instances[2]]
            self.assertEqual([d["status"] for d in queued], ["pending"], deliveries_for(url))
        finally:
            CDN.thaw_instance(2)

    def test_instance_killed_during_a_purge_is_redelivered_when_it_comes_back(self):
        # /slow/ PURGEs take 1.5 s on the demo VCL: time to kill the instance mid-purge.
        path = "/slow" + new_page()
        self.warm(path)
        url = f"https://{SITE}{path}"
        victim = CDN.instances[0]
        result = {}
        purge = threading.Thread(target=lambda: result.update(r=api("POST", "/api/purge", {"urls": [url]})))
        purge.start()
        time.sleep(0.6)
        CDN.stop_instance(0)
        purge.join(60)
        status, _, report = result["r"]
        self.assertEqual(status, 207, report)
        rows = {r["instance"]: r for r in report["results"]}
        self.assertEqual(rows[victim]["outcome"], "failed", rows[victim])
        self.assertTrue(rows[victim]["pending"])
        for inst in CDN.instances[1:]:
            self.assertEqual(rows[inst]["outcome"], "purged", rows[inst])
            self.assertIn("fwd=uri-miss", fetch(inst, path)[0])
        [pending] = deliveries_for(url, "pending")
        self.assertEqual(pending["instance"], victim)

        # It comes back (empty, as a restarted cache is); the background redelivery succeeds.
        CDN.start_instance(0)
        delivered = wait_for_delivery(self, url, victim, "delivered")
        self.assertGreaterEqual(delivered["attempts"], 1)
        self.assertIn("fwd=uri-miss", fetch(victim, path)[0])
        # The cron run that delivered it is a trace of its own: a redelivery span over the PURGE.
        deadline, purged = time.monotonic() + 15, []
        while not purged and time.monotonic() < deadline:
            spans = CDN.otlp_get("spans")
            runs = {s["trace_id"] for s in spans if s["name"] == "redelivery"}
            purged = [s for s in spans if s["trace_id"] in runs and s["name"] == "PURGE"
                      and s["attributes"].get("edgepurge.item") == url
                      # not_cached: the instance came back empty, as a restarted cache does.
                      and s["attributes"].get("edgepurge.outcome") in ("purged", "not_cached")]
            time.sleep(0.3)
        self.assertTrue(purged, "no redelivery trace with this URL's PURGE")
        self.assertEqual(purged[0]["attributes"]["http.request.method"], "PURGE")

    def test_a_purge_cut_off_by_a_killed_worker_is_taken_over_by_the_cron(self):
        # One instance frozen holds the fan-out mid-flight; the worker is killed (SIGKILL) as a
        # deploy or an eviction would, and started again on the same local D1. Its entry stays
        # `running` past its lease, and the cron runs the purge again and completes it.
        paths = [new_page(), new_page()]
        old = {p: self.warm(p) for p in paths}
        urls = [f"https://{SITE}{p}" for p in paths]
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        CDN.freeze_instance(0)
        killed = False
        try:
            cut = {}

            def purge():
                try:
                    cut["reply"] = api("POST", "/api/purge", {"urls": urls})
                except OSError as e:  # the worker dies under it
                    cut["error"] = e
            call = threading.Thread(target=purge, daemon=True)
            call.start()
            # The live instances have their PURGEs (each a request); the frozen one holds the rest.
            self.assertEqual(counter_deltas("MAIN.client_req", before, [0, 2, 2], timeout=10)[1:], [2, 2])
            status, _, page = api("GET", "/api/history?" + urllib.parse.urlencode({"url": paths[0]}),
                                  content_type=None)
            self.assertEqual([e["status"] for e in page["entries"]], ["running"], page)
            CDN.kill_worker()
            killed = True
            call.join(30)
            self.assertIn("error", cut, "the caller's connection died with the worker")
        finally:
            CDN.thaw_instance(0)
            if killed:
                CDN.restart_worker()
        # Nothing completed it: still running, until the cron takes it over past its lease.
        status, _, page = api("GET", "/api/history?" + urllib.parse.urlencode({"url": paths[0]}), content_type=None)
        self.assertEqual([e["status"] for e in page["entries"]], ["running"], page)
        deadline, entry = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            CDN.run_scheduled()
            entry = completed_entry(self, paths[0], timeout=0)
            if entry["status"] != "running":
                break
            time.sleep(1)
        self.assertEqual((entry["status"], entry.get("recovered")), ("purged", True), entry)
        self.assertEqual(sorted((r["url"], r["instance"]) for r in entry["results"]),
                         sorted((u, i) for u in urls for i in CDN.instances))
        # Every instance, the one frozen during the cut-off purge included, serves a new copy.
        for inst in CDN.instances:
            for p in paths:
                status, body = fetch(inst, p)
                self.assertNotEqual(body, old[p][inst], (inst, p, status))

    def test_what_is_unanswered_at_the_platform_deadline_is_queued_and_the_cron_delivers_it(self):
        # The platform allows a fan-out so long (about 30 s for wait_until work on Workers): made
        # short here, the frozen instance, which would take longer, is given up at the deadline,
        # reported pending and queued, never cut off silently; thawed, the cron delivers it.
        CDN.restart_worker(FAN_OUT_DEADLINE_MS="1000")
        try:
            path = new_page()
            self.warm(path)
            url = f"https://{SITE}{path}"
            CDN.freeze_instance(0)
            try:
                started = time.monotonic()
                status, _, report = api("POST", "/api/purge", {"urls": [url]})
                took = time.monotonic() - started
            finally:
                CDN.thaw_instance(0)
            self.assertEqual(status, 207, report)
            self.assertLess(took, 1.9, "given up at the deadline, before the instance's own 2 s timeout")
            rows = {r["instance"]: r for r in report["results"]}
            slow = rows[CDN.instances[0]]
            self.assertEqual((slow["outcome"], slow["pending"], slow["retryable"]), ("failed", True, True), slow)
            self.assertIn("FAN_OUT_DEADLINE_MS", slow["error"])
            for inst in CDN.instances[1:]:
                self.assertEqual(rows[inst]["outcome"], "purged", rows[inst])
            self.assertEqual([d["instance"] for d in deliveries_for(url, "pending")], [CDN.instances[0]])
            wait_for_delivery(self, url, CDN.instances[0], "delivered")
            self.assertIn("fwd=uri-miss", fetch(CDN.instances[0], path)[0])
        finally:
            CDN.restart_worker(FAN_OUT_DEADLINE_MS=None)

    def test_silent_instance_times_out_and_wrong_token_is_a_rejection(self):
        path = new_page()
        self.warm(path)
        url = f"https://{SITE}{path}"
        CDN.start_faults()
        try:
            status, _, report = api("POST", "/api/purge", {"urls": [url]})
        finally:
            CDN.stop_faults()
        self.assertEqual(status, 207, report)
        rows = {r["instance"]: r for r in report["results"]}
        silent = rows[f"{BLACKHOLE_IP}:{TEST_PORTS.varnish}"]
        self.assertEqual((silent["outcome"], silent["attempts"], silent["pending"]), ("failed", 3, True), silent)
        self.assertIn("no answer within 2000 ms", silent["error"])
        refused = rows[f"{WRONG_TOKEN_IP}:{TEST_PORTS.varnish}"]
        self.assertEqual((refused["outcome"], refused["http_status"], refused["attempts"]), ("rejected", 401, 1), refused)
        self.assertIn("PURGE_TOKEN", refused["error"])
        self.assertNotIn("pending", refused, "a 401 is a configuration fault: not retried, not queued")
        for inst in CDN.instances:
            self.assertEqual(rows[inst]["outcome"], "purged")
            self.assertIn("fwd=uri-miss", fetch(inst, path)[0])
        # The silent instance has left DNS since: its pending delivery is abandoned, with the reason.
        abandoned = wait_for_delivery(self, url, f"{BLACKHOLE_IP}:{TEST_PORTS.varnish}", "abandoned")
        self.assertIn("no longer in discovery", abandoned["last_error"])

    def test_broken_discovery_is_a_problem_naming_it_and_purges_nothing(self):
        # (what breaks, break it, mend it, status, problem type, words in the detail)
        cases = [
            ("DoH server down", CDN.stop_doh, CDN.start_doh, 503, "discovery-unavailable", "DoH server unreachable"),
            ("DoH answers junk", CDN.start_garbage_doh, CDN.stop_garbage_doh, 502, "discovery-failed", "malformed DNS answer"),
        ]
        for name, break_it, mend_it, want, kind, words in cases:
            with self.subTest(name):
                path = new_page()
                self.warm(path)
                break_it()
                try:
                    status, ctype, body = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]})
                finally:
                    mend_it()
                self.assert_problem(status, ctype, body, want)
                self.assertEqual(body["type"], f"urn:edgepurge:problem:{kind}")
                self.assertEqual(body["source"], "discovery")
                self.assertIn("instances.edgepurge.test", body["detail"])
                self.assertIn(words, body["detail"])
                self.assert_all_hits(path)

class RoutesAndRules(CdnTestCase):
    """Issue 22: one route table, and the rules the core now decides, as the worker serves them."""

    def raw(self, method, path, headers=None):
        """(status, headers, body bytes) of a request with no body."""
        req = urllib.request.Request(CDN.api + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def test_a_doubled_prefix_or_an_empty_segment_is_no_route(self):
        for path in ["/api//api/health", "/api//health", "/api/people//tokens", "/service//purge"]:
            with self.subTest(path):
                status, headers, body = self.raw("GET", path)
                self.assertEqual(status, 404, body)
                self.assertEqual(json.loads(body)["type"], "urn:edgepurge:problem:not-found")
        self.assertEqual(self.raw("GET", "/api/health")[0], 200)

    def test_head_health_is_served_and_another_method_is_a_405_naming_both(self):
        status, _, body = self.raw("HEAD", "/api/health")
        self.assertEqual((status, body), (200, b""))
        for method in ["PUT", "OPTIONS", "PURGE"]:
            with self.subTest(method):
                status, headers, body = self.raw(method, "/api/health")
                self.assertEqual(status, 405, body)
                self.assertEqual(headers.get("Allow"), "GET, HEAD")

    def test_an_unknown_fastly_path_is_a_404_before_anything_is_read_or_sent(self):
        before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
        newest = self.newest_history_id()
        req = urllib.request.Request(CDN.api + "/service/x/bogus", method="POST",
                                     headers={"Fastly-Key": CDN.api_token})
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=30)
        self.assertEqual(refused.exception.code, 404)
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        self.assertEqual(self.newest_history_id(), newest, "a path no route has is not a purge attempt")

    def test_an_access_key_set_that_cannot_be_fetched_is_a_503_naming_it_not_a_401(self):
        # Nothing listens on port 9 of loopback: the team's key set cannot be fetched.
        certs = "http://127.0.0.1:9/cdn-cgi/access/certs"
        CDN.restart_worker(ACCESS_TEAM_DOMAIN="edgepurge-e2e.cloudflareaccess.com", ACCESS_AUD="e2e-aud",
                           ACCESS_CERTS_URL=certs)
        try:
            b64 = lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).rstrip(b"=").decode()
            jwt = ".".join([b64({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
                            b64({"email": "edna@example.com"}), "c2ln"])
            before = [CDN.counter(i, "MAIN.client_req") for i in range(3)]
            for attempt in range(2):
                status, ctype, problem = api("POST", "/api/purge", {"urls": [f"https://{SITE}/"]}, token=None,
                                             headers={"Cf-Access-Jwt-Assertion": jwt})
                with self.subTest(attempt=attempt):
                    self.assert_problem(status, ctype, problem, 503)
                    self.assertEqual(problem["type"], "urn:edgepurge:problem:access-unavailable")
                    self.assertEqual(problem.get("subject"), certs)
                    self.assertTrue(problem["retryable"])
            self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
            # A token still works meanwhile: only Access depends on the key set.
            self.assertEqual(api("GET", "/api/me", content_type=None)[0], 200)
        finally:
            CDN.restart_worker(ACCESS_TEAM_DOMAIN=None, ACCESS_AUD=None, ACCESS_CERTS_URL=None)


# ---- several layers: the upstream worker plays the Fastly service and the Cloudflare zones ----

FASTLY = f"fastly:{FASTLY_SERVICE}"
CF_LAYERS = f"cloudflare:{LAYERS_ZONE}"
CF_EDGE = f"cloudflare:{EDGE_ZONE}"
# The routes the upstream worker's spans name, for the calls the main worker makes to it.
FASTLY_URL_ROUTE = "/purge/{host}/{path}"
FASTLY_KEYS_ROUTE = "/service/{service_id}/purge"
CLOUDFLARE_ROUTE = "/client/v4/zones/{zone_id}/purge_cache"


def upstream(method, path, body=None, **kwargs):
    """Calls the upstream worker's API, with its own token unless `token` says otherwise."""
    kwargs.setdefault("token", CDN.upstream_token)
    return api(method, path, body, base=CDN.upstream_api, **kwargs)


def upstream_calls(text, want, timeout=15.0):
    """The upstream worker's history entries whose items contain `text`, oldest first, each with
    the route it came in by (`http.route` of its root span, which names its entry, in the same
    OTLP receiver), once there are `want` of them each with its route (or at the timeout):
    [(route or None, entry)]."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, page = upstream("GET", "/api/history?" + urllib.parse.urlencode({"url": text, "limit": 100}),
                                   content_type=None)
        assert status == 200, page
        routes = {s["attributes"]["edgepurge.entry"]: s["attributes"].get("http.route")
                  for s in CDN.otlp_get("spans")
                  if s["service"] == CDN.upstream_service_name and "edgepurge.entry" in s["attributes"]}
        calls = [(routes.get(e["id"]), e) for e in reversed(page["entries"])]
        if (len(calls) >= want and all(route for route, _ in calls)) or time.monotonic() > deadline:
            return calls
        time.sleep(0.2)


def upstream_newest_id():
    status, _, page = upstream("GET", "/api/history?limit=1", content_type=None)
    assert status == 200, page
    return page["entries"][0]["id"] if page["entries"] else 0


def keys_of(entry):
    """The surrogate keys a history entry's items name (`key:<key>@<host>`, soft ones too)."""
    return {re.match(r"(?:soft-)?key:(.+)@[^@]+$", label).group(1) for label in entry["urls"]}


def every_request_counter():
    """MAIN.client_req of every varnishd a layered purge could reach: the app group's, the
    layered sites' own and the upstream worker's, by group."""
    groups = {"varnish": len(CDN.instances), "layers": len(CDN.layers_instances),
              "edge-site": len(CDN.edge_instances), "upstream": len(CDN.upstream_instances)}
    return {g: [CDN.counter(i, "MAIN.client_req", g) for i in range(n)] for g, n in groups.items()}


def read_chunked(rfile):
    body = b""
    while True:
        size = int(rfile.readline().split(b";")[0].strip(), 16)
        chunk = rfile.read(size + 2)[:size]
        if size == 0:
            return body
        body += chunk


class ThrottlingProxy:
    """A loopback HTTP proxy in front of the upstream worker: its first request is answered
    `429 Too Many Requests` with `Retry-After: <retry_after>` (in Fastly's error form), every
    later one is forwarded as it came. `seen` keeps each request (method, path, headers)."""

    def __init__(self, target_port, retry_after="2"):
        self.target_port, self.retry_after = target_port, retry_after
        self.seen, self.lock = [], threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                proxy.handle(self)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h):
        if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
            body = read_chunked(h.rfile)
        else:
            body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        with self.lock:
            self.seen.append({"method": h.command, "path": h.path,
                              "headers": {k.lower(): v for k, v in h.headers.items()}})
            first = len(self.seen) == 1
        if first:
            reply = json.dumps({"msg": "Rate limit exceeded", "detail": "too many purges (test proxy)"}).encode()
            h.send_response(429)
            h.send_header("Retry-After", self.retry_after)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(reply)))
            h.end_headers()
            h.wfile.write(reply)
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=60)
        try:
            headers = {k: v for k, v in h.headers.items()
                       if k.lower() not in ("host", "connection", "content-length", "transfer-encoding")}
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "content-length", "transfer-encoding", "keep-alive"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


class UpstreamLayers(CdnTestCase):
    """Issue 23: one purge for every layer. The layered sites have their own varnishd in this CDN
    and, in front, a Fastly service and Cloudflare zones that a second edgepurge worker (the
    "upstream", its own D1 and token) plays through its Fastly- and Cloudflare-compatible
    endpoints, purging its own varnishd: FASTLY_API_URL and CLOUDFLARE_API_URL are its address.
    LAYERS_SITE: own group + fastly:<service> + cloudflare:<zone>; EDGE_SITE: own group +
    cloudflare:<another zone>."""

    def warm_layers(self, path, host=LAYERS_SITE):
        """Caches `path` of `host` on its own instances here and on the upstream's varnishd for
        it (through the upstream host, as a visitor of the upstream CDN would); returns the
        bodies by instance."""
        own = CDN.layers_instances if host == LAYERS_SITE else CDN.edge_instances
        theirs = CDN.upstream_instances[:1] if host == LAYERS_SITE else CDN.upstream_instances[1:]
        return self.warm(path, host, own + theirs)

    def test_one_url_purge_reaches_the_varnishd_group_the_fastly_service_and_the_cloudflare_zone(self):
        path = new_page()
        url = f"https://{LAYERS_SITE}{path}"
        before = self.warm_layers(path)
        status, _, report = api("POST", "/api/purge", {"urls": [url]})
        self.assertEqual(status, 200, report)
        self.assertEqual(report["status"], "purged", report)
        # One row per instance of its own group, and one per upstream group, named by it.
        self.assertEqual(sorted(r["instance"] for r in report["results"]),
                         sorted(CDN.layers_instances + [FASTLY, CF_LAYERS]), report["results"])
        for row in report["results"]:
            with self.subTest(row["instance"]):
                self.assertEqual((row["url"], row["outcome"]), (url, "purged"), row)
                if row["instance"] in (FASTLY, CF_LAYERS):
                    self.assertTrue(row.get("upstream_id"), f"the vendor's purge id in the row: {row}")
        # Every copy is gone: the own instances' and the upstream CDN's.
        for inst in CDN.layers_instances + CDN.upstream_instances[:1]:
            cache_status, body = fetch(inst, path, LAYERS_SITE)
            self.assertIn("fwd=uri-miss", cache_status, inst)
            self.assertNotEqual(body, before[inst], f"{inst} served the old copy")
        # The upstream got one call by Fastly's API and one by Cloudflare's, each for this URL.
        calls = upstream_calls(path, 2)
        self.assertEqual(sorted(route or "?" for route, _ in calls), sorted([FASTLY_URL_ROUTE, CLOUDFLARE_ROUTE]),
                         [(route, e["urls"], e["status"]) for route, e in calls])
        for route, entry in calls:
            self.assertEqual(entry["urls"], [url], route)

    def test_several_keys_reach_fastly_in_one_batched_call(self):
        batch = f"k{uuid.uuid4().hex[:8]}"
        keys = [f"{batch}a", f"{batch}b", f"{batch}c"]
        pages = [f"/tagged/{k}/p" for k in keys]
        for p in pages:
            self.warm_layers(p)
        status, _, report = api("POST", "/api/purge", {"keys": keys})
        self.assertEqual(status, 200, report)
        by_group = {}
        for row in report["results"]:
            by_group.setdefault(row["instance"], []).append(row)
        for group, host in ((FASTLY, LAYERS_SITE), (CF_LAYERS, LAYERS_SITE), (CF_EDGE, EDGE_SITE)):
            with self.subTest(group):
                rows = by_group.get(group, [])
                self.assertEqual(sorted(r["url"] for r in rows), sorted(f"key:{k}@{host}" for k in keys), rows)
                self.assertEqual({r["outcome"] for r in rows}, {"purged"}, rows)
        # One Fastly call for the three keys: its answer gave them all the same purge id.
        fastly_ids = {r.get("upstream_id") for r in by_group.get(FASTLY, [])}
        self.assertEqual(len(fastly_ids), 1, by_group.get(FASTLY))
        self.assertIsNotNone(fastly_ids.pop())
        # As the upstream saw it: one call by Fastly's batch route (Surrogate-Key) holding every
        # key, and one purge_cache call (tags) per zone, each with every key too.
        calls = upstream_calls(batch, 3)
        self.assertEqual(sorted(route or "?" for route, _ in calls),
                         sorted([FASTLY_KEYS_ROUTE, CLOUDFLARE_ROUTE, CLOUDFLARE_ROUTE]),
                         [(route, e["urls"]) for route, e in calls])
        for route, entry in calls:
            self.assertEqual(keys_of(entry), set(keys), (route, entry["urls"]))
        # And every tagged page is gone, here and on the upstream's varnishd.
        for inst in CDN.layers_instances + CDN.upstream_instances[:1]:
            for p in pages:
                self.assertIn("fwd=uri-miss", fetch(inst, p, LAYERS_SITE)[0], (inst, p))

    def test_a_prefix_reaches_cloudflare_and_is_refused_for_fastly_before_anything_is_sent(self):
        section = f"/p{uuid.uuid4().hex[:8]}"
        inside, outside = [f"{section}/a", f"{section}/b/c"], [f"{section}x/a"]
        edge_all = CDN.edge_instances + CDN.upstream_instances[1:]
        for p in inside + outside:
            self.warm_layers(p, EDGE_SITE)
        prefix = f"https://{EDGE_SITE}{section}/"
        status, _, report = api("POST", "/api/purge", {"prefixes": [prefix]})
        self.assertEqual(status, 200, report)
        self.assertEqual(sorted(r["instance"] for r in report["results"]), sorted(CDN.edge_instances + [CF_EDGE]),
                         report["results"])
        self.assertEqual({r["outcome"] for r in report["results"]}, {"purged"}, report["results"])
        for inst in edge_all:
            for p in inside:
                self.assertIn("fwd=uri-miss", fetch(inst, p, EDGE_SITE)[0], (inst, p))
        for p in outside:
            self.assert_all_hits(p, EDGE_SITE, edge_all)
        calls = upstream_calls(section, 1)
        self.assertEqual([(route, e["urls"]) for route, e in calls], [(CLOUDFLARE_ROUTE, [f"prefix:{prefix}"])])

        # The layers host has a Fastly service in front, and Fastly has no prefix purge (and no
        # host purge without `:whole-host`): refused, naming the group, and nothing is sent to
        # any instance, nor to the Fastly service or either zone.
        other = f"/p{uuid.uuid4().hex[:8]}"
        self.warm_layers(f"{other}/a")
        newest = upstream_newest_id()
        before = every_request_counter()
        cases = [
            ("prefix", {"prefixes": [f"https://{LAYERS_SITE}{other}/"]}),
            ("host", {"hosts": [LAYERS_SITE]}),
            ("prefix beside one Cloudflare can do", {"prefixes": [f"https://{EDGE_SITE}{other}/",
                                                                  f"https://{LAYERS_SITE}{other}/"]}),
        ]
        for name, body in cases:
            with self.subTest(name):
                status, ctype, problem = api("POST", "/api/purge", body)
                self.assert_problem(status, ctype, problem, 400)
                self.assertIn(FASTLY, problem["detail"])
                self.assertIn(name.split()[0], problem["detail"])
        time.sleep(1.0)
        self.assertEqual(every_request_counter(), before, "no request reached any varnishd")
        self.assertEqual(upstream_newest_id(), newest, "no call reached the Fastly service or a zone")
        self.assert_all_hits(f"{other}/a", LAYERS_SITE, CDN.layers_instances + CDN.upstream_instances[:1])

    def test_a_429_with_retry_after_is_queued_and_the_cron_delivers_it_then(self):
        path = new_page()
        url = f"https://{LAYERS_SITE}{path}"
        self.warm_layers(path)
        with ThrottlingProxy(CDN.ports.upstream, retry_after="2") as proxy:
            # Fastly's API through the proxy; a short ordinary backoff (at most 0.5 s), so a
            # delivery due only after 2 s is the Retry-After's doing.
            CDN.restart_worker(FASTLY_API_URL=proxy.url, REDELIVERY_BASE_MS="500")
            try:
                status, _, report = api("POST", "/api/purge", {"urls": [url]})
                self.assertEqual(status, 207, report)
                rows = {r["instance"]: r for r in report["results"]}
                self.assertEqual(sorted(rows), sorted(CDN.layers_instances + [FASTLY, CF_LAYERS]))
                throttled = rows[FASTLY]
                self.assertEqual((throttled["outcome"], throttled["retryable"], throttled.get("pending")),
                                 ("failed", True, True), throttled)
                self.assertEqual(throttled.get("retry_after_secs"), 2, throttled)
                self.assertIn("429", throttled.get("error", ""), throttled)
                for inst in CDN.layers_instances + [CF_LAYERS]:
                    self.assertEqual(rows[inst]["outcome"], "purged", rows[inst])
                # The zone's call has purged the upstream's copy already: cached again, so what
                # the Fastly call does (or does not do) shows on it.
                upstream_layers = CDN.upstream_instances[0]
                self.assertIn("fwd=uri-miss", fetch(upstream_layers, path, LAYERS_SITE)[0])
                self.assertTrue(is_hit(fetch(upstream_layers, path, LAYERS_SITE)[0]))
                # One call, as Fastly documents it, and no retry inline after the 429.
                self.assertEqual(len(proxy.seen), 1, proxy.seen)
                call = proxy.seen[0]
                self.assertEqual((call["method"], call["path"]), ("POST", f"/purge/{LAYERS_SITE}{path}"))
                self.assertEqual(call["headers"].get("fastly-key"), CDN.upstream_token)
                self.assertNotIn("fastly-soft-purge", call["headers"])
                # Queued for redelivery at the time the 429 named.
                deadline = time.monotonic() + 10
                while not (queued := [d for d in deliveries_for(url) if d["instance"] == FASTLY]):
                    self.assertLess(time.monotonic(), deadline, deliveries_for(url))
                    time.sleep(0.05)
                [queued] = queued
                self.assertEqual(queued["status"], "pending", queued)
                self.assertTrue(1900 <= queued["next_at"] - queued["first_at"] <= 4000, queued)
                # The cron right away: not due yet, so nothing is sent.
                CDN.run_scheduled()
                ran_at_ms = time.time() * 1000
                self.assertLess(ran_at_ms, queued["next_at"], "the cron ran too late to show it waits")
                [still] = [d for d in deliveries_for(url) if d["instance"] == FASTLY]
                self.assertEqual((still["status"], still["attempts"]), ("pending", 0), still)
                self.assertEqual(len(proxy.seen), 1, "the cron called Fastly before Retry-After")
                self.assertTrue(is_hit(fetch(upstream_layers, path, LAYERS_SITE)[0]))
                # Once due (about 2 s after the 429), the cron delivers it, through to the upstream.
                time.sleep(max(0.0, (queued["next_at"] + 300 - time.time() * 1000) / 1000))
                delivered = wait_for_delivery(self, url, FASTLY, "delivered", timeout=10)
                self.assertEqual(delivered["attempts"], 1, delivered)
                self.assertEqual(len(proxy.seen), 2, proxy.seen)
                self.assertEqual(proxy.seen[1]["path"], f"/purge/{LAYERS_SITE}{path}")
                self.assertIn("fwd=uri-miss", fetch(upstream_layers, path, LAYERS_SITE)[0])
            finally:
                CDN.restart_worker(FASTLY_API_URL=None, REDELIVERY_BASE_MS=None)

    def test_a_refused_token_is_a_rejected_row_with_the_vendors_message_and_is_never_shown(self):
        path = new_page()
        url = f"https://{LAYERS_SITE}{path}"
        self.warm_layers(path)
        wrong = "ep_wrong_fastly_" + uuid.uuid4().hex
        # What the upstream says to that token, asked directly.
        req = urllib.request.Request(f"{CDN.upstream_api}/purge/{LAYERS_SITE}/probe-{uuid.uuid4().hex}", data=b"",
                                     method="POST", headers={"Fastly-Key": wrong, "Accept": "application/json"})
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=30)
        self.assertEqual(refused.exception.code, 401)
        said = json.loads(refused.exception.read())
        CDN.restart_worker(FASTLY_API_TOKEN=wrong)
        try:
            status, _, report = api("POST", "/api/purge", {"urls": [url]})
            self.assertEqual(status, 207, report)
            rows = {r["instance"]: r for r in report["results"]}
            self.assertEqual(sorted(rows), sorted(CDN.layers_instances + [FASTLY, CF_LAYERS]))
            row = rows[FASTLY]
            self.assertEqual(row["outcome"], "rejected", row)
            self.assertNotIn("pending", row, "a refused token is a configuration fault: not queued")
            self.assertIn("401", row.get("error", ""), row)
            self.assertIn(said["detail"][:100], row.get("error", ""), (said, row))
            for inst in CDN.layers_instances + [CF_LAYERS]:
                self.assertEqual(rows[inst]["outcome"], "purged", rows[inst])
            entry = completed_entry(self, path)
            spans = trace_spans(report["trace_id"], 1)
            self.assertTrue(any(s["name"] == "POST /api/purge" for s in spans), spans)
            # The token is nowhere: not in the report, the history, the deliveries, the spans
            # (both workers'), nor the workers' logs.
            _, _, history = api("GET", "/api/history?limit=100", content_type=None)
            _, _, deliveries = api("GET", "/api/deliveries?limit=1000", content_type=None)
            time.sleep(1.0)  # the last spans and log lines of this purge
            places = {"report": json.dumps(report), "history entry": json.dumps(entry),
                      "history": json.dumps(history), "deliveries": json.dumps(deliveries),
                      "spans": json.dumps(CDN.otlp_get("spans")),
                      "worker log": (CDN.state / "logs" / "worker.log").read_text(errors="replace"),
                      "upstream worker log": (CDN.state / "logs" / "upstream.log").read_text(errors="replace")}
            for place, text in places.items():
                with self.subTest(place):
                    self.assertNotIn(wrong, text)
                    self.assertNotIn(CDN.upstream_token, text)
        finally:
            CDN.restart_worker(FASTLY_API_TOKEN=None)


if __name__ == "__main__":
    unittest.main()
