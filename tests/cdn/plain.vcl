vcl 4.1;
# The local CDN's "plain" instance VCL: for the tests, it behaves like Pipely's stock Varnish
# config (the CDN in front of changelog.com), an instance that knows nothing of the edgepurge
# contract. Written for this project in Pipely's style, one concern per section, following the
# upstream files (under varnish/vcl/ in Pipely):
#   * purge.vcl        PURGE with `purge-token` equal to env PURGE_TOKEN (or PURGE_TOKEN empty)
#                      purges the request's own object (Host + URL, the builtin hash), and the
#                      builtin vcl_purge answers a synthetic `200 Purged`: no count, no keys, no
#                      bans, no soft purge; any other PURGE gets `401 Invalid PURGE token`.
#   * fly/region.vcl   `cache-status: region=<FLY_REGION>; synth` on synthetic answers, and
#                      `region=<FLY_REGION>` to start it on delivered ones;
#   * default.vcl      (its inline vcl_deliver) the rest of cache-status on delivered answers:
#                      `; origin=<backend>,<fqdn>` then `; bypass` for a pass, or
#                      `; ttl=..; grace=..; keep=..; storage=<obj.storage>; hit` (or
#                      `storage=none; miss`), `; stale` for a stale hit, `; hits=<obj.hits>`;
#                      and its env overrides BERESP_TTL / BERESP_GRACE / BERESP_KEEP;
#   * app-backend.vcl  the backend, `x-backend-fqdn` from env BACKEND_APP_FQDN, `/app_health`
#                      passed to the origin's /health, ttl 1m, grace 1d, keep 7d in storage.memory;
#   * http.vcl, www.vcl, varnish-health.vcl, disable-caching-for-5xx.vcl, fly/request-id.vcl.
# Left out: the assets/feeds/nightly backends, the news mp3 and practicalai redirects, websockets
# and the log-only parts (client-ip, app-generation).
#
# Run varnishd with `-s memory=malloc,<size>` so the storage is named as Pipely's is and obj.storage
# prints `storage.memory`. The local CDN replaces ${ORIGIN_PORT} with the demo origin's port.

import std;
import var;

# ---- default.vcl: the region, from the environment, once ---------------------------------------
sub vcl_init {
  if (std.getenv("FLY_REGION") && std.getenv("FLY_REGION") != "") {
    var.global_set("region", std.getenv("FLY_REGION"));
  } else {
    var.global_set("region", "LOCAL");
  }
}

# ---- app-backend.vcl ---------------------------------------------------------------------------
# Pipely's app backend is a vmod_dynamic director (not packaged for Debian's Varnish 7.1), and the
# director it picks per host and port is named `app(<host>:<port>)`: that is the name cache-status
# shows, so it is spelled out here next to the static backend that stands in for it.
backend app {
  .host = "127.0.0.1";
  .port = "${ORIGIN_PORT}";
}

sub vcl_recv {
  # default to the APP backend
  set req.backend_hint = app;
  set req.http.x-backend-name = "app(127.0.0.1:${ORIGIN_PORT})";
  set req.http.x-backend-fqdn = std.getenv("BACKEND_APP_FQDN");
  set req.http.x-backend-app = true;
  set req.http.x-forwarded-host = std.getenv("APP_HOST");

  if (req.url == "/app_health") {
    set req.url = "/health";
    return(pass);
  }
}

sub vcl_backend_response {
  if (bereq.http.x-backend-app) {
    # memory only
    set beresp.storage = storage.memory;
    # fresh for a minute, served stale for a day while refetched, kept a week for revalidation
    set beresp.ttl = 1m;
    set beresp.grace = 1d;
    set beresp.keep = 7d;
  }
}

# ---- fly/request-id.vcl --------------------------------------------------------------------------
sub vcl_recv {
  if (req.http.fly-request-id) {
    set req.http.x-request-id = req.http.fly-request-id;
  }
}

sub vcl_deliver {
  if (req.http.x-request-id) {
    set resp.http.x-request-id = req.http.x-request-id;
  }
}

