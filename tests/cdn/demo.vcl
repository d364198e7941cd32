vcl 4.1;
# The local CDN's instance VCL: the demo origin plus the edgepurge contract.
import vtc;

backend origin {
    .host = "127.0.0.1";
    .port = "${ORIGIN_PORT}";
}

# Test hook, not part of the contract, before the contract's own vcl_recv: a PURGE of /slow/...
# takes 1.5 s to answer, so the tests can kill an instance while a purge is in flight.
sub vcl_recv {
    if (req.method == "PURGE" && req.url ~ "^/slow/") {
        vtc.sleep(1500ms);
    }
}

# Test hook: a PURGE of /close-after/... is answered with `Connection: close` and the instance
# closes the connection there, so the tests can cut a pipelined batch in the middle.
sub vcl_synth {
    if (req.method == "PURGE" && req.url ~ "^/close-after/") {
        set resp.http.Connection = "close";
    }
}

include "${EDGEPURGE_VCL}";
