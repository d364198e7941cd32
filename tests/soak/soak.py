#!/usr/bin/env python3
"""Soak test: many purges while instances are stopped, started, frozen and thawed at random;
nothing may be lost, checked on the caches themselves.

Runs its own local CDN (real varnishd x3, dnsdist, the worker in workerd) on the soak ports. A
chaos thread restarts instances (which empties their cache) and freezes them with SIGSTOP (which
keeps it) and cuts them off (the worker reaches each instance through a relay that chaos can cut:
unreachable, cache kept and still warmed, bytes in flight lost: the case that matters), and
brings them back, at random, while purges go out one after another and a warming thread keeps
the pages cached. A killer thread also kills the worker itself (SIGKILL to wrangler dev and
workerd, mid-purge as often as not) at random moments and starts it again on the same local D1,
as a deploy or an eviction does in production. Then every instance is brought back and the cron
trigger is fired until no delivery is pending and no purge is left `running` (the cron takes
over the purges a kill cut off, once their lease has run out).

A purge whose call the kill cut off counts if the history has its entry (it was written ahead of
its first PURGE, so it must be finished by the cron); one with no entry sent nothing, and its
URL's last purge stays the one before.

Two checks. The books: every (URL, instance) pair of every report is purged inline, refused by
the instance (reported), or a delivery record. The truth: every instance is asked for every URL,
and a cached copy fetched from the origin before that URL's last purge began (the origin's body
says when it was fetched) is stale: a purge that was lost. Prints the figures; exits 1 if
anything was lost or stale.

Usage: scripts/soak [PURGES]   (default 1000); SOAK_WORKER_KILLS=0 leaves the worker alone.
"""
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cdn"))
from localcdn import INSTANCE_IPS, ROOT, SITE, SOAK_PORTS, LocalCDN, http_get  # noqa: E402

URLS = [f"/soak/{n}" for n in range(50)]
# Extra worker settings, e.g. SOAK_VARS='{"REDELIVERY_MAX_AGE_MS": "1000"}' to check that the
# soak fails when redelivery gives up.
SOAK_VARS = json.loads(os.environ.get("SOAK_VARS", "{}"))
# The worker reaches the instances through these links (DNS names them), so chaos can cut one.
LINK_IPS = ("127.0.2.1", "127.0.2.2", "127.0.2.3")


