"""End-to-end: webhook notifications (issue 24, part 3) against the local CDN's webhook receiver
(tests/cdn/webhook_receiver.py), which checks each one's signature with NOTIFY_SECRET and keeps
what it got.

A partial purge and an abandoned delivery each reach the receiver once, signed, with a
Slack-compatible body; a receiver that is down changes no purge and shows in /api/health.

Shares test_purge's local CDN (its setUpModule starts it once for every e2e module).
Run: python3 -m unittest -v test_notify   (from tests/e2e)
"""
import hashlib
import hmac
import time
import unittest

import test_purge
from test_purge import (  # noqa: F401 (setUpModule starts the shared local CDN)
    FLY_SITE, SITE, CdnTestCase, api, completed_entry, new_page, setUpModule, wait_for_delivery,
)

GHOST = "ams 0000000000beef"


def cdn():
    return test_purge.CDN


class Notifications(CdnTestCase):
    def setUp(self):
        # Every kind's minute starts afresh: the other modules' partial purges in this minute
        # must not have used up NOTIFY_PER_MINUTE (3) before these tests' own.
        cdn().d1("DELETE FROM notify_kinds")

    def arrived(self, matches, timeout=20.0, settle=2.0, at_least=1):
        """The notifications the receiver got whose body `matches`, once there are `at_least`
        and no more has come for `settle` seconds (one more would be a duplicate)."""
        deadline = time.monotonic() + timeout
        found = []
        while time.monotonic() < deadline:
            found = [r for r in cdn().webhook_received() if r["body"] is not None and matches(r["body"])]
            if len(found) >= at_least:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(len(found), at_least, "no such notification arrived")
        time.sleep(settle)
        return [r for r in cdn().webhook_received() if r["body"] is not None and matches(r["body"])]

    def assert_signed_and_slack_compatible(self, received):
        self.assertTrue(received["signature_valid"], received["headers"])
        # Checked here too, independently of the receiver: HMAC-SHA256 of the bytes as sent.
        expected = "sha256=" + hmac.new(cdn().webhook_secret.encode(), received["raw"].encode(), hashlib.sha256).hexdigest()
        self.assertEqual(received["headers"]["x-edgepurge-signature"], expected)
        self.assertTrue(received["headers"]["content-type"].startswith("application/json"), received["headers"])
        self.assertEqual(received["path"], "/hooks/edgepurge")
        body = received["body"]
        # What a Slack incoming webhook needs: a JSON object whose `text` is the message.
        self.assertIsInstance(body["text"], str)
        self.assertTrue(body["text"].startswith(":"), body["text"])
        # Signed with the body: when it was sent, close to now (a receiver refuses old ones).
        self.assertLess(abs(body["sent_at"] / 1000 - time.time()), 120, body["sent_at"])

    def partial_purge(self):
        """A purge with the second instance down: (its URL, status, report)."""
        path = new_page()
        self.warm(path)
        cdn().stop_instance(1)
        try:
            url = f"https://{SITE}{path}"
            status, _, report = api("POST", "/api/purge", {"urls": [url]})
        finally:
            cdn().start_instance(1)
        return url, status, report

    def test_a_partial_purge_arrives_once_signed_with_its_figures_and_links(self):
        url, status, report = self.partial_purge()
        self.assertEqual((status, report["status"]), (207, "partial"), report)
        down = cdn().instances[1]
        notes = self.arrived(lambda b: b.get("trace_id") == report["trace_id"])
        self.assertEqual(len(notes), 1, [n["body"]["text"] for n in notes])
        self.assert_signed_and_slack_compatible(notes[0])
        body = notes[0]["body"]
        entry = completed_entry(self, urllib_path(url))
        self.assertEqual((body["kind"], body["status"], body["entry"]), ("partial", "partial", entry["id"]))
        self.assertEqual(body["actor"], entry["actor"])
        self.assertEqual((body["items"], body["item_count"]), ([url], 1))
        self.assertEqual(body["summary"], report["summary"])
        self.assertEqual([f["instance"] for f in body["failing"]], [down])
        self.assertEqual((body["failing"][0]["failed"], body["failing_count"]), (1, 1))
        self.assertIn("connection", body["failing"][0]["error"])
        self.assertEqual(body["console_url"], f"{cdn().api}/#/history/{entry['id']}")
        self.assertTrue(body["trace_url"].endswith(f"/trace/{report['trace_id']}"), body["trace_url"])
        self.assertEqual(body["held_back"], 0)
        text = body["text"]
        for part in ["*edgepurge: purge partial*", "2 of 3 pairs succeeded", url, down,
                     f"<{cdn().api}/#/history/{entry['id']}|entry {entry['id']}>", "|trace>"]:
            self.assertIn(part, text)

    def test_an_abandoned_delivery_arrives_once_naming_it_and_why(self):
        machines = cdn().fly_machines() + [{"id": "0000000000beef", "state": "started", "region": "ams"}]
        cdn().set_fly_machines(machines)
        try:
            url = f"https://{FLY_SITE}{new_page()}"
            status, _, report = api("POST", "/api/purge", {"urls": [url]})
        finally:
            # The Machine leaves the app: redelivery abandons its delivery, with the reason.
            cdn().set_fly_machines()
        self.assertEqual(status, 207, report)
        done = wait_for_delivery(self, url, GHOST, "abandoned")
        self.assertIn("no longer in discovery", done["last_error"])

        def about_it(body):
            return body.get("kind") == "abandoned" and any(d["url"] == url for d in body.get("deliveries", []))
        notes = self.arrived(about_it)
        # Another cron run makes no second notification of it.
        cdn().run_scheduled()
        notes = self.arrived(about_it)
        self.assertEqual(len(notes), 1, [n["body"]["text"] for n in notes])
        self.assert_signed_and_slack_compatible(notes[0])
        body = notes[0]["body"]
        ours = [d for d in body["deliveries"] if d["url"] == url]
        self.assertEqual([(d["instance"], d["status"], d["id"]) for d in ours], [(GHOST, "abandoned", done["id"])])
        self.assertIn("no longer in discovery", ours[0]["last_error"])
        self.assertGreaterEqual(body["delivery_count"], 1)
        self.assertIn(GHOST, [f["instance"] for f in body["failing"]])
        self.assertIn(url, body["items"])
        self.assertIn("abandoned*", body["text"])
        self.assertIn(url, body["text"])
        self.assertNotIn("actor", body)

    def test_a_burst_over_the_rate_is_held_back_and_told_of_once_by_the_cron(self):
        per_minute = 3  # the local CDN's NOTIFY_PER_MINUTE default
        paths = [new_page() for _ in range(per_minute + 2)]
        for path in paths:
            self.warm(path)
        # The burst within one minute (the rate counts per minute): start it early in one.
        if time.time() % 60 > 40:
            time.sleep(61 - time.time() % 60)
        cdn().stop_instance(1)
        try:
            reports = [api("POST", "/api/purge", {"urls": [f"https://{SITE}{p}"]})[2] for p in paths]
        finally:
            cdn().start_instance(1)
        self.assertEqual([r["status"] for r in reports], ["partial"] * len(paths), reports)
        traces = [r["trace_id"] for r in reports]
        # The first three are sent as they end; the last two are held back.
        sent = self.arrived(lambda b: b.get("trace_id") in traces, at_least=per_minute)
        self.assertEqual(sorted(r["body"]["trace_id"] for r in sent), sorted(traces[:per_minute]))

        def told(body):
            return body.get("kind") == "partial" and body.get("items") == [] and body.get("held_back", 0) > 0
        self.assertEqual([r for r in cdn().webhook_received() if r["body"] is not None and told(r["body"])], [])
        # The cron tells of them, once, with how many and since when; another run adds nothing.
        cdn().run_scheduled()
        notes = self.arrived(told)
        cdn().run_scheduled()
        notes = self.arrived(told)
        self.assertEqual(len(notes), 1, [n["body"]["text"] for n in notes])
        self.assert_signed_and_slack_compatible(notes[0])
        body = notes[0]["body"]
        self.assertEqual((body["held_back"], body["item_count"]), (2, 0), body)
        self.assertIn("*edgepurge: 2 partial purges held back* since ", body["text"])
        self.assertNotIn("entry", body)

    def test_a_receiver_that_is_down_changes_no_purge_and_shows_in_health(self):
        def shape(status, report):
            rows = {r["instance"]: (r["outcome"], r["retryable"], r.get("pending", False)) for r in report["results"]}
            return status, report["status"], report["summary"], rows
        _, status, report = self.partial_purge()
        expected = shape(status, report)
        _, _, health = api("GET", "/api/health", token=None, content_type=None)
        before = health["notifications"]["failed"]
        cdn().stop_webhook()
        try:
            started = time.monotonic()
            _, status, report = self.partial_purge()
            took = time.monotonic() - started
            self.assertEqual(shape(status, report), expected)
            deadline = time.monotonic() + 20
            while True:
                _, _, health = api("GET", "/api/health", token=None, content_type=None)
                figures = health["notifications"]
                if figures["failed"] > before or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            self.assertEqual(health["status"], "ok")
            self.assertEqual(figures["failed"], before + 1, figures)
            self.assertLess(abs(figures["last_failure_at"] / 1000 - time.time()), 120, figures)
            # Why it failed is for authenticated callers only, and never names the URL (a secret).
            self.assertNotIn("last_error", figures)
            _, _, health = api("GET", "/api/health", content_type=None)
            why = health["notifications"]["last_error"]
            self.assertIn("webhook 1: could not be reached", why)
            self.assertNotIn(str(cdn().ports.webhook), why)
            print(f"\n  purge with the receiver down answered in {took:.2f} s; health: {why}", flush=True)
        finally:
            cdn().start_webhook()


def urllib_path(url):
    """The path of a URL of SITE, as the history's `url=` filter takes it."""
    return url.split(SITE, 1)[1]


if __name__ == "__main__":
    unittest.main()
