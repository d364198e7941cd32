//! Purge kinds: each writes the VCL contract's request and reads back from its history label.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::edgepurge_request;
use edgepurge_core::purge::Purge;
use edgepurge_core::target::Target;

#[test]
fn each_kind_writes_the_vcl_contract_and_reads_back_from_its_label() {
    use edgepurge_core::purge::{parse_key, parse_prefix};
    let req = |p: &Purge| String::from_utf8(edgepurge_request(p, false)).unwrap();
    let url = Target::parse("https://Example.com/a?b").unwrap();
    let cases = vec![
        (Purge::Url { target: url.clone(), soft: false }, "https://example.com/a?b", "PURGE /a?b HTTP/1.1\r\nHost: example.com\r\nPurge-Token: s3cret\r\nUser-Agent"),
        (Purge::Url { target: url, soft: true }, "soft:https://example.com/a?b", "Purge-Token: s3cret\r\nPurge-Soft: 1\r\n"),
        (
            Purge::Key { key: parse_key("show-a").unwrap(), host: "example.com".into(), soft: false },
            "key:show-a@example.com",
            "PURGE / HTTP/1.1\r\nHost: example.com\r\nPurge-Token: s3cret\r\nPurge-Keys: show-a\r\nPurge-Kind: key\r\nUser-Agent",
        ),
        (
            Purge::Key { key: parse_key("show-a").unwrap(), host: "example.com".into(), soft: true },
            "soft-key:show-a@example.com",
            "Purge-Kind: key\r\nPurge-Soft: 1\r\n",
        ),
        (
            Purge::Prefix { target: parse_prefix("https://example.com/ep.1/(x)/").unwrap() },
            "prefix:https://example.com/ep.1/(x)/",
            "PURGE / HTTP/1.1\r\nHost: example.com\r\nPurge-Token: s3cret\r\nPurge-Kind: prefix\r\nPurge-Prefix: /ep\\.1/\\(x\\)/\r\n",
        ),
        (Purge::Host { host: "example.com".into() }, "host:example.com", "PURGE / HTTP/1.1\r\nHost: example.com\r\nPurge-Token: s3cret\r\nPurge-Kind: host\r\n"),
    ];
    for (purge, label, wire) in cases {
        assert_eq!(purge.label(), label);
        assert!(req(&purge).contains(wire), "{label}: {:?}", req(&purge));
        assert!(req(&purge).ends_with("Connection: close\r\n\r\n"));
        assert_eq!(Purge::from_label(label).unwrap(), purge, "{label}");
    }
    for bad in ["", "two keys", "tab\tkey", "ümlaut", &"k".repeat(257)] {
        assert!(parse_key(bad).is_err(), "{bad:?}");
    }
    assert!(parse_prefix("https://example.com/a?b").is_err());
    assert!(Purge::from_label("key:nohost").is_err());
}
