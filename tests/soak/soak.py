#!/usr/bin/env python3
"""Soak test: many purges while instances are stopped and started at random; nothing may be lost.

Runs its own local CDN (real varnishd x3, dnsdist, the worker in workerd) on the soak ports. A
chaos thread stops and starts instances at random while purges go out one after another. Then
every instance is brought back and the cron trigger is fired until no delivery is pending.

Every (URL, instance) pair of every report must end up accounted for: purged inline, refused by
the instance (reported), or a delivery record (delivered, pending or abandoned). Anything else is
lost. Prints the figures; exits 1 if anything was lost.

Usage: scripts/soak [PURGES]   (default 1000)
"""
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cdn"))
from localcdn import INSTANCE_IPS, ROOT, SITE, SOAK_PORTS, LocalCDN  # noqa: E402


def call(cdn, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(cdn.api + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {cdn.api_token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def chaos(cdn, stop, rng, log):
    down = set()
    while not stop.is_set():
        time.sleep(rng.uniform(0.2, 1.5))
        i = rng.randrange(len(INSTANCE_IPS))
        if i in down:
            cdn.start_instance(i)
            down.discard(i)
            log.append(("start", i))
        else:
            cdn.stop_instance(i)
            down.add(i)
            log.append(("stop", i))
    for i in down:
        cdn.start_instance(i)


def main():
    purges = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rng = random.Random(int(time.time()))
    cdn = LocalCDN(ports=SOAK_PORTS, state=ROOT / ".state" / "soak", instance_timeout_ms=1000,
                   extra_vars={"RATE_LIMIT_PER_MINUTE": "1000000", "REDELIVERY_BASE_MS": "500", "REDELIVERY_CAP_MS": "3000"})
    print(f"soak: starting a local CDN, then {purges} purges with instances stopped and started at random", flush=True)
    with cdn:
        stop, log = threading.Event(), []
        chaos_thread = threading.Thread(target=chaos, args=(cdn, stop, rng, log), daemon=True)
        chaos_thread.start()
        pairs = inline_ok = rejected = queued = unqueued_failures = errors = 0
        statuses = {}
        started = time.monotonic()
        for n in range(purges):
            status, body = call(cdn, "POST", "/api/purge", {"urls": [f"https://{SITE}/soak/{rng.randrange(50)}"]})
            statuses[status] = statuses.get(status, 0) + 1
            if status not in (200, 207, 502):
                errors += 1
                print(f"  purge {n}: unexpected {status}: {body}", flush=True)
                continue
            for row in body["results"]:
                pairs += 1
                if row["outcome"] in ("purged", "not_cached"):
                    inline_ok += 1
                elif row["outcome"] == "rejected":
                    rejected += 1
                elif row.get("pending"):
                    queued += 1
                else:
                    unqueued_failures += 1
            if (n + 1) % 100 == 0:
                print(f"  {n + 1} purges, {time.monotonic() - started:.0f} s, {len(log)} instance stops/starts", flush=True)
        stop.set()
        chaos_thread.join()

        # Everyone is back: let the background redelivery finish.
        deadline = time.monotonic() + 300
        while True:
            cdn.run_scheduled()
            status, d = call(cdn, "GET", "/api/deliveries?limit=1")
            if d["pending"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        delivered, pending, abandoned = d["delivered"], d["pending"], d["abandoned"]
        recorded = delivered + pending + abandoned
        lost = (queued - recorded if queued > recorded else 0) + unqueued_failures + errors
        figures = {
            "purges_sent": purges,
            "http_statuses": statuses,
            "pairs": pairs,
            "purged_inline": inline_ok,
            "redelivered": delivered,
            "deliveries_purged": inline_ok + delivered,
            "pending": pending,
            "abandoned": abandoned,
            "rejected": rejected,
            "instance_stops_and_starts": len(log),
            "lost": lost,
        }
        print(json.dumps(figures, indent=2), flush=True)
        if queued != recorded:
            print(f"soak: {queued} pairs were reported pending but {recorded} deliveries are recorded", flush=True)
        return 1 if lost or queued != recorded else 0


if __name__ == "__main__":
    sys.exit(main())
