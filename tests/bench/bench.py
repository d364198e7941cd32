"""scripts/bench: edgepurge against the alternatives, side by side in one run, on loopback with a
latency-injecting proxy in front of every instance.

Instances: the local CDN's varnishd (the bench's own ports), each reached through
`latency_proxy.py` at its own address with its own round-trip time, spread evenly from 20 to
250 ms (N = 3, 15 and 60). Each new connection pays a round trip for the handshake, as on a real
network, so the floor for any client is two round trips to the farthest instance.

Tools, each purging 1 and 100 URLs on all N instances:
  edgepurge      POST /api/purge to the worker in workerd (wrangler dev), which fans out itself
  shell loop     the seed's loop: one curl -X PURGE after the other
  parallel curl  one curl process per (URL, instance), all started at once (at most 256 running)
  pipelined      a reference client: one connection per instance, all its PURGEs in one write

Prints the table (min and median wall time, and the median's ratio to the floor), writes it as
JSON and a PNG chart to .state/bench/, and measures the worker's own overhead at zero latency.

First, the Instances page against history: the p50 of `GET /api/instances` on a fresh store, then
again with 1,000,000 hourly rows stored (for these instances' past hours and for retired ones),
written straight into the local D1's SQLite file while the worker is stopped.
"""
import argparse
import asyncio
import concurrent.futures
import datetime
import gzip
import http.client
import json
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "cdn"))
from localcdn import BENCH_PORTS, DNS_NAME, INSTANCE_IPS, SITE, LocalCDN  # noqa: E402

PROXY_PORT = 27090
SIZES = (3, 15, 60)
URL_COUNTS = (1, 100)
RTT_MIN, RTT_MAX = 20.0, 250.0
OUT = ROOT / ".state" / "bench"


def rtts(n):
    return [RTT_MIN + (RTT_MAX - RTT_MIN) * i / (n - 1) for i in range(n)] if n > 1 else [RTT_MAX]


def group(n):
    """The proxy addresses of group n (127.0.<7 + index>.x) and the host name purged there."""
    net = 7 + SIZES.index(n)
    return f"bench-{n}.test", [f"127.0.{net}.{i + 1}:{PROXY_PORT}" for i in range(n)]


def start_proxies(cdn):
    specs = []
    for n in SIZES:
        _, addrs = group(n)
        for i, (addr, rtt) in enumerate(zip(addrs, rtts(n))):
            upstream = f"{INSTANCE_IPS[i % len(INSTANCE_IPS)]}:{cdn.ports.varnish}"
            specs.append(f"{addr}={rtt:g}={upstream}")
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("latency_proxy.py")), *specs],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("latency proxy did not start")
    return proc


# ---- the tools ---------------------------------------------------------------------------------

def edgepurge(cdn, host, urls, instances, port=None):
    body = json.dumps({"urls": urls}).encode()
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port or cdn.ports.worker, timeout=120)
    conn.request("POST", "/api/purge", body=body, headers={
        "Authorization": f"Bearer {cdn.api_token}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    report = json.loads(resp.read())
    elapsed = time.perf_counter() - start
    conn.close()
    ok = report.get("summary", {}).get("total") == len(urls) * len(instances) and report.get("status") == "purged"
    return elapsed, ok, report


def curl_args(cdn, host, url, instance):
    path = url.split(host, 1)[1]
    return ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\\n", "-X", "PURGE", "-H", f"Host: {host}",
            "-H", f"Purge-Token: {cdn.purge_token}", f"http://{instance}{path}"]


def shell_loop(cdn, host, urls, instances):
    script = "\n".join(shlex.join(curl_args(cdn, host, u, i)) for u in urls for i in instances)
    start = time.perf_counter()
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout.split()
    return time.perf_counter() - start, out.count("200") == len(urls) * len(instances), None


def parallel_curl(cdn, host, urls, instances):
    """One curl process per (URL, instance), all started at once (at most 256 running: past that
    a 2-core machine spends its time starting processes)."""
    jobs = [curl_args(cdn, host, u, i) for u in urls for i in instances]

    def one(argv):
        return subprocess.run(argv, capture_output=True, text=True).stdout.strip()

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(256, len(jobs))) as pool:
        codes = list(pool.map(one, jobs))
    return time.perf_counter() - start, codes.count("200") == len(jobs), None


