"""End-to-end: scoped tokens against the real local CDN.

A token limited to URLs and keys (Fastly's `purge_select`), to hosts, or to reading is refused
everything else with a 403 `out-of-scope` that sends nothing to any instance, on the API and on
the Fastly- and Cloudflare-compatible routes, and the history names the token each attempt used.
"""
import uuid

import test_purge
from test_purge import (  # noqa: F401  (setUpModule: the shared local CDN)
    ASSETS_SITE, FASTLY_SERVICE, SITE, CdnTestCase, api, assets_counters, counter_deltas, fastly, fetch, new_page,
    setUpModule,
)

OUT_OF_SCOPE = "urn:edgepurge:problem:out-of-scope"


def scoped_token(role, scopes, label=None):
    """A new person with `role` and a personal token with `scopes`; returns (token, label, info)."""
    label = label or f"scoped-{uuid.uuid4().hex[:8]}"
    status, _, person = api("POST", "/api/people", {"name": f"{label}-person", "role": role})
    assert status == 201, person
    status, _, issued = api("POST", f"/api/people/{person['id']}/tokens", {"label": label, "scopes": scopes})
    assert status == 201, issued
    return issued["token"], label, issued["info"]


class ScopedTokens(CdnTestCase):

    def history_of(self, label):
        """The newest history entries made with the token labelled `label`."""
        status, _, page = api("GET", "/api/history?limit=50", content_type=None)
        self.assertEqual(status, 200, page)
        return [e for e in page["entries"] if e.get("token") == label]

    def assert_denied_in_history(self, label, item):
        """A denied (403) entry naming the token `label` holds `item` among its items."""
        entries = self.history_of(label)
        self.assertTrue(entries, f"no history entry names token {label}")
        denied = [e for e in entries if (e["status"], e["http_status"]) == ("denied", 403)
                  and item in " ".join(e["urls"])]
        self.assertTrue(denied, entries)

    def test_a_url_only_token_purges_urls_and_keys_but_no_prefix_nor_fastly_purge_all(self):
        token, label, info = scoped_token("admin", {"kinds": "select"})
        self.assertEqual(info["scopes"], {"kinds": "select"})
        path = new_page()
        self.warm(path)
        # A prefix purge: 403 out-of-scope, nothing reaches any instance, the page stays cached,
        # and the history's denied entry names the token.
        prefix = f"https://{SITE}{path.rsplit('/', 1)[0]}/"
        self.assert_refused_and_nothing_sent(
            [("prefix", dict(body={"prefixes": [prefix]}, token=token), 403)], path)
        status, _, body = api("POST", "/api/purge", {"prefixes": [prefix]}, token=token)
        self.assertEqual(body["type"], OUT_OF_SCOPE, body)
        self.assertIn("URLs and keys only", body["detail"])
        self.assert_denied_in_history(label, f"prefix:{prefix}")
        # Fastly's purge_all with that token as Fastly-Key: the same 403, nothing sent.
        before = [test_purge.CDN.counter(i, "MAIN.client_req") for i in range(3)]
        status, body = fastly(f"/service/{FASTLY_SERVICE}/purge_all", token)
        self.assertEqual((status, body["type"]), (403, OUT_OF_SCOPE), body)
        self.assertEqual(counter_deltas("MAIN.client_req", before, None), [0, 0, 0])
        self.assert_all_hits(path)
        self.assert_denied_in_history(label, "host:")
        # The URL itself it may purge, and the history names the token on that entry too.
        status, _, report = api("POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]}, token=token)
        self.assertEqual((status, report["status"]), (200, "purged"), report)
        for inst in test_purge.CDN.instances:
            self.assertIn("fwd=uri-miss", fetch(inst, path)[0])
        self.assertEqual(self.history_of(label)[0]["status"], "purged")

    def test_a_host_limited_token_cannot_purge_another_host_nor_reach_its_instances_with_a_key(self):
        token, label, info = scoped_token("editor", {"hosts": [SITE.upper()]})
        self.assertEqual(info["scopes"], {"hosts": [SITE]})
        page = new_page()
        self.warm(page, ASSETS_SITE, test_purge.CDN.assets_varnish)
        before = assets_counters()
        status, _, body = api("POST", "/api/purge", {"urls": [f"https://{ASSETS_SITE}{page}"]}, token=token)
        self.assertEqual((status, body["type"]), (403, OUT_OF_SCOPE), body)
        self.assertIn(f"{ASSETS_SITE} is not one of them", body["detail"])
        self.assert_denied_in_history(label, ASSETS_SITE)
        # Verify of another host is refused too.
        status, _, body = api("POST", "/api/verify", {"url": f"https://{ASSETS_SITE}{page}"}, token=token)
        self.assertEqual((status, body["type"]), (403, OUT_OF_SCOPE), body)
        # A key reaches only the instances serving its host: the assets instances get nothing.
        tag = f"s{uuid.uuid4().hex[:8]}"
        tagged = f"/tagged/{tag}/a"
        self.warm(tagged)
        status, _, report = api("POST", "/api/purge", {"keys": [tag]}, token=token)
        self.assertEqual(status, 200, report)
        self.assertEqual(sorted(r["instance"] for r in report["results"]), sorted(test_purge.CDN.instances))
        self.assertEqual([a - b for a, b in zip(assets_counters(), before)], [0] * len(before))
        for inst in test_purge.CDN.instances:
            self.assertIn("fwd=uri-miss", fetch(inst, tagged)[0])
        # The same key with an unscoped token does reach the assets instances (the limit is the
        # token's, not the key's).
        status, _, report = api("POST", "/api/purge", {"keys": [tag]})
        self.assertEqual(status, 200, report)
        self.assertTrue(set(test_purge.CDN.assets_instances) <= {r["instance"] for r in report["results"]})

    def test_a_read_only_token_reads_and_verifies_but_cannot_purge(self):
        token, label, _ = scoped_token("admin", {"read_only": True})
        path = new_page()
        self.warm(path)
        cases = [
            ("url", dict(body={"urls": [f"https://{SITE}{path}"]}, token=token), 403),
            ("key", dict(body={"keys": ["anything"]}, token=token), 403),
        ]
        self.assert_refused_and_nothing_sent(cases, path)
        self.assert_denied_in_history(label, path)
        status, _, me = api("GET", "/api/me", token=token, content_type=None)
        self.assertEqual((status, me["scopes"], me["token"]), (200, {"read_only": True}, label), me)
        for method, route, body in (("GET", "/api/history?limit=1", None), ("GET", "/api/instances", None),
                                    ("POST", "/api/verify", {"url": f"https://{SITE}{path}"})):
            status, _, reply = api(method, route, body, token=token, content_type="application/json" if body else None)
            self.assertEqual(status, 200, (route, reply))
        # Nor may it manage people (an unscoped token of the same admin could).
        status, _, body = api("POST", "/api/people", {"name": f"x-{uuid.uuid4().hex[:6]}", "role": "editor"},
                              token=token)
        self.assertEqual((status, body["type"]), (403, OUT_OF_SCOPE), body)

    def test_scopes_outside_the_allowlist_are_refused_when_issued(self):
        status, _, person = api("POST", "/api/people", {"name": f"bad-scope-{uuid.uuid4().hex[:8]}", "role": "editor"})
        self.assertEqual(status, 201, person)
        for scopes, why in (({"hosts": ["evil.example"]}, "is not in ALLOWED_HOSTS"),
                            ({"kinds": "purge_select"}, "unknown variant `purge_select`")):
            status, _, body = api("POST", f"/api/people/{person['id']}/tokens", {"label": "x", "scopes": scopes})
            self.assertEqual(status, 400, body)
            self.assertIn(why, body["detail"])
        status, _, tokens = api("GET", f"/api/people/{person['id']}/tokens", content_type=None)
        self.assertEqual((status, tokens), (200, []))
