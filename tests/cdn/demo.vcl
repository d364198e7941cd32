vcl 4.1;
# The local CDN's instance VCL: the demo origin plus the edgepurge contract.
backend origin {
    .host = "127.0.0.1";
    .port = "${ORIGIN_PORT}";
}

include "${EDGEPURGE_VCL}";