def pipelined(cdn, host, urls, instances):
    async def one(instance):
        ip, port = instance.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(ip, int(port))
        reqs = []
        for n, u in enumerate(urls):
            path = u.split(host, 1)[1]
            close = "close" if n == len(urls) - 1 else "keep-alive"
            reqs.append(f"PURGE {path} HTTP/1.1\r\nHost: {host}\r\nPurge-Token: {cdn.purge_token}\r\n"
                        f"Connection: {close}\r\n\r\n")
        writer.write("".join(reqs).encode())
        await writer.drain()
        buf, answered = b"", 0
        while answered < len(urls):
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buf += chunk
                continue
            head = buf[:end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n")[1:]:
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(buf) < end + 4 + length:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buf += chunk
                continue
            answered += head.startswith("http/1.1 200")
            buf = buf[end + 4 + length:]
        writer.close()
        return answered

    async def all_of_them():
        return await asyncio.gather(*(one(i) for i in instances))

    start = time.perf_counter()
    answered = asyncio.run(all_of_them())
    return time.perf_counter() - start, sum(answered) == len(urls) * len(instances), None


TOOLS = {
    "edgepurge": edgepurge,
    "shell loop": shell_loop,
    "parallel curl": parallel_curl,
    "pipelined": pipelined,
}


def runs_for(tool, n, count, quick):
    if tool == "shell loop":
        # One after the other: 100 URLs x 15 instances would take some 7 minutes, x 60 half an
        # hour. Run where it takes under a minute and a half.
        estimate = count * sum(2 * r for r in rtts(n)) / 1000
        return (1 if estimate < 90 else 0), estimate
    if tool == "parallel curl":
        return (1 if quick or count * n > 1000 else 3), None
    return (3 if quick else 5), None


# ---- the run -----------------------------------------------------------------------------------

def machine():
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu or platform.machine()})"


def sizes():
    out = {}
    for name, path in (("worker", ROOT / "crates/edgepurge-worker/build/index_bg.wasm"),
                       ("console", next((ROOT / "web/dist/pkg").glob("*_bg.wasm"), None))):
        if path and path.exists():
            raw = path.read_bytes()
            out[name] = {"raw": len(raw), "gzip": len(gzip.compress(raw, 9))}
    return out


def get_ms(port, path):
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return (time.perf_counter() - start) * 1000, resp.status