# ---- http.vcl: plain-http requests are redirected --------------------------------------------------
# (Its vcl_recv runs before purge's, so even a PURGE with `x-forwarded-proto: http` is redirected;
# its vcl_synth returns before region's, so the redirect carries no cache-status, as in Pipely.)
sub vcl_recv {
  if (req.http.x-forwarded-proto == "http") {
    return(synth(301, "Moved Permanently"));
  }
}

sub vcl_synth {
  if (req.http.x-forwarded-proto == "http" && resp.status == 301) {
    set resp.http.location = "https://" + req.http.host + req.url;
    return(deliver);
  }
}

# ---- purge.vcl ---------------------------------------------------------------------------------
sub vcl_recv {
  if (req.method == "PURGE") {
    # With no token configured, any PURGE goes; otherwise the purge-token header must match.
    if (std.getenv("PURGE_TOKEN") == "" || req.http.purge-token == std.getenv("PURGE_TOKEN")) {
      return(purge);
    } else {
      return(synth(401, "Invalid PURGE token"));
    }
  }
}

# ---- fly/region.vcl ----------------------------------------------------------------------------
sub vcl_synth {
  set resp.http.cache-status = "region=" + var.global_get("region") + "; synth";
}

sub vcl_deliver {
  set resp.http.cache-status = "region=" + var.global_get("region");
}

# ---- varnish-health.vcl --------------------------------------------------------------------------
sub vcl_recv {
  if (req.url == "/health") {
    return(synth(204));
  }
}

# ---- www.vcl: www. hosts are redirected to the bare host -----------------------------------------
sub vcl_recv {
  if (req.http.host ~ "^www\.") {
    set req.http.host = regsub(req.http.host, "^www\.", "");
    set req.http.www = "true";
    return(synth(301, "Moved Permanently"));
  }
}

sub vcl_synth {
  if (req.http.www == "true" && resp.status == 301) {
    set resp.http.location = "https://" + req.http.host + req.url;
    return(deliver);
  }
}

# ---- disable-caching-for-5xx.vcl -----------------------------------------------------------------
sub vcl_backend_response {
  if (beresp.status >= 500) {
    set beresp.uncacheable = true;
    # a background refresh that got a 5xx must not replace the stale object being served
    if (bereq.is_bgfetch) {
      return(abandon);
    }
  }
}

# ---- default.vcl: after everything above ---------------------------------------------------------
sub vcl_backend_response {
  # test/dev overrides of the per-backend lifetimes
  if (std.getenv("BERESP_TTL")) {
    set beresp.ttl = std.duration(std.getenv("BERESP_TTL"));
  }
  if (std.getenv("BERESP_GRACE")) {
    set beresp.grace = std.duration(std.getenv("BERESP_GRACE"));
  }
  if (std.getenv("BERESP_KEEP")) {
    set beresp.keep = std.duration(std.getenv("BERESP_KEEP"));
  }
}

sub vcl_pass {
  set req.http.x-bypass = "true";
}

sub vcl_deliver {
  # which origin answered
  set resp.http.cache-status = resp.http.cache-status + "; origin=" + req.http.x-backend-name + "," + req.http.x-backend-fqdn;

  if (req.http.x-bypass == "true") {
    set resp.http.cache-status = resp.http.cache-status + "; bypass";
    return(deliver);
  }

  # remaining ttl, then the grace and keep the object was stored with
  set resp.http.cache-status = resp.http.cache-status + "; ttl=" + obj.ttl;
  set resp.http.cache-status = resp.http.cache-status + "; grace=" + obj.grace;
  set resp.http.cache-status = resp.http.cache-status + "; keep=" + obj.keep;

  # from the cache (and which storage), or just fetched
  if (obj.hits > 0) {
    set resp.http.cache-status = resp.http.cache-status + "; storage=" + obj.storage + "; hit";
  } else {
    set resp.http.cache-status = resp.http.cache-status + "; storage=none; miss";
  }

  # served past its ttl, within grace
  if (obj.hits > 0 && obj.ttl < std.duration(integer=0)) {
    set resp.http.cache-status = resp.http.cache-status + "; stale";
  }

  set resp.http.cache-status = resp.http.cache-status + "; hits=" + obj.hits;
}
