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
# What it does (every PURGE needs `Purge-Token: <secret>`; a missing or wrong token, or no
# EDGEPURGE_PURGE_TOKEN at all, answers 401: it fails closed):
# - PURGE <path?query> removes every variant of the object keyed on Host + URL and answers 200
#   with `Purge-Count: <objects removed>` (0: it was not cached). With `Purge-Soft: 1` the
#   objects are only marked stale (vmod_purge soft): the next request is served stale while a
#   fresh copy is fetched.
# - PURGE with `Purge-Kind: key` and `Purge-Keys: <k1> <k2> ...` removes (or, soft, marks stale)
#   every object tagged with any of the keys (vmod_xkey, from varnish-modules). Objects are tagged
#   by the origin's `xkey` or `Surrogate-Key` response header (space-separated). Keys are
#   instance-wide, not per host, as in xkey itself.
# - PURGE with `Purge-Kind: prefix` and `Purge-Prefix: <regex-escaped path prefix>` bans every
#   object of this Host whose URL starts with the prefix; `Purge-Kind: host` bans every object of
#   this Host. The bans test only obj.* fields, so the ban lurker clears them in the background.
#   A ban answers 200 with `Purge-Ban: added` (how many objects it will clear is not known yet).
# - Every answer to a PURGE comes from this file: 200 with `Purge-Count` or `Purge-Ban`, or a
#   4xx/5xx. A PURGE is never passed or piped on to the origin, even if another vcl_recv sends
#   it there before this one runs (501), so edgepurge never takes an origin's answer for a purge.
# - The Host header is lower-cased, its trailing dots, a port's leading zeros and a default port (:80, :443, in
#   any spelling) dropped, so the cache key is the same whichever way a client spelled the host; edgepurge
#   purges with that spelling. Prefix and host bans match the host on any port.
# - Every delivered response carries an RFC 9211 Cache-Status header, the cache named by
#   server.identity (varnishd -i NAME):
#       Cache-Status: edge-1; hit; ttl=3542
#       Cache-Status: edge-1; fwd=uri-miss; stored
#       Cache-Status: edge-1; fwd=uri-miss            (not stored: uncacheable)
#   The cache key itself is the built-in one (vcl_hash: URL + Host), which this file keeps.

import std;
import purge;
import xkey;

sub vcl_recv {
    if (req.http.host) {
        # One spelling per site: lower case, no trailing dots (`example.com..` is
        # `example.com`, as edgepurge's API takes it), a port without leading zeros, and no
        # default port in any spelling (`:443`, `:0443`, `:80`, `:0080`).
        set req.http.host = regsub(std.tolower(req.http.host), "\.+(:[0-9]+)?$", "\1");
        set req.http.host = regsub(req.http.host, ":0*([1-9][0-9]*)$", ":\1");
        set req.http.host = regsub(req.http.host, ":(80|443)$", "");
    }
    if (req.method == "PURGE") {
        if (std.getenv("EDGEPURGE_PURGE_TOKEN") == ""
            || req.http.Purge-Token != std.getenv("EDGEPURGE_PURGE_TOKEN")) {
            return (synth(401, "Invalid purge token"));
        }
        if (req.http.Purge-Kind == "key") {
            if (req.http.Purge-Soft == "1") {
                set req.http.edgepurge-count = xkey.softpurge(req.http.Purge-Keys);
            } else {
                set req.http.edgepurge-count = xkey.purge(req.http.Purge-Keys);
            }
            return (synth(200, "Purged"));
        }
        # A prefix or host purge covers the host on every port: its bans match the host
        # with any port after it (`example.com` and `example.com:8443` alike).
        set req.http.edgepurge-host-re = "^" + regsuball(regsub(req.http.host, ":[0-9]+$", ""), "\.", "\\.")
            + "(:[0-9]+)?$";
        if (req.http.Purge-Kind == "prefix") {
            if (std.ban("obj.http.x-edgepurge-host ~ " + req.http.edgepurge-host-re
                + " && obj.http.x-edgepurge-url ~ ^" + req.http.Purge-Prefix)) {
                set req.http.edgepurge-ban = "added";
                return (synth(200, "Banned"));
            }
            return (synth(400, "Bad ban: " + std.ban_error()));
        }
        if (req.http.Purge-Kind == "host") {
            if (std.ban("obj.http.x-edgepurge-host ~ " + req.http.edgepurge-host-re)) {
                set req.http.edgepurge-ban = "added";
                return (synth(200, "Banned"));
            }
            return (synth(400, "Bad ban: " + std.ban_error()));
        }
        if (req.http.Purge-Kind && req.http.Purge-Kind != "url") {
            return (synth(400, "Unknown Purge-Kind"));
        }
        return (hash);
    }
}