def get_api_ms(cdn, path, port=None):
    """One authenticated GET of the API (through wrangler dev's proxy unless `port` says
    otherwise); its time, ms."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port or cdn.ports.worker, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {cdn.api_token}"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"GET {path} answered {resp.status}: {body[:200]!r}")
    return (time.perf_counter() - start) * 1000


STORED_ROWS = 1_000_000


def seed_hours(cdn, instances, rows=STORED_ROWS):
    """Writes `rows` hourly rollups into the worker's local D1 (the worker stopped meanwhile):
    a thousand past hours for each of `instances`, the rest for retired instances, a hundred
    hours each. Returns the rows the table holds."""
    cdn.kill_worker()
    try:
        files = [f for f in (cdn.state / "wrangler").glob("v3/d1/*/*.sqlite") if f.name != "metadata.sqlite"]
        if len(files) != 1:
            raise RuntimeError(f"expected the one local D1 file, found {files}")
        db = sqlite3.connect(files[0])
        now_hour = int(time.time() // 3600)
        def gen():
            n = 0
            for inst in instances:
                for h in range(1, 1001):
                    yield (inst, now_hour - 24 - h)
                    n += 1
            retired = 0
            while n < rows:
                for h in range(100):
                    if n >= rows:
                        break
                    yield (f"retired-{retired}:80", now_hour - h)
                    n += 1
                retired += 1
        buckets = ", ".join(f"h{i}" for i in range(25))
        zeros = ", ".join("1" if i == 12 else "0" for i in range(25))
        db.executemany(
            f"INSERT OR IGNORE INTO instance_hours (instance, hour, requests, failed, timed, elapsed_sum, max_ms, "
            f"{buckets}, last_purge_id, last_at, last_url, last_outcome) "
            f"VALUES (?, ?, 1, 0, 1, 120, 120, {zeros}, 1, ? * 3600000, 'https://retired/', 'purged')",
            ((inst, hour, hour) for inst, hour in gen()))
        db.commit()
        (total,) = db.execute("SELECT count(*) FROM instance_hours").fetchone()
        db.close()
        return total
    finally:
        cdn.restart_worker()


def instances_page(cdn, instances, runs=200):
    """p50 of `GET /api/instances` on a fresh store, then with `STORED_ROWS` hourly rows stored;
    each measured the same way: on a worker just started, after the same warm-up, straight to
    workerd when its own port is found (wrangler dev's proxy adds noise), interleaved with
    `GET /api/me`, which reads no rollups: what the larger local store costs any request."""
    def p50s():
        port = runtime_port(cdn) or cdn.ports.worker
        for _ in range(100):  # warm: the isolate (V8 optimises hot wasm late), D1, discovery
            get_api_ms(cdn, "/api/instances", port)
            get_api_ms(cdn, "/api/me", port)
        page, me = [], []
        for _ in range(runs):
            page.append(get_api_ms(cdn, "/api/instances", port))
            me.append(get_api_ms(cdn, "/api/me", port))
        return statistics.median(page), statistics.median(me)
    cdn.restart_worker()
    fresh, fresh_me = p50s()
    stored = seed_hours(cdn, instances)
    stored_p50, stored_me = p50s()
    return {"runs": runs, "fresh_p50_ms": fresh, "stored_rows": stored, "stored_p50_ms": stored_p50,
            "me_fresh_p50_ms": fresh_me, "me_stored_p50_ms": stored_me}


def print_instances_page(page):
    print(f"GET /api/instances, p50 of {page['runs']}: {page['fresh_p50_ms']:.1f} ms on a fresh store, "
          f"{page['stored_p50_ms']:.1f} ms with {page['stored_rows']:,} hourly rows stored "
          f"({page['stored_p50_ms'] - page['fresh_p50_ms']:+.1f} ms); GET /api/me, which reads no rollups: "
          f"{page['me_fresh_p50_ms']:.1f} ms and {page['me_stored_p50_ms']:.1f} ms; the Instances page's own change, "
          f"net of what the larger local store costs every request: "
          f"{(page['stored_p50_ms'] - page['fresh_p50_ms']) - (page['me_stored_p50_ms'] - page['me_fresh_p50_ms']):+.1f} ms")


def runtime_port(cdn):
    """The port where workerd itself serves the worker, behind wrangler dev's proxy (which
    production does not have): the workerd socket, other than the proxy's, that answers
    /api/health. None if there is none."""
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout.splitlines()
    ports = sorted({int(line.split()[3].rsplit(":", 1)[1]) for line in listening
                    if '"workerd"' in line and line.split()[3].startswith("127.0.0.1:")} - {cdn.ports.worker})
    for port in ports:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/health")
            resp = conn.getresponse()
            if resp.status == 200 and json.loads(resp.read()).get("status") == "ok":
                return port
        except (OSError, ValueError, http.client.HTTPException):
            continue
    return None


def overhead(cdn, runs=50):
    """The worker's own path at zero latency: p50 of `runs` one-URL purges of the local CDN's
    three instances through edgepurge, against the same PURGEs sent directly and at once;
    through wrangler dev's proxy (the address users have) and straight to workerd behind it
    (the production path has no such proxy). Also each one's cost for a request that does no
    I/O at all (`GET /api/health`)."""
    instances = [f"{ip}:{cdn.ports.varnish}" for ip in INSTANCE_IPS]
    host = "bench-0.test"
    ports = {"proxy": cdn.ports.worker, "workerd": runtime_port(cdn)}
    # Warm first (as a production isolate is): the wasm's hot paths are compiled by V8's
    # optimising tier only after some calls.
    for _ in range(runs):
        edgepurge(cdn, host, [f"https://{host}/overhead/{uuid.uuid4().hex}"], instances)
    out = {"runs": runs}
    direct = []
    via = {name: [] for name, port in ports.items() if port}
    health = {name: [] for name in via}
    for _ in range(runs):
        for name in via:
            url = f"https://{host}/overhead/{uuid.uuid4().hex}"
            via[name].append(edgepurge(cdn, host, [url], instances, ports[name])[0] * 1000)
            health[name].append(get_ms(ports[name], "/api/health")[0])
        url = f"https://{host}/overhead/{uuid.uuid4().hex}"
        direct.append(pipelined(cdn, host, [url], instances)[0] * 1000)
    out["direct_p50_ms"] = statistics.median(direct)
    for name in via:
        out[name] = {"edgepurge_p50_ms": statistics.median(via[name]),
                     "overhead_p50_ms": statistics.median(via[name]) - out["direct_p50_ms"],
                     "no_io_request_p50_ms": statistics.median(health[name])}
    return out


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    fig, axes = plt.subplots(1, len(URL_COUNTS), figsize=(11, 4.2), sharey=False)
    for ax, count in zip(axes, URL_COUNTS):
        for tool in TOOLS:
            pts = [(r["instances"], r["median_ms"]) for r in results
                   if r["tool"] == tool and r["urls"] == count and r["median_ms"] is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=tool)
        floor = [(n, 2 * RTT_MAX) for n in SIZES]
        ax.plot(*zip(*floor), linestyle="--", color="grey", label="floor (2 x slowest round trip)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(SIZES, [str(n) for n in SIZES])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("instances (round trips 20 to 250 ms)")
        ax.set_ylabel("median wall time, ms")
        ax.set_title(f"{count} URL{'s' if count > 1 else ''} per purge")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--chart", type=Path, help="also copy the chart here (e.g. docs/bench.png)")
    parser.add_argument("--replot", action="store_true", help="only draw the chart again from the last bench.json")
    parser.add_argument("--overhead", action="store_true",
                        help="only the zero-latency overhead and the wasm sizes (printed, no files written)")
    parser.add_argument("--instances-page", action="store_true",
                        help="only the Instances page against 1,000,000 stored rows (printed, no files written)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.replot:
        chart(json.loads((OUT / "bench.json").read_text())["results"], OUT / "bench.png")
        if args.chart:
            args.chart.write_bytes((OUT / "bench.png").read_bytes())
        return
    hosts = {n: group(n) for n in SIZES}
    discovery = "; ".join(f"{h}=static:{','.join(a)}" for h, a in hosts.values())
    direct = ",".join(f"{ip}:{BENCH_PORTS.varnish}" for ip in INSTANCE_IPS)
    extra = {
        "ALLOWED_HOSTS": ", ".join([SITE, "bench-0.test", *(h for h, _ in hosts.values())]),
        "DISCOVERY": f"{discovery}; bench-0.test=static:{direct}; *=dns:{DNS_NAME}:{BENCH_PORTS.varnish}",
        "RATE_LIMIT_PER_MINUTE": "100000",
        "READ_RATE_LIMIT_PER_MINUTE": "100000",
        "INSTANCE_TIMEOUT_MS": "10000",
    }
    # Without the layered sites: their upstream worker would be one more workerd (runtime_port
    # must find this worker's), and the bench purges none of them.
    cdn = LocalCDN(ports=BENCH_PORTS, state=ROOT / ".state" / "bench-cdn", extra_vars=extra, layers=False)
    print("starting the local CDN (bench ports) and the latency proxies...", flush=True)
    cdn.start()
    proxy = start_proxies(cdn)
    results = []
    try:
        # Warm the worker (first request compiles and opens D1).
        edgepurge(cdn, "bench-0.test", ["https://bench-0.test/warm"], direct.split(","))
        if args.overhead:
            print_overhead(overhead(cdn), sizes())
            return
        every_instance = sorted({i for _, addrs in hosts.values() for i in addrs} | set(direct.split(",")))
        page = instances_page(cdn, every_instance, runs=50 if args.quick else 200)
        print_instances_page(page)
        if args.instances_page:
            return
        for n in SIZES:
            host, instances = hosts[n]
            for count in URL_COUNTS:
                for tool, fn in TOOLS.items():
                    runs, estimate = runs_for(tool, n, count, args.quick)
                    times, ok = [], True
                    for _ in range(runs):
                        batch = uuid.uuid4().hex
                        urls = [f"https://{host}/bench/{batch}/{i}" for i in range(count)]
                        elapsed, good, _ = fn(cdn, host, urls, instances)
                        ok &= good
                        times.append(elapsed * 1000)
                    row = {"tool": tool, "instances": n, "urls": count, "runs": runs, "all_answered": ok,
                           "min_ms": min(times) if times else None,
                           "median_ms": statistics.median(times) if times else None,
                           "floor_ms": 2 * RTT_MAX, "estimate_ms": None if times else estimate * 1000}
                    results.append(row)
                    shown = f"{row['median_ms']:9.0f}" if times else f"  (not run: about {estimate:.0f} s)"
                    print(f"  {n:3} instances x {count:3} URLs  {tool:14} {shown}", flush=True)
        zero = overhead(cdn)
    finally:
        proxy.kill()
        cdn.stop()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = {"date": stamp, "machine": machine(), "round_trips_ms": [RTT_MIN, RTT_MAX],
           "floor_ms": 2 * RTT_MAX, "results": results, "zero_latency": zero, "wasm": sizes(),
           "instances_page": page}
    (OUT / "bench.json").write_text(json.dumps(out, indent=2))
    chart(results, OUT / "bench.png")
    if args.chart:
        args.chart.write_bytes((OUT / "bench.png").read_bytes())
    print()
    print(f"edgepurge bench, {stamp}, {out['machine']}")
    print(f"round trips {RTT_MIN:g}-{RTT_MAX:g} ms; floor = {2 * RTT_MAX:g} ms: a new connection's handshake "
          "plus one round trip to the farthest instance")
    print()
    print("| purge | tool | runs | min ms | median ms | median / floor |")
    print("|---|---|---|---|---|---|")
    for r in results:
        label = f"{r['urls']} URL{'s' if r['urls'] > 1 else ''} x {r['instances']} instances"
        if r["median_ms"] is None:
            print(f"| {label} | {r['tool']} | 0 | | not run (about {r['estimate_ms'] / 1000:.0f} s) | |")
            continue
        flag = "" if r["all_answered"] else " (not all answered!)"
        print(f"| {label} | {r['tool']} | {r['runs']} | {r['min_ms']:,.0f} | {r['median_ms']:,.0f}{flag} | "
              f"{r['median_ms'] / r['floor_ms']:.2f} |")
    print()
    print_overhead(zero, out["wasm"])
    print_instances_page(page)
    print(f"\nwritten: {OUT / 'bench.json'}, {OUT / 'bench.png'}")
    bad = [r for r in results if r["median_ms"] is not None and not r["all_answered"]]
    if bad:
        print(f"{len(bad)} runs did not get every answer", file=sys.stderr)
        sys.exit(1)


def print_overhead(zero, wasm):
    print(f"zero latency, p50 of {zero['runs']} one-URL purges of 3 instances; a direct parallel PURGE takes "
          f"{zero['direct_p50_ms']:.1f} ms")
    for name, label in (("proxy", "through wrangler dev's proxy"), ("workerd", "straight to workerd")):
        if name in zero:
            z = zero[name]
            print(f"  {label:28}: edgepurge {z['edgepurge_p50_ms']:.1f} ms, overhead {z['overhead_p50_ms']:.1f} ms "
                  f"(a request with no I/O, GET /api/health: {z['no_io_request_p50_ms']:.1f} ms)")
    for name, s in wasm.items():
        print(f"{name} wasm: {s['raw']:,} bytes raw, {s['gzip']:,} gzip")


if __name__ == "__main__":
    main()
