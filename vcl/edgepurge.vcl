# edgepurge instance contract, for Varnish 6.x/7.x.
#
# Include this file near the top of your main VCL, before your own subroutines, so its
# vcl_recv runs first:
#
#     vcl 4.1;
#     backend default { .host = "origin.internal"; .port = "8080"; }
#     include "edgepurge.vcl";
#
# and start varnishd with the purge secret in its environment:
#
#     EDGEPURGE_PURGE_TOKEN=<same value as the worker's PURGE_TOKEN secret> varnishd ...
#
# What it does:
# - PURGE <path?query> with `Purge-Token: <secret>` removes every variant of the object keyed on
#   Host + URL and answers 200 with `Purge-Count: <objects removed>` (0: it was not cached).
#   A missing or wrong token, or no EDGEPURGE_PURGE_TOKEN at all, answers 401: it fails closed.
# - The Host header is lower-cased and a default port (:80, :443) dropped, so the cache key is
#   the same whichever way a client spelled the host; edgepurge purges with that spelling.
# - Every delivered response carries an RFC 9211 Cache-Status header, the cache named by
#   server.identity (varnishd -i NAME):
#       Cache-Status: edge-1; hit; ttl=3542
#       Cache-Status: edge-1; fwd=uri-miss; stored
#       Cache-Status: edge-1; fwd=uri-miss            (not stored: uncacheable)
#   The cache key itself is the built-in one (vcl_hash: URL + Host), which this file keeps.

import std;
import purge;

sub vcl_recv {
    if (req.http.host) {
        set req.http.host = std.tolower(regsub(req.http.host, ":(80|443)$", ""));
    }
    if (req.method == "PURGE") {
        if (std.getenv("EDGEPURGE_PURGE_TOKEN") == ""
            || req.http.Purge-Token != std.getenv("EDGEPURGE_PURGE_TOKEN")) {
            return (synth(401, "Invalid purge token"));
        }
        unset req.http.Purge-Token;
        return (hash);
    }
}

sub vcl_hit {
    if (req.method == "PURGE") {
        set req.http.edgepurge-count = purge.hard();
        return (synth(200, "Purged"));
    }
}

sub vcl_miss {
    if (req.method == "PURGE") {
        # A miss on the exact object can still leave other Vary variants: purge them too.
        set req.http.edgepurge-count = purge.hard();
        return (synth(200, "Purged"));
    }
}

sub vcl_synth {
    if (req.method == "PURGE") {
        if (req.http.edgepurge-count) {
            set resp.http.Purge-Count = req.http.edgepurge-count;
        }
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.http.Cache-Control = "no-store";
        synthetic(resp.status + " " + resp.reason + {"
"});
        return (deliver);
    }
}

sub vcl_deliver {
    # RFC 9211 section 2: hit, fwd=uri-miss, stored, ttl.
    if (obj.hits > 0) {
        set resp.http.Cache-Status = server.identity + "; hit; ttl="
            + std.integer(duration=obj.ttl, fallback=0);
    } elsif (obj.uncacheable) {
        set resp.http.Cache-Status = server.identity + "; fwd=uri-miss";
    } else {
        set resp.http.Cache-Status = server.identity + "; fwd=uri-miss; stored";
    }
}