sub vcl_backend_response {
    # What the bans of prefix and host purges test, kept on the object (lurker-friendly).
    set beresp.http.x-edgepurge-host = bereq.http.host;
    set beresp.http.x-edgepurge-url = bereq.url;
    if (!beresp.http.xkey && beresp.http.Surrogate-Key) {
        set beresp.http.xkey = beresp.http.Surrogate-Key;
    }
}

sub edgepurge_url {
    # Checked again here: another vcl_recv running before this file's may have sent the PURGE
    # to the lookup without the check above.
    if (std.getenv("EDGEPURGE_PURGE_TOKEN") == ""
        || req.http.Purge-Token != std.getenv("EDGEPURGE_PURGE_TOKEN")) {
        return (synth(401, "Invalid purge token"));
    }
    unset req.http.Purge-Token;
    if (req.http.Purge-Soft == "1") {
        set req.http.edgepurge-count = purge.soft(0s);
    } else {
        set req.http.edgepurge-count = purge.hard();
    }
    return (synth(200, "Purged"));
}

sub vcl_hit {
    if (req.method == "PURGE") {
        call edgepurge_url;
    }
}

sub vcl_miss {
    if (req.method == "PURGE") {
        # A miss on the exact object can still leave other Vary variants: purge them too.
        call edgepurge_url;
    }
}

sub vcl_pass {
    if (req.method == "PURGE") {
        return (synth(501, "PURGE is never passed to the origin"));
    }
}

sub vcl_pipe {
    if (req.method == "PURGE") {
        return (synth(501, "PURGE is never piped to the origin"));
    }
}

sub vcl_backend_fetch {
    if (bereq.method == "PURGE") {
        return (abandon);
    }
}

sub vcl_synth {
    if (req.method == "PURGE") {
        if (req.http.edgepurge-count) {
            set resp.http.Purge-Count = req.http.edgepurge-count;
        }
        if (req.http.edgepurge-ban) {
            set resp.http.Purge-Ban = req.http.edgepurge-ban;
        }
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.http.Cache-Control = "no-store";
        synthetic(resp.status + " " + resp.reason + {"
"});
        return (deliver);
    }
}

sub vcl_deliver {
    unset resp.http.x-edgepurge-host;
    unset resp.http.x-edgepurge-url;
    # RFC 9211 section 2: hit, fwd=uri-miss, fwd=stale, stored, ttl (negative: stale).
    if (obj.hits > 0 && obj.ttl <= 0s) {
        set resp.http.Cache-Status = server.identity + "; hit; fwd=stale; ttl="
            + std.integer(duration=obj.ttl, fallback=0);
    } elsif (obj.hits > 0) {
        set resp.http.Cache-Status = server.identity + "; hit; ttl="
            + std.integer(duration=obj.ttl, fallback=0);
    } elsif (obj.uncacheable) {
        set resp.http.Cache-Status = server.identity + "; fwd=uri-miss";
    } else {
        set resp.http.Cache-Status = server.identity + "; fwd=uri-miss; stored";
    }
}