class Link:
    """A TCP relay in front of one instance that chaos can cut: new connections are refused and
    open ones reset, bytes in flight lost. An instance behind a cut link is unreachable for the
    worker but keeps its cache (and is still warmed directly): every purge it misses must be
    redelivered, or a stale copy stays."""

    def __init__(self, listen, target):
        self.listen, self.target = listen, target
        self.lock, self.conns, self.server = threading.Lock(), set(), None
        self.restore()

    def restore(self):
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(self.listen)
        server.listen(128)
        with self.lock:
            self.server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self):
        with self.lock:
            server, self.server = self.server, None
            conns, self.conns = self.conns, set()
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        for c in conns:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            except OSError:
                pass

    def _accept(self, server):
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                live = self.server is server
                if live:
                    self.conns |= {client, upstream}
            if not live:
                client.close()
                upstream.close()
                continue
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def call(cdn, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(cdn.api + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {cdn.api_token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def chaos(cdn, links, stop, rng, log, frozen):
    """Restarts (cache emptied), freezes (SIGSTOP: cache kept) and cuts off (cache kept, still
    warmed) instances at random, and brings them back."""
    state = {i: "up" for i in range(len(INSTANCE_IPS))}

    def back(i):
        if state[i] == "down":
            cdn.start_instance(i)
        elif state[i] == "frozen":
            cdn.thaw_instance(i)
            frozen.discard(i)
        elif state[i] == "cut":
            links[i].restore()
        log.append(("back", i))
        state[i] = "up"

    while not stop.is_set():
        time.sleep(rng.uniform(0.2, 1.5))
        i = rng.randrange(len(INSTANCE_IPS))
        if state[i] != "up":
            back(i)
            continue
        state[i] = rng.choice(["down", "frozen", "cut"])
        log.append((state[i], i))
        if state[i] == "down":
            cdn.stop_instance(i)
        elif state[i] == "frozen":
            frozen.add(i)
            cdn.freeze_instance(i)
        else:
            links[i].cut()
    for i in state:
        if state[i] != "up":
            back(i)


def fetch(instance, path, timeout=0.5):
    """GETs `path` from one instance: (Cache-Status, fetch time from the origin's body)."""
    ip, port = instance.rsplit(":", 1)
    status, headers, body = http_get(ip, int(port), path, headers={"Host": SITE}, timeout=timeout)
    at = re.search(r" at (\d+)<", body if isinstance(body, str) else body.decode())
    return status, headers.get("cache-status", ""), int(at.group(1)) if at else None


def warm(cdn, stop, rng, locks, frozen):
    """Keeps pages cached on the instances that are up, never while that page's purge is on."""
    while not stop.is_set():
        path = rng.choice(URLS)
        i = rng.randrange(len(cdn.instances))
        if i in frozen or not locks[path].acquire(blocking=False):
            continue
        try:
            fetch(cdn.instances[i], path)
        except Exception:  # an instance restarting or freezing: the next round tries again
            pass
        finally:
            locks[path].release()


def killer(cdn, stop, rng, kills, worker_up):
    """Kills the worker (SIGKILL) at random moments and starts it again on the same local D1;
    `worker_up` is clear while it is down."""
    while not stop.wait(rng.uniform(15, 40)):
        worker_up.clear()
        try:
            cdn.kill_worker()
            kills.append(time.time())
            cdn.restart_worker()
        finally:
            worker_up.set()


def entry_of(cdn, path, since_ms):
    """The history entry of a purge of `path` sent at `since_ms` or later, if one was written."""
    label = json.dumps(f"https://{SITE}{path}").replace("'", "''")
    rows = cdn.d1(f"SELECT id, status, recovered FROM purges WHERE kind = 'purge' AND at >= {since_ms} "
                  f"AND status != 'denied' AND instr(urls, '{label}') > 0 ORDER BY id LIMIT 1")
    return rows[0] if rows else None


def main():
    purges = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    kill_workers = os.environ.get("SOAK_WORKER_KILLS", "1") != "0"
    rng = random.Random(int(time.time()))
    # Leases run out a second after the fan-out's deadline, so the cron takes cut-off purges
    # over within seconds.
    cdn = LocalCDN(ports=SOAK_PORTS, state=ROOT / ".state" / "soak", instance_timeout_ms=1000,
                   extra_vars={"RATE_LIMIT_PER_MINUTE": "1000000", "REDELIVERY_BASE_MS": "500", "REDELIVERY_CAP_MS": "3000",
                               "FAN_OUT_DEADLINE_MS": "8000", "LEASE_MARGIN_MS": "1000", **SOAK_VARS})
    print(f"soak: starting a local CDN, then {purges} purges with instances restarted and frozen at random", flush=True)
    with cdn:
        stop, log, frozen = threading.Event(), [], set()
        locks = {path: threading.Lock() for path in URLS}
        last_purge = {}
        links = [Link((ip, cdn.ports.varnish), (target, cdn.ports.varnish)) for ip, target in zip(LINK_IPS, INSTANCE_IPS)]
        cdn.stop_doh()
        cdn.start_doh(ips=LINK_IPS)
        chaos_thread = threading.Thread(target=chaos, args=(cdn, links, stop, rng, log, frozen), daemon=True)
        warm_thread = threading.Thread(target=warm, args=(cdn, stop, random.Random(rng.random()), locks, frozen),
                                       daemon=True)
        worker_up, kills, cut_calls = threading.Event(), [], []
        worker_up.set()
        killer_thread = threading.Thread(target=killer, args=(cdn, stop, random.Random(rng.random()), kills, worker_up),
                                         daemon=True)
        chaos_thread.start()
        warm_thread.start()
        if kill_workers:
            killer_thread.start()
        pairs = inline_ok = rejected = queued = unqueued_failures = errors = 0
        statuses = {}
        started = time.monotonic()
        for n in range(purges):
            path = rng.choice(URLS)
            worker_up.wait()
            with locks[path]:
                sent_at = time.time_ns() // 1_000_000
                try:
                    status, body = call(cdn, "POST", "/api/purge", {"urls": [f"https://{SITE}{path}"]})
                except (OSError, ValueError):
                    # The worker died under it (or was down): whether it counts is the history's
                    # to say, once the worker is back.
                    cut_calls.append((path, sent_at))
                    continue
                last_purge[path] = sent_at
            statuses[status] = statuses.get(status, 0) + 1
            if status not in (200, 207, 502):
                errors += 1
                print(f"  purge {n}: unexpected {status}: {body}", flush=True)
                continue
            for row in body["results"]:
                pairs += 1
                if row["outcome"] in ("purged", "not_cached", "unconfirmed"):
                    inline_ok += 1
                elif row["outcome"] == "rejected":
                    rejected += 1
                elif row.get("pending"):
                    queued += 1
                else:
                    unqueued_failures += 1
            if (n + 1) % 100 == 0:
                print(f"  {n + 1} purges, {time.monotonic() - started:.0f} s, {len(log)} chaos events", flush=True)
        stop.set()
        chaos_thread.join()
        warm_thread.join()
        if kill_workers:
            killer_thread.join()
        worker_up.wait()

        # The calls a kill cut off: those with an entry were accepted, and count.
        accepted_cut = []
        for path, sent_at in cut_calls:
            entry = entry_of(cdn, path, sent_at)
            if entry is not None:
                accepted_cut.append(entry["id"])
                last_purge[path] = max(last_purge.get(path, 0), sent_at)

        # Everyone is back: let the background redelivery finish, and the cron take over every
        # purge a kill cut off.
        deadline = time.monotonic() + 300
        while True:
            cdn.run_scheduled()
            status, d = call(cdn, "GET", "/api/deliveries?limit=1")
            running = cdn.d1("SELECT count(*) AS n FROM purges WHERE status = 'running'")[0]["n"]
            if (d["pending"] == 0 and running == 0) or time.monotonic() > deadline:
                break
            time.sleep(1)
        delivered, pending, abandoned = d["delivered"], d["pending"], d["abandoned"]
        recovered = cdn.d1("SELECT count(*) AS n FROM purges WHERE recovered = 1")[0]["n"]
        # The deliveries of the cut-off purges were queued by the cron (or by the original after
        # its caller was gone): no reply counted them.
        ids = ",".join(str(i) for i in accepted_cut) or "0"
        queued += cdn.d1(f"SELECT count(*) AS n FROM deliveries WHERE purge_id IN ({ids})")[0]["n"]

        # The truth, on the instances: no cached copy older than its URL's last purge.
        stale, cached_copies = [], 0
        for path, purged_at in sorted(last_purge.items()):
            for inst in cdn.instances:
                status, cache_status, fetched_at = fetch(inst, path, timeout=10)
                if "; hit" in cache_status:
                    cached_copies += 1
                    if fetched_at is not None and fetched_at < purged_at:
                        stale.append((path, inst, purged_at - fetched_at))
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
            "instance_restarts": sum(1 for op, _ in log if op == "down"),
            "instance_freezes": sum(1 for op, _ in log if op == "frozen"),
            "instance_cut_offs": sum(1 for op, _ in log if op == "cut"),
            "worker_kills": len(kills),
            "calls_cut_by_a_kill": len(cut_calls),
            "of_those_accepted": len(accepted_cut),
            "recovered_by_the_cron": recovered,
            "entries_left_running": running,
            "urls_checked_on_instances": len(last_purge) * len(cdn.instances),
            "cached_copies_found": cached_copies,
            "stale_copies": len(stale),
            "lost": lost,
        }
        print(json.dumps(figures, indent=2), flush=True)
        if queued != recorded:
            print(f"soak: {queued} pairs were reported pending but {recorded} deliveries are recorded", flush=True)
        for path, inst, ms in stale[:20]:
            print(f"soak: STALE {inst} serves {path} fetched {ms} ms before its last purge", flush=True)
        if running:
            print(f"soak: {running} purges were left running", flush=True)
        return 1 if lost or stale or queued != recorded or running else 0


if __name__ == "__main__":
    sys.exit(main())
