#!/usr/bin/env python3
"""The local CDN: a demo origin, three varnishd instances, dnsdist serving DNS over HTTPS, and the
edgepurge worker in workerd (`wrangler dev`), all on loopback; beside it, a second edgepurge worker
(the "upstream") whose Fastly- and Cloudflare-compatible endpoints play the Fastly service and
the Cloudflare zones in front of the layered sites, with varnishd instances of its own.

Used two ways:
  * `scripts/run` runs this file: it starts everything, prints the API address, a demo token and
    one JSON line ({"api", "token", "instances", "site", ...}), and stops everything on Ctrl-C;
  * the end-to-end tests import `LocalCDN` and stop and start single parts (an instance, the DoH
    server) to see how the worker copes.

Only the standard library is used, so it runs on a fresh Debian with python3.
"""
import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE = "www.edgepurge.test"
DNS_NAME = "instances.edgepurge.test"
INSTANCE_IPS = ("127.0.1.1", "127.0.1.2", "127.0.1.3")
# Fault instances, in DNS only when a test asks: one never answers, one has the wrong purge token.
BLACKHOLE_IP = "127.0.1.4"
WRONG_TOKEN_IP = "127.0.1.5"
# The second instance group: the assets host, two varnishd reached only over TLS, through an
# haproxy terminating TLS on their own addresses with a certificate of the local CDN's test CA.
ASSETS_SITE = "assets.edgepurge.test"
ASSETS_IPS = ("127.0.1.6", "127.0.1.7")
TLS_IPS = ("127.0.3.1", "127.0.3.2")
# A Fly-like app: a Machines API stand-in lists its Machines, and a Fly-like edge (haproxy,
# TLS, routing on fly-force-instance-id, 503 for an unknown id) reaches them. Its Machines are
# the assets group's varnishd and one app varnishd, under their own host name.
FLY_SITE = "fly.edgepurge.test"
FLY_APP = "edgepurge-demo"
FLY_EDGE_IP = "127.0.4.1"
# A wide group, for fan-out past six connections: 15 instance addresses, five on each of the app
# group's varnishd (extra listen addresses), named by a static list.
WIDE_SITE = "wide.edgepurge.test"
WIDE_IPS = tuple(f"127.0.6.{n}" for n in range(1, 16))
# The plain group: two varnishd that behave like Pipely's stock Varnish config (tests/cdn/plain.vcl:
# a token-checked PURGE of the request's own URL answered `200 Purged` with no count, Pipely's
# cache-status), declared to the worker as such (`:contract=plain`), one per region.
PLAIN_SITE = "pipely.edgepurge.test"
PLAIN_IPS = ("127.0.5.1", "127.0.5.2")
PLAIN_REGIONS = ("fra", "iad")
# The misdeclared group: one more such varnishd, declared to the worker as an edgepurge-contract
# instance (no contract option), as a mistaken setup would.
MISDECLARED_SITE = "legacy.edgepurge.test"
MISDECLARED_IPS = ("127.0.5.3",)
MISDECLARED_REGIONS = ("syd",)
# The host name plain.vcl's cache-status gives as the origin's (Pipely: env BACKEND_APP_FQDN).
PLAIN_ORIGIN_FQDN = "origin.edgepurge.test"
# The layered sites (several groups for one host): a host served by varnishd of this CDN with a
# Fastly service and a Cloudflare zone in front, as changelog.com is by Pipely and Fastly, and
# one with only a Cloudflare zone in front. The "upstream" worker, a second edgepurge worker of
# this CDN (its own port, D1 and token), plays that Fastly service and those zones through its
# Fastly- and Cloudflare-compatible endpoints, and purges its own varnishd: UPSTREAM_IPS[0]
# serves LAYERS_SITE, UPSTREAM_IPS[1] EDGE_SITE.
LAYERS_SITE = "layers.edgepurge.test"
EDGE_SITE = "edge.edgepurge.test"
LAYERS_IPS = ("127.0.10.1", "127.0.10.2")
EDGE_IPS = ("127.0.10.3",)
UPSTREAM_IPS = ("127.0.11.1", "127.0.11.2")
# Ids as the vendors' documentation writes them (Fastly: a service id; Cloudflare: zone ids).
FASTLY_SERVICE = "SU1Z0isxPaozGVKXdv0eY"
LAYERS_ZONE = "023e105f4ecef8ad9ca31a8372d0c353"
EDGE_ZONE = "5c9bbc4ae7742a63c441c9fbbe95d582"
# (id, region, state, the varnishd behind it)
FLY_MACHINES = (
    ("3d8d9e1f0e9d87", "fra", "started", "127.0.1.6"),
    ("e784079b449483", "iad", "started", "127.0.1.7"),
    ("148e272b4e5d89", "syd", "stopped", "127.0.1.3"),
)


@dataclass
class Ports:
    """Loopback ports of one local CDN; the tests use their own set so a running demo is left alone."""
    varnish: int = 6081
    origin: int = 8080
    doh: int = 8053
    dns: int = 8054
    worker: int = 8787
    inspector: int = 9229
    tls: int = 8443
    fly_api: int = 4280
    otlp: int = 4318
    upstream: int = 8788  # the upstream worker (the layered sites' Fastly service and Cloudflare zones)
    upstream_inspector: int = 9230
    webhook: int = 8789  # the webhook receiver (tests/cdn/webhook_receiver.py): the worker's notifications


