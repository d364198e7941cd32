"""End-to-end: the `edgepurge` command-line tool (crates/edgepurge-cli) against the real local CDN.

The binary is the one `cargo build -p edgepurge-cli` leaves in target/debug (scripts/test builds it
before this step). It runs as a CI job would: settings from EDGEPURGE_URL and EDGEPURGE_TOKEN, its
exit status read; once on a pseudo-terminal, as a person would.

Run: python3 -m unittest -v test_cli   (from tests/e2e, after `source scripts/env.sh`)
"""
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
import urllib.parse
import uuid
from pathlib import Path

import test_purge
from test_purge import (  # noqa: F401  (setUpModule starts the shared local CDN)
    SITE, CdnTestCase, api, counter_deltas, fetch, new_page, setUpModule, wait_for_delivery,
)

BIN = Path(__file__).resolve().parents[2] / "target" / "debug" / "edgepurge"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]")


def cli_env(token="default"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEPURGE_")}
    env["EDGEPURGE_URL"] = test_purge.CDN.api
    env["EDGEPURGE_TOKEN"] = test_purge.CDN.api_token if token == "default" else token
    return env


def cli(*args, token="default", timeout=120):
    """Runs the tool off a terminal; returns (exit status, stdout, stderr)."""
    done = subprocess.run([str(BIN), *args], env=cli_env(token), capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def cli_on_a_terminal(*args, timeout=120):
    """Runs the tool with its stdout and stderr on a 200-column pseudo-terminal; returns (exit
    status, every byte it wrote there, decoded)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = cli_env()
    env["TERM"] = "xterm"
    proc = subprocess.Popen([str(BIN), *args], env=env, stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    raw = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the tool has exited and the terminal is closed
                    break
                if not chunk:
                    break
                raw += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    return code, raw.decode("utf-8", "replace")


def screen_text(raw):
    """What was drawn, escape sequences dropped. indicatif pads each line to the terminal's width
    and lets the terminal wrap it, rather than ending it: lines are found by their text."""
    return ANSI.sub("", raw).replace("\r", "")


def history_entries(path, count, timeout=10.0):
    """The history entries of `path` once `count` of them are completed (a purge's entry is
    completed just after its reply)."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, page = api("GET", "/api/history?url=" + urllib.parse.quote(path), content_type=None)
        assert status == 200, page
        done = [e for e in page["entries"] if e["status"] != "running"]
        if len(done) >= count or time.monotonic() > deadline:
            return page["entries"]
        time.sleep(0.1)


class CommandLine(CdnTestCase):
    @classmethod
    def setUpClass(cls):
        if not BIN.exists():
            raise AssertionError(f"{BIN} is missing: cargo build -p edgepurge-cli first")

    def instance_lines(self, out, path):
        """The result lines of `path`'s purge, by instance."""
        rows = {}
        for line in out.splitlines():
            if line.endswith(path) or f"{path}  (" in line:
                outcome, instance = line.split()[:2]
                rows[instance] = (outcome, line)
        return rows

    def test_a_purge_exits_0_every_instance_serves_a_fresh_copy_and_verify_and_history_agree(self):
        path = new_page()
        url = f"https://{SITE}{path}"
        before = self.warm(path)
        code, out, err = cli("purge", url)
        self.assertEqual(code, 0, (out, err))
        rows = self.instance_lines(out, path)
        self.assertEqual(set(rows), set(test_purge.CDN.instances), out)
        for instance, (outcome, line) in rows.items():
            self.assertEqual(outcome, "purged", line)
            self.assertIn("HTTP 200", line)
        summary = out.strip().splitlines()[-1]
        self.assertTrue(summary.startswith("All purged: 3 purged, 0 not cached, 0 rejected, 0 failed"), summary)
        for inst in test_purge.CDN.instances:
            cache_status, body = fetch(inst, path)
            self.assertIn("fwd=uri-miss", cache_status, inst)
            self.assertNotEqual(body, before[inst], f"{inst} served the old copy")
        # Each instance holds the new copy now: verify sees hits, which is not "fresh everywhere".
        code, out, err = cli("verify", url)
        self.assertEqual(code, 2, (out, err))
        self.assertTrue(out.strip().splitlines()[-1].startswith("Not fresh everywhere: 3 instances, 0 miss, 3 hit"), out)
        # Right after a purge, every instance goes to the origin: exit 0, a miss on each line.
        code, out, err = cli("purge", url)
        self.assertEqual(code, 0, (out, err))
        code, out, err = cli("verify", url)
        self.assertEqual(code, 0, (out, err))
        for inst in test_purge.CDN.instances:
            self.assertRegex(out, rf"(?m)^{re.escape(inst)} +miss \(fwd=uri-miss\)")
        self.assertIn("Fresh everywhere: 3 instances, 3 miss, 0 hit, 0 without a verdict", out)
        code, out, err = cli("verify", url, "--json")
        self.assertEqual(code, 2, "the HEADs of the last verify stored a copy on each")
        report = json.loads(out)
        self.assertEqual(report["url"], url)
        self.assertEqual({r["instance"]: r["hit"] for r in report["results"]}, {i: True for i in test_purge.CDN.instances})
        # The history has both purges, as the API lists them.
        entries = history_entries(path, 2)
        code, out, err = cli("history", "--url", path, "--limit", "5")
        self.assertEqual(code, 0, (out, err))
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 2, out)
        for line, entry in zip(lines, entries):
            self.assertTrue(line.startswith(f"#{entry['id']} "), (line, entry))
            self.assertRegex(line, rf"\bpurged +200 +admin \[API_TOKENS\] +{re.escape(url)}$")
        code, out, err = cli("history", "--url", path, "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual([e["id"] for e in json.loads(out)["entries"]], [e["id"] for e in entries])

    def test_json_prints_the_report_the_history_keeps(self):
        path = new_page()
        url = f"https://{SITE}{path}"
        self.warm(path)
        code, out, err = cli("purge", url, "--confirm", "--json")
        self.assertEqual(code, 0, (out, err))
        report = json.loads(out)  # stdout holds the report and nothing else
        self.assertEqual(report["status"], "purged")
        self.assertEqual(report["summary"]["purged"], 3)
        self.assertEqual(sorted(r["instance"] for r in report["results"]), sorted(test_purge.CDN.instances))
        for row in report["results"]:
            self.assertEqual((row["url"], row["outcome"], row["confirm"]["fresh"]), (url, "purged", True), row)
        self.assertIn("All purged: 3 purged", err)
        [entry] = history_entries(path, 1)
        self.assertEqual(entry["trace_id"], report["trace_id"])
        rows = lambda rs: sorted((r["url"], r["instance"], r["outcome"]) for r in rs)  # noqa: E731
        self.assertEqual(rows(entry["results"]), rows(report["results"]))
        # The read commands print the API's reply as it came.
        for args, path_ in ((["instances"], "/api/instances"), (["deliveries", "--limit", "5"], "/api/deliveries?limit=5")):
            with self.subTest(args[0]):
                code, out, err = cli(*args, "--json")
                status, _, direct = api("GET", path_, content_type=None)
                self.assertEqual(status, 200, direct)
                mine = json.loads(out)
                if args[0] == "instances":
                    self.assertEqual(code, 2 if any("error" in h for h in direct["hosts"]) else 0, err)
                    self.assertEqual(mine["hosts"], direct["hosts"])
                else:
                    self.assertEqual(code, 0, err)
                    self.assertEqual(set(mine), set(direct))
        code, out, err = cli("instances")
        self.assertIn(f"{SITE}  ", out)
        for inst in test_purge.CDN.instances:
            self.assertRegex(out, rf"(?m)^  {re.escape(inst)}\b")

    def test_a_partial_purge_exits_2_and_its_redelivery_shows_in_deliveries(self):
        path = new_page()
        url = f"https://{SITE}{path}"
        self.warm(path)
        down = test_purge.CDN.instances[1]
        test_purge.CDN.stop_instance(1)
        try:
            code, out, err = cli("purge", url)
        finally:
            test_purge.CDN.start_instance(1)
        self.assertEqual(code, 2, (out, err))
        rows = self.instance_lines(out, path)
        self.assertEqual(set(rows), set(test_purge.CDN.instances), out)
        outcome, line = rows[down]
        self.assertEqual(outcome, "failed", line)
        self.assertIn("3 attempts; connection failed", line)
        for inst in test_purge.CDN.instances:
            if inst != down:
                self.assertEqual(rows[inst][0], "purged", rows[inst])
        summary = out.strip().splitlines()[-1]
        self.assertTrue(summary.startswith("Partly purged: 2 purged, 0 not cached, 0 rejected, 1 failed"), summary)
        self.assertIn("1 queued for redelivery", summary, "the report says what was queued (the live rows come first)")
        code, out, err = cli("deliveries", "--status", "pending", "--limit", "1000")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, rf"(?m)^#\d+ +pending +{re.escape(down)} +{re.escape(url)} ")
        wait_for_delivery(self, url, down, "delivered")
        code, out, err = cli("deliveries", "--status", "delivered", "--limit", "1000")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, rf"(?m)^#\d+ +delivered +{re.escape(down)} +{re.escape(url)} ")

    def test_a_refused_purge_exits_1_with_the_problem_on_stderr_and_sends_nothing(self):
        path = new_page()
        url = f"https://{SITE}{path}"
        self.warm(path)
        before = [test_purge.CDN.counter(i, "MAIN.client_req") for i in range(3)]
        cases = [
            ("wrong token", [url], "ep_wrong-wrong-wrong-wrong", {"urls": [url]}, 401),
            ("host not allowed", [f"https://evil.example{path}"], "default", {"urls": [f"https://evil.example{path}"]}, 403),
            ("not http", [f"ftp://{SITE}{path}"], "default", {"urls": [f"ftp://{SITE}{path}"]}, 400),
        ]
        for name, args, token, body, want in cases:
            with self.subTest(name):
                status, ctype, problem = api("POST", "/api/purge", body, token=token)
                self.assert_problem(status, ctype, problem, want)
                code, out, err = cli("purge", *args, token=token)
                self.assertEqual(code, 1, (out, err))
                self.assertEqual(out, "")
                self.assertIn(f"{problem['title']} (HTTP {want}): {problem['detail']}", err)
                if token != "default":
                    self.assertNotIn(token, err)
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        self.assert_all_hits(path)
        # The read commands are refused the same way.
        code, out, err = cli("history", token="ep_wrong-wrong-wrong-wrong")
        self.assertEqual((code, out), (1, ""))
        self.assertIn("(HTTP 401)", err)
        # An API that cannot be reached is exit 1 with a message naming it.
        env_api = "http://127.0.0.1:9"
        done = subprocess.run([str(BIN), "--url", env_api, "instances"], env=cli_env(), capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(done.returncode, 1)
        self.assertIn(f"cannot reach the API at {env_api}", done.stderr)

    def test_the_same_idempotency_key_twice_purges_once(self):
        path = new_page()
        url = f"https://{SITE}{path}"
        self.warm(path)
        key = f"ci-{uuid.uuid4()}"
        before = [test_purge.CDN.counter(i, "MAIN.client_req") for i in range(3)]
        code, out, err = cli("purge", url, "--idempotency-key", key, "--json")
        self.assertEqual(code, 0, (out, err))
        first = json.loads(out)
        # Sent again (a CI retry): the first purge's report, in plain lines, and nothing sent again.
        code, out, err = cli("purge", url, "--idempotency-key", key)
        self.assertEqual(code, 0, (out, err))
        self.assertEqual(set(self.instance_lines(out, path)), set(test_purge.CDN.instances), out)
        self.assertIn(f"trace {first['trace_id']}", out)
        self.assertEqual(counter_deltas("MAIN.client_req", before, [1, 1, 1]), [1, 1, 1])
        code, out, err = cli("purge", url, "--idempotency-key", "two words")
        self.assertEqual(code, 1)
        self.assertIn("--idempotency-key", err)

    def test_on_a_terminal_each_instance_gets_a_live_line_before_the_summary(self):
        path = new_page()
        url = f"https://{SITE}{path}"
        self.warm(path)
        code, raw = cli_on_a_terminal("purge", url)
        self.assertEqual(code, 0, raw)
        text = screen_text(raw)
        summary = text.rfind("All purged: 3 purged, 0 not cached, 0 rejected, 0 failed")
        self.assertGreater(summary, 0, text)
        for inst in test_purge.CDN.instances:
            # Each instance's line with its answer, drawn before the summary (its "waiting…" frame
            # may fall between two of indicatif's draws, at most 20 a second, on loopback).
            live = [m.start() for m in re.finditer(rf"{re.escape(inst)} +purged  \(HTTP 200; \d+ ms\) ", text)]
            self.assertTrue(live, (inst, text))
            self.assertLess(live[0], summary)
        # The progress bar was drawn (the plain lines off a terminal have none), and there is no
        # line per result: the URL is not on the screen.
        self.assertRegex(text, r"\[[=> ]{30}\] [0-3]/3 answered")
        self.assertNotIn(url, text)
        for inst in test_purge.CDN.instances:
            self.assertIn("fwd=uri-miss", fetch(inst, path)[0])


if __name__ == "__main__":
    import unittest
    unittest.main()