RUN_PORTS = Ports()
TEST_PORTS = Ports(varnish=16081, origin=18080, doh=18053, dns=18054, worker=18787, inspector=19229, tls=18443, fly_api=14280, otlp=14318,
                   upstream=18788, upstream_inspector=19230, webhook=18789)
CONSOLE_PORTS = Ports(varnish=26081, origin=28080, doh=28053, dns=28054, worker=28787, inspector=29229, tls=28443, fly_api=24280, otlp=24318,
                      upstream=28788, upstream_inspector=29230, webhook=28789)
# Every port below 32768, outside Linux's default ephemeral range: a listener there can collide
# with some client socket's local port ("Address already in use").
SOAK_PORTS = Ports(varnish=31081, origin=32080, doh=32053, dns=32054, worker=32687, inspector=32229, tls=32443, fly_api=30280, otlp=30318,
                   upstream=32688, upstream_inspector=32230, webhook=32689)
API_PORTS = Ports(varnish=21081, origin=23080, doh=23053, dns=23054, worker=23787, inspector=24229, tls=23443, fly_api=20280, otlp=20318,
                  upstream=23788, upstream_inspector=24230, webhook=23789)
BENCH_PORTS = Ports(varnish=27081, origin=27080, doh=27053, dns=27054, worker=27787, inspector=27229, tls=27443, fly_api=27280, otlp=27318,
                    upstream=27788, upstream_inspector=27230, webhook=27789)
PORT_SETS = {"run": RUN_PORTS, "test": TEST_PORTS, "console": CONSOLE_PORTS, "soak": SOAK_PORTS, "api": API_PORTS,
             "bench": BENCH_PORTS}


def wait_for(what, check, timeout, proc=None, log=None):
    """Polls `check` until it is true; fails early if `proc` died, showing the end of `log`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}\n{tail(log)}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout} s\n{tail(log)}")


def tail(path, lines=40):
    if path is None or not Path(path).exists():
        return ""
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def tcp_open(host, port):
    with socket.create_connection((host, port), timeout=1):
        return True


def http_get(host, port, path, headers=None, timeout=10):
    """GET over a fresh connection; returns (status, headers dict lower-cased, body bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@dataclass
class LocalCDN:
    ports: Ports = field(default_factory=Ports)
    state: Path = ROOT / ".state" / "run"
    api_token: str = field(default_factory=lambda: "ep_demo_" + secrets.token_urlsafe(24))
    purge_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    fly_token: str = field(default_factory=lambda: "fo1_demo_" + secrets.token_urlsafe(24))
    webhook_secret: str = field(default_factory=lambda: "whsec_demo_" + secrets.token_urlsafe(24))  # NOTIFY_SECRET
    instance_timeout_ms: int = 2000
    extra_vars: dict = field(default_factory=dict)  # more worker settings, e.g. Cloudflare Access
    wide: bool = False  # the 15-address group (WIDE_SITE), for the fan-out tests
    # The layered sites (LAYERS_SITE, EDGE_SITE) and the upstream worker in front of them.
    layers: bool = True
    upstream_token: str = field(default_factory=lambda: "ep_upstream_" + secrets.token_urlsafe(24))
    procs: dict = field(default_factory=dict)

    # ---- what callers need ------------------------------------------------------------------
    @property
    def api(self):
        return f"http://127.0.0.1:{self.ports.worker}"

    @property
    def instances(self):
        return [f"{ip}:{self.ports.varnish}" for ip in INSTANCE_IPS]

    @property
    def wide_instances(self):
        return [f"{ip}:{self.ports.varnish}" for ip in WIDE_IPS]

    @property
    def plain_instances(self):
        """The plain group (Pipely-like VCL, declared `:contract=plain`)."""
        return [f"{ip}:{self.ports.varnish}" for ip in PLAIN_IPS]

    @property
    def misdeclared_instances(self):
        """The misdeclared group (Pipely-like VCL, declared as edgepurge-contract instances)."""
        return [f"{ip}:{self.ports.varnish}" for ip in MISDECLARED_IPS]

    @property
    def assets_instances(self):
        """The assets group as reports name them: the TLS addresses the worker connects to."""
        return [f"{ip}:{self.ports.tls}" for ip in TLS_IPS]

    @property
    def assets_varnish(self):
        """The assets group's varnishd themselves, behind the TLS terminator (for direct fetches)."""
        return [f"{ip}:{self.ports.varnish}" for ip in ASSETS_IPS]

    @property
    def layers_instances(self):
        """LAYERS_SITE's own instances in this CDN (varnishd, group `layers` for `counter`)."""
        return [f"{ip}:{self.ports.varnish}" for ip in LAYERS_IPS]

    @property
    def edge_instances(self):
        """EDGE_SITE's own instances in this CDN (varnishd, group `edge-site` for `counter`)."""
        return [f"{ip}:{self.ports.varnish}" for ip in EDGE_IPS]

    @property
    def upstream_api(self):
        """The upstream worker: its Fastly- and Cloudflare-compatible endpoints are the layered
        sites' Fastly service and Cloudflare zones (FASTLY_API_URL, CLOUDFLARE_API_URL), and its
        own API answers with `upstream_token`."""
        return f"http://127.0.0.1:{self.ports.upstream}"

    @property
    def upstream_instances(self):
        """The upstream worker's varnishd (group `upstream` for `counter`): the first serves
        LAYERS_SITE, the second EDGE_SITE."""
        return [f"{ip}:{self.ports.varnish}" for ip in UPSTREAM_IPS]

    @property
    def upstream_groups(self):
        """The upstream groups of the layered sites, as report rows name them, by host."""
        return {LAYERS_SITE: [f"fastly:{FASTLY_SERVICE}", f"cloudflare:{LAYERS_ZONE}"],
                EDGE_SITE: [f"cloudflare:{EDGE_ZONE}"]}

    def info(self):
        started = [f"{r} {i}" for i, r, s, _ in FLY_MACHINES if s == "started"]
        info = {"api": self.api, "token": self.api_token, "instances": self.instances, "site": SITE,
                "assets_site": ASSETS_SITE, "assets_instances": self.assets_instances,
                "assets_varnish": self.assets_varnish,
                "fly_site": FLY_SITE, "fly_instances": started,
                "plain_site": PLAIN_SITE, "plain_instances": self.plain_instances,
                "legacy_site": MISDECLARED_SITE, "legacy_instances": self.misdeclared_instances}
        if self.layers:
            info.update({"layers_site": LAYERS_SITE, "layers_instances": self.layers_instances,
                         "edge_site": EDGE_SITE, "edge_instances": self.edge_instances,
                         "upstream_groups": self.upstream_groups,
                         "upstream_api": self.upstream_api, "upstream_token": self.upstream_token,
                         "upstream_instances": self.upstream_instances})
        return info

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self):
        if self.state.exists():
            shutil.rmtree(self.state)
        (self.state / "logs").mkdir(parents=True)
        try:
            self.start_origin()
            for i in range(len(INSTANCE_IPS)):
                self.start_instance(i)
            for i, ip in enumerate(ASSETS_IPS):
                self._start_varnish(ip, f"assets-{i + 1}", self.purge_token)
            for i in range(len(PLAIN_IPS)):
                self.start_plain(i)
            for i in range(len(MISDECLARED_IPS)):
                self.start_misdeclared(i)
            self.make_certificates()
            self.start_tls()
            self.start_fly()
            self.start_otlp()
            self.start_webhook()
            self.start_doh()
            if self.layers:
                self.start_layers()
            self.start_worker()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for name in list(self.procs):
            self._kill(name)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- parts -------------------------------------------------------------------------------
    def _spawn(self, name, argv, env=None, cwd=None):
        log = self.state / "logs" / f"{name}.log"
        out = open(log, "ab")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
        out.close()
        self.procs[name] = proc
        return proc, log

    def _kill(self, name):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            os.killpg(proc.pid, signal.SIGCONT)  # a frozen instance must wake to take the TERM
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def start_origin(self):
        proc, log = self._spawn("origin", [sys.executable, str(ROOT / "tests/cdn/origin.py"),
                                           "127.0.0.1", str(self.ports.origin)])
        wait_for("origin", lambda: tcp_open("127.0.0.1", self.ports.origin), 15, proc, log)

    def start_instance(self, i):
        """Starts varnishd number i (0-based) on INSTANCE_IPS[i] (and five of WIDE_IPS) with a
        fresh, empty cache."""
        more = WIDE_IPS[5 * i:5 * i + 5] if self.wide else ()
        self._start_varnish(INSTANCE_IPS[i], f"varnish-{i + 1}", self.purge_token, more)

    def _start_varnish(self, ip, name, purge_token, more_ips=()):
        vcl = self.state / "demo.vcl"
        if not vcl.exists():
            text = (ROOT / "tests/cdn/demo.vcl").read_text()
            text = text.replace("${ORIGIN_PORT}", str(self.ports.origin))
            text = text.replace("${EDGEPURGE_VCL}", str(ROOT / "vcl/edgepurge.vcl"))
            vcl.write_text(text)
        workdir = self.state / name
        workdir.mkdir(exist_ok=True)
        listen = [arg for extra in more_ips for arg in ("-a", f"{extra}:{self.ports.varnish}")]
        argv = ["varnishd", "-F", "-j", "none", "-n", str(workdir), "-a", f"{ip}:{self.ports.varnish}", *listen,
                "-T", "none", "-i", name.replace("varnish", "edge"), "-f", str(vcl), "-s", "malloc,32m",
                "-p", "timeout_idle=5", "-p", "thread_stats_rate=1", "-t", "3600"]
        proc, log = self._spawn(name, argv, env={"EDGEPURGE_PURGE_TOKEN": purge_token})
        wait_for(f"varnishd on {ip}", lambda: tcp_open(ip, self.ports.varnish), 30, proc, log)

    def stop_instance(self, i):
        self._kill(f"varnish-{i + 1}")

    def start_plain(self, i):
        """Starts varnishd number i (0-based) of the plain group, `plain-<i+1>` on PLAIN_IPS[i],
        Pipely-like (tests/cdn/plain.vcl), region PLAIN_REGIONS[i], with a fresh, empty cache."""
        self._start_pipely_like(PLAIN_IPS[i], f"plain-{i + 1}", PLAIN_REGIONS[i], PLAIN_SITE)

    def stop_plain(self, i):
        self._kill(f"plain-{i + 1}")

    def start_misdeclared(self, i):
        """Starts varnishd number i of the misdeclared group, `legacy-<i+1>`: the same VCL as the
        plain group, but declared to the worker as an edgepurge-contract instance."""
        self._start_pipely_like(MISDECLARED_IPS[i], f"legacy-{i + 1}", MISDECLARED_REGIONS[i], MISDECLARED_SITE)

    def stop_misdeclared(self, i):
        self._kill(f"legacy-{i + 1}")

    def _start_pipely_like(self, ip, name, region, site):
        """A varnishd with tests/cdn/plain.vcl, set up through the environment as Pipely's are:
        PURGE_TOKEN (the same token as every other instance), FLY_REGION, BACKEND_APP_FQDN and
        APP_HOST; its storage named `memory`, as Pipely's, so cache-status says storage.memory."""
        vcl = self.state / "plain.vcl"
        if not vcl.exists():
            vcl.write_text((ROOT / "tests/cdn/plain.vcl").read_text().replace("${ORIGIN_PORT}", str(self.ports.origin)))
        workdir = self.state / name
        workdir.mkdir(exist_ok=True)
        argv = ["varnishd", "-F", "-j", "none", "-n", str(workdir), "-a", f"{ip}:{self.ports.varnish}",
                "-T", "none", "-i", name, "-f", str(vcl), "-s", "memory=malloc,32m",
                "-p", "timeout_idle=5", "-p", "thread_stats_rate=1"]
        env = {"PURGE_TOKEN": self.purge_token, "FLY_REGION": region, "BACKEND_APP_FQDN": PLAIN_ORIGIN_FQDN,
               "APP_HOST": site}
        proc, log = self._spawn(name, argv, env=env)
        wait_for(f"varnishd on {ip}", lambda: tcp_open(ip, self.ports.varnish), 30, proc, log)

    def freeze_instance(self, i):
        """Freezes varnishd number i (SIGSTOP to its process group): unreachable, cache kept."""
        os.killpg(self.procs[f"varnish-{i + 1}"].pid, signal.SIGSTOP)

    def thaw_instance(self, i):
        os.killpg(self.procs[f"varnish-{i + 1}"].pid, signal.SIGCONT)

    def start_layers(self):
        """The layered sites: their own varnishd in this CDN (`layers-N` for LAYERS_SITE,
        `edge-site-N` for EDGE_SITE), and the upstream worker with its varnishd (`upstream-N`),
        which the main worker reaches as the Fastly service and the Cloudflare zones in front."""
        for i, ip in enumerate(LAYERS_IPS):
            self._start_varnish(ip, f"layers-{i + 1}", self.purge_token)
        for i, ip in enumerate(EDGE_IPS):
            self._start_varnish(ip, f"edge-site-{i + 1}", self.purge_token)
        for i, ip in enumerate(UPSTREAM_IPS):
            self._start_varnish(ip, f"upstream-{i + 1}", self.purge_token)
        self.start_upstream()

    def counter(self, i, name, group="varnish"):
        """A varnishstat counter of varnishd number i of `group` (`varnish`: the app group,
        `assets`: the TLS group, `plain`: the plain group, `legacy`: the misdeclared one,
        `layers` and `edge-site`: the layered sites' own instances, `upstream`: the upstream
        worker's), e.g. MAIN.client_req or MAIN.sess_conn. The instances run with thread_stats_rate=1, so counters
        are current after each request."""
        out = subprocess.run(["varnishstat", "-n", str(self.state / f"{group}-{i + 1}"), "-1", "-f", name],
                             check=True, capture_output=True, text=True, timeout=30).stdout
        return int(out.split()[1])

    # ---- TLS ----------------------------------------------------------------------------------
    @property
    def ca_file(self):
        """The test CA's certificate: what workerd trusts (NODE_EXTRA_CA_CERTS), certificates only."""
        return self.state / "tls" / "ca.pem"

    def make_certificates(self):
        """A throwaway test CA and, signed by it, a certificate for the assets host and one for
        another name (for the mismatch test). Made fresh for every local CDN, kept in its state."""
        tls = self.state / "tls"
        tls.mkdir(exist_ok=True)

        def openssl(*args):
            subprocess.run(["openssl", *args], cwd=tls, check=True, capture_output=True, timeout=60)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=edgepurge local CDN test CA")
        for name, host in (("assets", ASSETS_SITE), ("other", "other.edgepurge.test"), ("fly", FLY_SITE)):
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                    "-subj", f"/CN={host}")
            (tls / f"{name}.ext").write_text(f"subjectAltName=DNS:{host}\n")
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")
            # haproxy takes the certificate and its key in one file.
            (tls / f"{name}.pem").write_text((tls / f"{name}.crt").read_text() + (tls / f"{name}.key").read_text())

    def start_tls(self, wrong_name_on=None):
        """haproxy terminating TLS in front of the assets group: TLS_IPS[i] -> ASSETS_IPS[i]. With
        `wrong_name_on=i`, that address presents a certificate for another name (same CA)."""
        tls = self.state / "tls"
        lines = ["global", "  maxconn 1000", "defaults", "  mode tcp", "  timeout connect 5s",
                 "  timeout client 30s", "  timeout server 30s"]
        for i, (front, back) in enumerate(zip(TLS_IPS, ASSETS_IPS)):
            cert = tls / ("other.pem" if i == wrong_name_on else "assets.pem")
            lines += [f"listen assets-{i + 1}", f"  bind {front}:{self.ports.tls} ssl crt {cert}",
                      f"  server assets-{i + 1} {back}:{self.ports.varnish}"]
        config = tls / "haproxy.cfg"
        config.write_text("\n".join(lines) + "\n")
        proc, log = self._spawn("haproxy", ["haproxy", "-db", "-f", str(config)])
        for ip in TLS_IPS:
            wait_for(f"haproxy on {ip}", lambda ip=ip: tcp_open(ip, self.ports.tls), 15, proc, log)

    def restart_tls(self, wrong_name_on=None):
        self._kill("haproxy")
        self.start_tls(wrong_name_on)

    # ---- traces --------------------------------------------------------------------------------
    @property
    def otlp(self):
        """The local OTLP receiver's address."""
        return f"http://127.0.0.1:{self.ports.otlp}"

    def start_otlp(self):
        """The local OTLP/HTTP receiver (tests/cdn/otlp_receiver.py, on the .venv's Python with the
        OpenTelemetry protobuf schema)."""
        python = ROOT / ".venv" / "bin" / "python"
        if not python.exists():
            raise RuntimeError(f"{python} is missing: run scripts/setup")
        proc, log = self._spawn("otlp-receiver", [str(python), str(ROOT / "tests/cdn/otlp_receiver.py"),
                                                  "127.0.0.1", str(self.ports.otlp)])
        wait_for("OTLP receiver", lambda: tcp_open("127.0.0.1", self.ports.otlp), 15, proc, log)

    def otlp_get(self, what):
        status, _, body = http_get("127.0.0.1", self.ports.otlp, f"/{what}")
        assert status == 200, (what, status)
        return json.loads(body)

    def otlp_fail(self, status):
        """Makes the receiver answer every export with `status` (200 heals it)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.ports.otlp, timeout=10)
        conn.request("POST", "/control", body=json.dumps({"status": status}))
        assert conn.getresponse().status == 200
        conn.close()

    # ---- webhook receiver ----------------------------------------------------------------------
    @property
    def webhook(self):
        """Where the worker sends its notifications (NOTIFY_WEBHOOKS)."""
        return f"http://127.0.0.1:{self.ports.webhook}/hooks/edgepurge"

    def start_webhook(self):
        """The local webhook receiver (tests/cdn/webhook_receiver.py): checks each notification's
        signature with `webhook_secret` and keeps what it got (`webhook_received`)."""
        proc, log = self._spawn("webhook-receiver", [sys.executable, str(ROOT / "tests/cdn/webhook_receiver.py"),
                                                     "127.0.0.1", str(self.ports.webhook), self.webhook_secret])
        wait_for("webhook receiver", lambda: tcp_open("127.0.0.1", self.ports.webhook), 15, proc, log)

    def stop_webhook(self):
        self._kill("webhook-receiver")

    def webhook_received(self):
        """Every POST the receiver got since it started: path, headers, signature_valid, body, raw."""
        status, _, body = http_get("127.0.0.1", self.ports.webhook, "/received")
        assert status == 200, (status, body)
        return json.loads(body)

    # ---- Fly-like app --------------------------------------------------------------------------
    @property
    def fly_state(self):
        return self.state / "fly" / "machines.json"

    def fly_machines(self):
        """The Machines the stand-in lists now (its JSON shape)."""
        return json.loads(self.fly_state.read_text())["apps"][FLY_APP]

    def set_fly_machines(self, machines=None, token=None):
        """What the Machines API stand-in answers from now on: the Machines (default: FLY_MACHINES)
        and the token it accepts (default: the worker's)."""
        if machines is None:
            machines = [{"id": i, "name": f"{FLY_APP}-{r}", "state": s, "region": r,
                         "private_ip": f"fdaa:0:1::{n + 1}", "config": {"image": "varnish"}}
                        for n, (i, r, s, _) in enumerate(FLY_MACHINES)]
        self.fly_state.parent.mkdir(exist_ok=True)
        tmp = self.fly_state.with_suffix(".tmp")
        tmp.write_text(json.dumps({"token": token or self.fly_token, "apps": {FLY_APP: machines}}))
        tmp.replace(self.fly_state)

    def start_machines_api(self):
        proc, log = self._spawn("machines-api", [sys.executable, str(ROOT / "tests/cdn/machines_api.py"),
                                                 "127.0.0.1", str(self.ports.fly_api), str(self.fly_state)])
        wait_for("Machines API stand-in", lambda: tcp_open("127.0.0.1", self.ports.fly_api), 15, proc, log)

    def start_fly(self):
        """The Machines API stand-in, and the Fly-like edge: haproxy terminating TLS for FLY_SITE
        and routing each request on fly-force-instance-id to that Machine's varnishd; an unknown
        id gets 503 (no server), as Fly's proxy answers."""
        self.set_fly_machines()
        self.start_machines_api()
        tls = self.state / "tls"
        lines = ["global", "  maxconn 1000", "defaults", "  mode http", "  timeout connect 5s",
                 "  timeout client 30s", "  timeout server 30s", "  timeout http-keep-alive 5s",
                 # One backend connection per request, as each Machine's own proxy would see it.
                 "  option http-server-close",
                 "frontend fly-edge", f"  bind {FLY_EDGE_IP}:{self.ports.tls} ssl crt {tls / 'fly.pem'}"]
        for machine_id, *_ in FLY_MACHINES:
            lines.append(f"  use_backend m-{machine_id} if {{ req.hdr(fly-force-instance-id) -m str {machine_id} }}")
        lines.append("  default_backend no-such-machine")
        for machine_id, _, _, ip in FLY_MACHINES:
            lines += [f"backend m-{machine_id}", f"  server m-{machine_id} {ip}:{self.ports.varnish}"]
        lines += ["backend no-such-machine"]
        config = tls / "fly-edge.cfg"
        config.write_text("\n".join(lines) + "\n")
        proc, log = self._spawn("fly-edge", ["haproxy", "-db", "-f", str(config)])
        wait_for("Fly-like edge", lambda: tcp_open(FLY_EDGE_IP, self.ports.tls), 15, proc, log)

    def start_faults(self):
        """Starts the fault instances and puts them in DNS next to the three real ones."""
        proc, log = self._spawn("blackhole", [sys.executable, str(ROOT / "tests/cdn/blackhole.py"),
                                              BLACKHOLE_IP, str(self.ports.varnish)])
        wait_for("blackhole", lambda: tcp_open(BLACKHOLE_IP, self.ports.varnish), 10, proc, log)
        self._start_varnish(WRONG_TOKEN_IP, "varnish-wrong-token", "not-the-purge-token")
        self.stop_doh()
        self.start_doh(ips=INSTANCE_IPS + (BLACKHOLE_IP, WRONG_TOKEN_IP))

    def stop_faults(self):
        self._kill("blackhole")
        self._kill("varnish-wrong-token")
        self.stop_doh()
        self.start_doh()

    def start_garbage_doh(self):
        """Replaces dnsdist with a DoH server that answers junk."""
        self.stop_doh()
        proc, log = self._spawn("garbage-doh", [sys.executable, str(ROOT / "tests/cdn/garbage_doh.py"),
                                                "127.0.0.1", str(self.ports.doh)])
        wait_for("garbage DoH", lambda: tcp_open("127.0.0.1", self.ports.doh), 10, proc, log)

    def stop_garbage_doh(self):
        self._kill("garbage-doh")
        self.start_doh()

    def run_scheduled(self):
        """Fires the worker's cron trigger now (wrangler dev --test-scheduled)."""
        status, _, body = http_get("127.0.0.1", self.ports.worker, "/__scheduled?cron=*+*+*+*+*", timeout=120)
        if status != 200:
            raise RuntimeError(f"/__scheduled answered {status}: {body!r}")

    def d1(self, sql):
        """Runs SQL on the worker's local D1 database (what the tests cannot see through the API);
        returns the result rows."""
        env_sh = ROOT / "scripts/env.sh"
        argv = ["bash", "-c", f'source "{env_sh}" && exec "$@"', "wrangler", "wrangler", "d1", "execute", "edgepurge",
                "--local", "--persist-to", str(self.state / "wrangler"), "--json", "--command", sql]
        out = subprocess.run(argv, cwd=ROOT, check=True, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=120).stdout
        return json.loads(out)[0]["results"]

    def start_doh(self, ips=INSTANCE_IPS):
        conf = self.state / "dnsdist.conf"
        spoof = ", ".join(f'"{ip}"' for ip in ips)
        conf.write_text(f"""
setSecurityPollSuffix("")
setLocal("127.0.0.1:{self.ports.dns}")
-- DNS over HTTPS without TLS: plain HTTP/1.1 on loopback.
addDOHLocal("127.0.0.1:{self.ports.doh}", nil, nil, "/dns-query")
addAction(AndRule({{QNameRule("{DNS_NAME}"), QTypeRule(DNSQType.A)}}), SpoofAction({{{spoof}}}))
addAction(QNameRule("{DNS_NAME}"), RCodeAction(DNSRCode.NOERROR))
addAction(AllRule(), RCodeAction(DNSRCode.REFUSED))
""")
        proc, log = self._spawn("dnsdist", ["dnsdist", "--supervised", "--disable-syslog", "-C", str(conf)])
        wait_for("dnsdist", lambda: tcp_open("127.0.0.1", self.ports.doh), 20, proc, log)

    def stop_doh(self):
        self._kill("dnsdist")

    @property
    def service_name(self):
        """The main worker's OTEL_SERVICE_NAME (the `service` of its spans)."""
        return os.environ.get("OTEL_SERVICE_NAME", "edgepurge-local")

    @property
    def upstream_service_name(self):
        """The upstream worker's OTEL_SERVICE_NAME: its spans reach the same receiver."""
        return f"{self.service_name}-upstream"

    def _shared_vars(self, service_name):
        """Settings both workers take: traces, timeouts, retries, the instances' purge token."""
        return {
            # Traces to the local receiver, unless the environment names another collector
            # (e.g. Honeycomb's https://api.honeycomb.io with OTEL_EXPORTER_OTLP_HEADERS).
            "OTEL_EXPORTER_OTLP_ENDPOINT": os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", self.otlp),
            "OTEL_EXPORTER_OTLP_HEADERS": os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=local-test-key"),
            "OTEL_SERVICE_NAME": service_name,
            "TRACE_URL_TEMPLATE": os.environ.get("TRACE_URL_TEMPLATE", f"{self.otlp}/trace/{{trace_id}}"),
            "INSTANCE_TIMEOUT_MS": str(self.instance_timeout_ms),
            # Quick enough to watch: inline retries within a second, redelivery after seconds.
            "RETRY_BASE_MS": "50",
            "RETRY_CAP_MS": "500",
            "REDELIVERY_BASE_MS": "2000",
            "REDELIVERY_CAP_MS": "30000",
            "PURGE_TOKEN": self.purge_token,
            # The local CDN's instances are on loopback addresses.
            "ALLOW_PRIVATE_INSTANCES": "true",
        }

    def start_worker(self, expect_health=200):
        tls_list = ",".join(self.assets_instances)
        # The layered sites: each its own instances, and the upstream groups in front of them
        # (several rules for one host), all reached at the upstream worker.
        layers = (f"{LAYERS_SITE}=static:{','.join(self.layers_instances)}; "
                  + f"{LAYERS_SITE}=fastly:{FASTLY_SERVICE}; {LAYERS_SITE}=cloudflare:{LAYERS_ZONE}; "
                  + f"{EDGE_SITE}=static:{','.join(self.edge_instances)}; {EDGE_SITE}=cloudflare:{EDGE_ZONE}; ")
        vars_ = {
            "ALLOWED_HOSTS": f"{SITE}, {ASSETS_SITE}, {FLY_SITE}, {PLAIN_SITE}, {MISDECLARED_SITE}"
                             + (f", {WIDE_SITE}" if self.wide else "")
                             + (f", {LAYERS_SITE}, {EDGE_SITE}" if self.layers else ""),
            # The app group by DNS over HTTPS in clear text (loopback), the assets group by a
            # static list over TLS, the Fly-like app by its Machines through its edge, the plain
            # group (Pipely-like VCL; its `purge-token` header is the default Purge-Token) declared
            # as such, the misdeclared group (the same VCL) declared as edgepurge-contract instances.
            "DISCOVERY": f"{ASSETS_SITE}=static:{tls_list}:tls; {FLY_SITE}=fly:{FLY_APP}@{FLY_EDGE_IP}:{self.ports.tls}; "
                         + f"{PLAIN_SITE}=static:{','.join(self.plain_instances)}:contract=plain; "
                         + f"{MISDECLARED_SITE}=static:{','.join(self.misdeclared_instances)}; "
                         + (f"{WIDE_SITE}=static:{','.join(self.wide_instances)}; " if self.wide else "")
                         + (layers if self.layers else "")
                         + f"*=dns:{DNS_NAME}:{self.ports.varnish}",
            "FLY_API_URL": f"http://127.0.0.1:{self.ports.fly_api}",
            "FLY_API_TOKEN": self.fly_token,
            "DOH_URL": f"http://127.0.0.1:{self.ports.doh}/dns-query",
            "DISCOVERY_TIMEOUT_MS": "2000",
            "API_TOKENS": self.api_token,
            # Notifications to the local receiver, which checks their signature.
            "NOTIFY_WEBHOOKS": self.webhook,
            "NOTIFY_SECRET": self.webhook_secret,
            "CONSOLE_URL": self.api,
            **self._shared_vars(self.service_name),
        }
        if self.layers:
            # The Fastly and Cloudflare APIs are the upstream worker's compatible endpoints, and
            # its token is what both accept.
            vars_.update({"FASTLY_API_URL": self.upstream_api, "FASTLY_API_TOKEN": self.upstream_token,
                          "CLOUDFLARE_API_URL": self.upstream_api, "CLOUDFLARE_API_TOKEN": self.upstream_token})
        self._start_wrangler("worker", self.ports.worker, self.ports.inspector, self.state / "wrangler",
                             {**vars_, **self.extra_vars}, expect_health)

    def start_upstream(self):
        """The upstream worker: the same worker, under its own name, port and local D1, with its
        own token; it serves the layered sites from its own varnishd, one static group each."""
        u_layers, u_edge = self.upstream_instances
        vars_ = {
            "ALLOWED_HOSTS": f"{LAYERS_SITE}, {EDGE_SITE}",
            "DISCOVERY": f"{LAYERS_SITE}=static:{u_layers}; {EDGE_SITE}=static:{u_edge}",
            "API_TOKENS": self.upstream_token,
            # It stands in for a vendor's API: every call of the main worker's is answered, never
            # throttled by edgepurge's own per-person limit.
            "RATE_LIMIT_PER_MINUTE": "1000000",
            **self._shared_vars(self.upstream_service_name),
        }
        self._start_wrangler("upstream", self.ports.upstream, self.ports.upstream_inspector,
                             self.state / "upstream-wrangler", vars_, 200, script_name="edgepurge-upstream")

    def _start_wrangler(self, name, port, inspector, persist, vars_, expect_health, script_name=None):
        """`wrangler dev` of this repository's worker as process `name` (log logs/<name>.log) on
        `port`, its local D1 in `persist` (migrations applied first), with `vars_` as its
        settings; waits until `/api/health` answers `expect_health`."""
        env_sh = ROOT / "scripts/env.sh"
        # Through bash only to source env.sh; every argument is passed as-is, never re-parsed.
        argv = ["bash", "-c", f'source "{env_sh}" && exec "$@"', "wrangler",
                "wrangler", "dev", "--local", "--ip", "127.0.0.1", "--port", str(port),
                "--inspector-port", str(inspector), "--persist-to", str(persist),
                "--show-interactive-dev-session=false", "--test-scheduled"]
        if script_name:
            argv += ["--name", script_name]
        for k, v in vars_.items():
            argv += ["--var", f"{k}:{v}"]
        # The console's tables: apply the D1 migrations to this worker's local SQLite first.
        migrate = ["bash", "-c", f'source "{env_sh}" && exec "$@"', "wrangler", "wrangler", "d1", "migrations",
                   "apply", "edgepurge", "--local", "--persist-to", str(persist)]
        migrations_log = "migrations.log" if name == "worker" else f"{name}-migrations.log"
        with open(self.state / "logs" / migrations_log, "ab") as out:
            subprocess.run(migrate, cwd=ROOT, check=True, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        # workerd trusts the test CA through this (wrangler hands it on); certificates only.
        proc, log = self._spawn(name, argv, env={"NODE_EXTRA_CA_CERTS": str(self.ca_file)}, cwd=ROOT)

        def healthy():
            status, _, _ = http_get("127.0.0.1", port, "/api/health", timeout=2)
            return status == expect_health
        wait_for(f"wrangler dev ({name})", healthy, 600, proc, log)

    def kill_worker(self):
        """Kills the worker as production may: SIGKILL to wrangler dev and workerd (its process
        group), mid-request included; the local D1 stays as it was on disk."""
        proc = self.procs.pop("worker")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def restart_worker(self, expect_health=200, **vars_):
        """Starts the worker again on the same persisted local D1 (stopping it first if it runs),
        with `vars_` set among its settings (a value None removes one set so before), and waits
        until `/api/health` answers `expect_health` (a broken configuration: 503)."""
        self._kill("worker")
        for name, value in vars_.items():
            if value is None:
                self.extra_vars.pop(name, None)
            else:
                self.extra_vars[name] = value
        self.start_worker(expect_health)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ports", choices=sorted(PORT_SETS), default="run",
                        help="which set of loopback ports (the tests use their own)")
    parser.add_argument("--state", type=Path, help="directory for logs and local state")
    parser.add_argument("--var", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra worker setting, e.g. ACCESS_AUD=...")
    parser.add_argument("--no-layers", action="store_true",
                        help=f"without the layered sites ({LAYERS_SITE}, {EDGE_SITE}) and the upstream worker")
    args = parser.parse_args()
    ports = PORT_SETS[args.ports]
    extra = dict(v.split("=", 1) for v in args.var)
    cdn = LocalCDN(ports=ports, extra_vars=extra, state=args.state or ROOT / ".state" / args.ports,
                   layers=not args.no_layers)
    stop = {"now": False}

    def on_signal(*_):
        stop["now"] = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("edgepurge local CDN: starting origin, varnishd, dnsdist (DoH) and the workers...", flush=True)
    try:
        cdn.start()
    except RuntimeError as e:
        print(f"local CDN failed to start: {e}", file=sys.stderr)
        return 1
    info = cdn.info()
    first = cdn.instances[0]
    layers = f"""
  layers     {LAYERS_SITE}: {", ".join(cdn.layers_instances)} (varnishd), and in front the Fastly service
             {FASTLY_SERVICE} and the Cloudflare zone {LAYERS_ZONE};
             {EDGE_SITE}: {", ".join(cdn.edge_instances)} (varnishd), and in front the Cloudflare zone {EDGE_ZONE}
  upstream   {cdn.upstream_api}  (a second edgepurge worker playing that Fastly service and those zones
             through its Fastly- and Cloudflare-compatible endpoints, token {cdn.upstream_token});
             its varnishd: {cdn.upstream_instances[0]} for {LAYERS_SITE}, {cdn.upstream_instances[1]} for {EDGE_SITE}""" \
        if cdn.layers else ""
    print(f"""
  origin     http://127.0.0.1:{ports.origin}
  instances  {", ".join(cdn.instances)}  (varnishd, VCL vcl/edgepurge.vcl)
  DoH        http://127.0.0.1:{ports.doh}/dns-query  ({DNS_NAME} -> {", ".join(INSTANCE_IPS)})
  assets     {ASSETS_SITE}: {", ".join(cdn.assets_varnish)} (varnishd) behind TLS on {", ".join(cdn.assets_instances)}
             (haproxy, certificate of the test CA {cdn.ca_file})
  fly app    {FLY_SITE}: Machines API stand-in http://127.0.0.1:{ports.fly_api}, edge {FLY_EDGE_IP}:{ports.tls}
  plain      {PLAIN_SITE}: {", ".join(cdn.plain_instances)} (varnishd, Pipely-like VCL tests/cdn/plain.vcl,
             declared contract=plain); misdeclared {MISDECLARED_SITE}: {", ".join(cdn.misdeclared_instances)}
             (the same VCL, declared as edgepurge-contract instances){layers}
  traces     {os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", cdn.otlp)}  (local receiver: the spans it got at {cdn.otlp}/spans)
  webhooks   {cdn.webhook}  (local receiver, signature checked with {cdn.webhook_secret}:
             the notifications it got at http://127.0.0.1:{ports.webhook}/received)
  API        {cdn.api}
  API token  {cdn.api_token}
  logs       {cdn.state / "logs"}

Try it:
  curl -s -H 'Host: {SITE}' -D- -o/dev/null http://{first}/episodes/1   # Cache-Status: miss, then hit
  curl -s -X POST {cdn.api}/api/purge -H 'Authorization: Bearer {cdn.api_token}' \\
       -H 'Content-Type: application/json' -d '{{"urls": ["https://{SITE}/episodes/1"]}}'

Ctrl-C stops everything.
""", flush=True)
    print(json.dumps(info), flush=True)
    try:
        while not stop["now"]:
            for name, proc in list(cdn.procs.items()):
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see its log", file=sys.stderr)
                    cdn.procs.pop(name)
            time.sleep(0.5)
    finally:
        print("stopping...", flush=True)
        cdn.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
