//! The core's behaviour, pinned down table by table. Runs natively (`cargo test`) and in headless
//! Chromium (`wasm-pack test --headless --chrome crates/edgepurge-core`).
#![allow(clippy::unwrap_used)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use edgepurge_core::api::{Contract, ErrorSource, Outcome, PurgeRequest, PurgeStatus};
use edgepurge_core::auth::constant_time_eq;
use edgepurge_core::config::{Config, ConfigError};
use edgepurge_core::delivery::Completed;
use edgepurge_core::dialect::Dialect;
use edgepurge_core::discovery::{
    dns_query, instances_from_lookups, parse_answer, DiscoverySpec, DnsError, Instance, RecordType,
};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::http1::{Answer, AnswerError, AnswerReader, FieldValue};
use edgepurge_core::outcome::{classify, DeliveryError};
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::target::{parse_all, Target, TargetError, MAX_URL_LEN};
use simple_dns::rdata::{RData, A, AAAA, CNAME};
use simple_dns::{Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, RCODE, TYPE};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

mod compat;
mod confirm;
mod delivery;
mod dialect;
mod fly;
mod hardening;
mod idempotency;
mod lease;
mod redelivery;
mod request;
mod shard;
mod stats;
mod trace;
mod transport;
mod writes;

/// A finished request as the delivery state machine reports it.
pub fn completed(request: usize, reply: Result<Answer, DeliveryError>, elapsed_ms: u64, attempts: u32) -> Completed {
    let classified = classify(&reply, Contract::Edgepurge);
    Completed { request, reply, classified, attempts, elapsed_ms, timing: Default::default() }
}

// ---------------------------------------------------------------------------------------------
// Targets

#[test]
fn urls_normalise_like_a_browser_and_keep_percent_encoding() {
    // (input, normalised url, Host header, request target)
    let cases = [
        ("https://Example.COM/a/b?x=1", "https://example.com/a/b?x=1", "example.com", "/a/b?x=1"),
        ("http://example.com", "http://example.com/", "example.com", "/"),
        ("https://example.com:443/p", "https://example.com/p", "example.com", "/p"),
        ("http://example.com:80/p", "http://example.com/p", "example.com", "/p"),
        ("https://example.com:8443/p", "https://example.com:8443/p", "example.com:8443", "/p"),
        ("https://example.com/p#frag", "https://example.com/p", "example.com", "/p"),
        ("https://example.com/%7Euser?q=%2F", "https://example.com/%7Euser?q=%2F", "example.com", "/%7Euser?q=%2F"),
        ("https://example.com/a%2fb", "https://example.com/a%2fb", "example.com", "/a%2fb"),
        ("https://example.com/?", "https://example.com/?", "example.com", "/?"),
        (
            "https://xn--bcher-kva.example/ä?q=ü",
            "https://xn--bcher-kva.example/%C3%A4?q=%C3%BC",
            "xn--bcher-kva.example",
            "/%C3%A4?q=%C3%BC",
        ),
        ("https://XN--BCHER-KVA.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example", "/"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c", "example.com", "/a/c"),
    ];
    for (input, url, authority, path) in cases {
        let t = Target::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!((t.url(), t.authority(), t.path_and_query()), (url, authority, path), "{input}");
    }
}

/// The platform's WHATWG URL parser, as a worker or the console installs it: in headless
/// Chromium the browser's own `URL`.
#[cfg(target_arch = "wasm32")]
fn platform_url(input: &str) -> Option<String> {
    use wasm_bindgen::prelude::wasm_bindgen;
    #[wasm_bindgen]
    extern "C" {
        type URL;
        #[wasm_bindgen(constructor, catch)]
        fn new(input: &str) -> Result<URL, wasm_bindgen::JsValue>;
        #[wasm_bindgen(method, getter)]
        fn href(this: &URL) -> String;
    }
    URL::new(input).ok().map(|u| u.href())
}

/// Natively there is no platform parser: a stand-in that knows the two inputs the test uses,
/// so what the core does with a platform's answer is still checked here (the real parser is, in
/// Chromium, and the worker's in the e2e tests).
#[cfg(not(target_arch = "wasm32"))]
fn platform_url(input: &str) -> Option<String> {
    match input {
        "https://Bücher.example/ä?q=ü" => Some("https://xn--bcher-kva.example/%C3%A4?q=%C3%BC".into()),
        "http://bücher.example/" => Some("http://xn--bcher-kva.example/".into()),
        "https://b%C3%BCcher.example/" => Some("https://xn--bcher-kva.example/".into()),
        _ => None,
    }
}

#[test]
fn international_domain_names_go_through_the_platforms_parser() {
    let input = "https://Bücher.example/ä?q=ü";
    let t = Target::parse_with(input, Some(platform_url)).unwrap();
    assert_eq!(
        (t.url(), t.authority(), t.path_and_query()),
        ("https://xn--bcher-kva.example/%C3%A4?q=%C3%BC", "xn--bcher-kva.example", "/%C3%A4?q=%C3%BC")
    );
    assert_eq!(
        edgepurge_core::target::normalise_host_with("bücher.example", Some(platform_url)).as_deref(),
        Some("xn--bcher-kva.example")
    );
    // Without one, refused, saying what to send instead; never guessed.
    let Err(TargetError::Unparsable(why)) = Target::parse_with(input, None) else { panic!("accepted without IDNA") };
    assert!(why.contains("xn--"), "{why}");
    assert_eq!(edgepurge_core::target::normalise_host_with("bücher.example", None), None);
    // A percent-encoded host is decoded before IDNA, so it needs it too.
    let t = Target::parse_with("https://b%C3%BCcher.example/", Some(platform_url)).unwrap();
    assert_eq!(t.authority(), "xn--bcher-kva.example");
    assert!(Target::parse_with("https://b%C3%BCcher.example/", None).is_err());
    assert_eq!(edgepurge_core::target::normalise_host_with("htt-C3%43%EAx=%8E", None), None, "found by the fuzzer");
    // ASCII never needs it.
    assert!(Target::parse_with("https://example.com/ä", None).is_ok());
    // What the platform refuses is refused.
    assert!(Target::parse_with("https://bücher.example/", Some(|_| None)).is_err());
}

#[test]
fn hostile_or_broken_urls_are_refused() {
    let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
    let cases: Vec<(&str, TargetError)> = vec![
        ("https://example.com/a\r\nX-Injected: 1", TargetError::ControlCharacter),
        ("https://example.com/a\nb", TargetError::ControlCharacter),
        ("https://example.com/a\0b", TargetError::ControlCharacter),
        ("https://example.com/a\tb", TargetError::ControlCharacter),
        ("https://example.com/a b", TargetError::ControlCharacter),
        (" https://example.com/", TargetError::ControlCharacter),
        ("https://example.com/\x7f", TargetError::ControlCharacter),
        ("ftp://example.com/file", TargetError::Scheme("ftp".into())),
        ("javascript:alert(1)", TargetError::Scheme("javascript".into())),
        ("https://user:pw@example.com/", TargetError::Userinfo),
        ("https://user@example.com/", TargetError::Userinfo),
        ("https://127.0.0.1/", TargetError::IpHost),
        ("https://[::1]/", TargetError::IpHost),
        ("https://example.com/%zz", TargetError::BadPercentEncoding),
        ("https://example.com/?q=%4", TargetError::BadPercentEncoding),
        (long.as_str(), TargetError::TooLong),
    ];
    for (input, want) in cases {
        assert_eq!(Target::parse(input), Err(want), "{input:?}");
    }
    assert!(matches!(Target::parse("/relative/path"), Err(TargetError::Unparsable(_))));
    assert!(matches!(Target::parse("not a url"), Err(TargetError::ControlCharacter)));
}

#[test]
fn a_request_is_valid_as_a_whole_and_duplicates_collapse() {
    let urls: Vec<String> =
        ["https://example.com/a", "https://EXAMPLE.com/a#x", "https://example.com/b"].map(String::from).to_vec();
    let targets = parse_all(&urls).unwrap();
    assert_eq!(targets.iter().map(Target::url).collect::<Vec<_>>(), ["https://example.com/a", "https://example.com/b"]);

    let bad: Vec<String> = ["https://example.com/a", "https://example.com/\r\n"].map(String::from).to_vec();
    let err = parse_all(&bad).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.detail.starts_with("urls[1]:"), "{}", err.detail);
    // The echoed subject has its control characters escaped.
    assert_eq!(err.subject.as_deref(), Some("https://example.com/\\r\\n"));
}

// ---------------------------------------------------------------------------------------------
// Configuration

pub fn settings(overrides: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut map: BTreeMap<String, String> = [
        ("ALLOWED_HOSTS", "www.example.com, cdn.example.com"),
        (
            "DISCOVERY",
            "cdn.example.com=static:192.0.2.10:80,[2001:db8::1]:8080:insecure; *=dns:instances.example.net:80:tls",
        ),
        ("API_TOKENS", "0123456789abcdef-token-one,fedcba9876543210-token-two"),
        ("PURGE_TOKEN", "purge-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in overrides {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    move |name| map.get(name).cloned()
}

pub fn config(overrides: &[(&str, &str)]) -> Config {
    Config::from_lookup(settings(overrides)).unwrap()
}

#[test]
fn config_reads_defaults_and_discovery_rules() {
    let c = config(&[]);
    assert_eq!(c.allowed_hosts, ["www.example.com", "cdn.example.com"]);
    assert_eq!(c.doh_url, "https://cloudflare-dns.com/dns-query");
    assert_eq!((c.concurrency, c.instance_timeout_ms, c.max_urls), (6, 5000, 100));
    assert_eq!(
        c.discovery_spec("www.example.com").ok(),
        Some(&DiscoverySpec::Dns { name: "instances.example.net".into(), port: 80 })
    );
    let cdn: Vec<SocketAddr> = vec!["192.0.2.10:80".parse().unwrap(), "[2001:db8::1]:8080".parse().unwrap()];
    assert_eq!(c.discovery_spec("cdn.example.com").ok(), Some(&DiscoverySpec::Static(cdn)));
    assert_eq!(c.purge_token.as_str(), "purge-secret");
    // The token never shows in debug output.
    assert!(!format!("{c:?}").contains("purge-secret"));
}

#[test]
fn broken_config_names_the_setting() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("ALLOWED_HOSTS", "")], "ALLOWED_HOSTS"),
        (&[("ALLOWED_HOSTS", "https://x.example/")], "ALLOWED_HOSTS"),
        (&[("DISCOVERY", "")], "DISCOVERY"),
        (&[("DISCOVERY", "dns:instances.example.net")], "DISCOVERY"),
        (&[("DISCOVERY", "dns:instances.example.net:0")], "DISCOVERY"),
        (&[("DISCOVERY", "static:not-an-address")], "DISCOVERY"),
        (&[("DISCOVERY", "consul:whatever")], "DISCOVERY"),
        (&[("DISCOVERY", "cdn.example.com=static:192.0.2.1:80")], "DISCOVERY"),
        (&[("DOH_URL", "ftp://dns.example/")], "DOH_URL"),
        (&[("INSTANCE_TIMEOUT_MS", "soon")], "INSTANCE_TIMEOUT_MS"),
        (&[("CONCURRENCY", "0")], "CONCURRENCY"),
        (&[("MAX_URLS", "-3")], "MAX_URLS"),
        (&[("API_TOKENS", "short")], "API_TOKENS"),
        (&[("PURGE_TOKEN", "has space")], "PURGE_TOKEN"),
        (&[("PURGE_TOKEN", "")], "PURGE_TOKEN"),
    ];
    for (overrides, setting) in cases {
        let err: ConfigError = Config::from_lookup(settings(overrides)).unwrap_err();
        assert_eq!(err.setting, *setting, "{overrides:?}: {}", err.reason);
        let problem = edgepurge_core::ApiError::from(err).problem();
        assert_eq!((problem.status, problem.setting.as_deref()), (500, Some(*setting)));
    }
}

#[test]
fn bearer_tokens_are_checked_exactly() {
    let c = config(&[]);
    let cases = [
        (Some("Bearer 0123456789abcdef-token-one"), true),
        (Some("bearer fedcba9876543210-token-two"), true),
        (Some("Bearer 0123456789abcdef-token-on"), false),
        (Some("Bearer 0123456789abcdef-token-one2"), false),
        (Some("Basic 0123456789abcdef-token-one"), false),
        (Some("0123456789abcdef-token-one"), false),
        (Some("Bearer "), false),
        (None, false),
    ];
    for (header, ok) in cases {
        // As the worker does it: the bearer token out of the header, then the bootstrap check.
        assert_eq!(header.and_then(Config::bearer).is_some_and(|t| c.is_bootstrap_token(t)), ok, "{header:?}");
    }
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}

#[test]
fn hosts_outside_the_allowlist_are_forbidden() {
    let c = config(&[]);
    assert!(c.check_host(&Target::parse("https://WWW.example.com/x").unwrap()).is_ok());
    let err = c.check_host(&Target::parse("https://evil.example/x").unwrap()).unwrap_err();
    assert_eq!((err.kind, err.status()), (ErrorKind::HostNotAllowed, 403));
}

// ---------------------------------------------------------------------------------------------
// Discovery

fn answer(id: u16, qname: &str, qtype: TYPE, rcode: RCODE, records: Vec<ResourceRecord<'static>>) -> Vec<u8> {
    let mut p = Packet::new_reply(id);
    *p.rcode_mut() = rcode;
    p.questions.push(Question::new(Name::new_unchecked(qname).into_owned(), qtype.into(), CLASS::IN.into(), false));
    p.answers = records;
    p.build_bytes_vec().unwrap()
}

fn a(name: &'static str, ip: [u8; 4]) -> ResourceRecord<'static> {
    ResourceRecord::new(Name::new_unchecked(name), CLASS::IN, 60, RData::A(A { address: u32::from_be_bytes(ip) }))
}

#[test]
fn dns_query_is_rfc8484_wire_format() {
    let q = dns_query("instances.example.net", RecordType::Aaaa, 0).unwrap();
    let p = Packet::parse(&q).unwrap();
    assert_eq!(p.id(), 0);
    assert!(p.has_flags(PacketFlag::RECURSION_DESIRED));
    assert!(!p.has_flags(PacketFlag::RESPONSE));
    assert_eq!(p.questions.len(), 1);
    assert_eq!(p.questions[0].qname.to_string(), "instances.example.net");
    assert_eq!(p.questions[0].qtype, TYPE::AAAA.into());
}

#[test]
fn dns_answers_are_checked_before_they_are_believed() {
    let name = "instances.example.net";
    let three = vec![a(name, [192, 0, 2, 1]), a(name, [192, 0, 2, 2]), a(name, [192, 0, 2, 3])];
    let ips = parse_answer(name, RecordType::A, 0, &answer(0, name, TYPE::A, RCODE::NoError, three.clone())).unwrap();
    assert_eq!(ips, ["192.0.2.1", "192.0.2.2", "192.0.2.3"].map(|s| s.parse::<IpAddr>().unwrap()));

    // No AAAA records: an empty list, not an error.
    let none = parse_answer(name, RecordType::Aaaa, 0, &answer(0, name, TYPE::AAAA, RCODE::NoError, vec![])).unwrap();
    assert!(none.is_empty());

    let ok_bytes = answer(0, name, TYPE::A, RCODE::NoError, three.clone());
    let cases: Vec<(Vec<u8>, DnsError)> = vec![
        (answer(7, name, TYPE::A, RCODE::NoError, three.clone()), DnsError::WrongId { expected: 0, got: 7 }),
        (answer(0, "other.example.net", TYPE::A, RCODE::NoError, vec![]), DnsError::NotOurAnswer),
        (answer(0, name, TYPE::AAAA, RCODE::NoError, vec![]), DnsError::NotOurAnswer),
        (dns_query(name, RecordType::A, 0).unwrap(), DnsError::NotOurAnswer),
        (answer(0, name, TYPE::A, RCODE::ServerFailure, vec![]), DnsError::Rcode(format!("SERVFAIL for {name}"))),
        (answer(0, name, TYPE::A, RCODE::NameError, vec![]), DnsError::Rcode(format!("NXDOMAIN for {name}"))),
    ];
    for (bytes, want) in cases {
        assert_eq!(parse_answer(name, RecordType::A, 0, &bytes), Err(want));
    }
    // Truncated anywhere, or garbage: malformed, never a panic.
    for cut in 0..ok_bytes.len() {
        match parse_answer(name, RecordType::A, 0, &ok_bytes[..cut]) {
            Err(_) => {}
            Ok(ips) => assert!(ips.len() < 3, "a truncated answer kept all records at {cut}"),
        }
    }
    assert!(matches!(parse_answer(name, RecordType::A, 0, b"<html>oops</html>"), Err(DnsError::Malformed(_))));
}

#[test]
fn dns_answers_as_servers_write_them_compressed_are_read() {
    // As a resolver writes it: names compressed against the question, the CNAME's target
    // against the question's tail, and a signature record that is not read.
    let name = "instances.example.net";
    let mut m = vec![0, 0, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
    for label in ["instances", "example", "net"] {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    let example = 12 + 1 + 9; // where "example" starts, in the question
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 7, 4, b'p', b'o', b'o', b'l', 0xc0, example]);
    let pool = (m.len() - 7) as u8;
    m.extend_from_slice(&[0xc0, pool, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 7]);
    m.extend_from_slice(&[0xc0, 12, 0, 46, 0, 1, 0, 0, 0, 60, 0, 3, 1, 2, 3]);
    assert_eq!(parse_answer(name, RecordType::A, 0, &m).unwrap(), ["198.51.100.7".parse::<IpAddr>().unwrap()]);
    // The same with REFUSED in the header: an error that names it.
    m[3] = 0x85;
    assert_eq!(parse_answer(name, RecordType::A, 0, &m), Err(DnsError::Rcode(format!("REFUSED for {name}"))));
    // A record claiming more data than the message holds: malformed.
    m[3] = 0x80;
    let last = m.len() - 4;
    m[last] = 9;
    assert!(matches!(parse_answer(name, RecordType::A, 0, &m), Err(DnsError::Malformed(_))));
}

#[test]
fn dns_answers_follow_cnames_and_ignore_strangers() {
    let name = "instances.example.net";
    let records = vec![
        ResourceRecord::new(
            Name::new_unchecked(name),
            CLASS::IN,
            60,
            RData::CNAME(CNAME(Name::new_unchecked("pool.example.net"))),
        ),
        a("pool.example.net", [198, 51, 100, 7]),
        a("unrelated.example.org", [203, 0, 113, 9]),
    ];
    let ips = parse_answer(name, RecordType::A, 0, &answer(0, name, TYPE::A, RCODE::NoError, records)).unwrap();
    assert_eq!(ips, ["198.51.100.7".parse::<IpAddr>().unwrap()]);

    let v6 = ResourceRecord::new(Name::new_unchecked(name), CLASS::IN, 60, RData::AAAA(AAAA { address: 1 }));
    let ips = parse_answer(name, RecordType::Aaaa, 0, &answer(0, name, TYPE::AAAA, RCODE::NoError, vec![v6])).unwrap();
    assert_eq!(ips, ["::1".parse::<IpAddr>().unwrap()]);
}

#[test]
fn lookups_combine_into_instances_or_a_discovery_problem() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let got = instances_from_lookups(
        "n.example",
        6081,
        vec![
            (RecordType::A, Ok(vec![ip("192.0.2.2"), ip("192.0.2.1")])),
            (RecordType::Aaaa, Ok(vec![ip("2001:db8::5")])),
        ],
    )
    .unwrap();
    let names: Vec<String> = got.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["192.0.2.1:6081", "192.0.2.2:6081", "[2001:db8::5]:6081"]);

    let down = || Err(DnsError::Unreachable("connection refused".into()));
    let err =
        instances_from_lookups("n.example", 80, vec![(RecordType::A, down()), (RecordType::Aaaa, down())]).unwrap_err();
    assert_eq!((err.status(), err.kind), (503, ErrorKind::DiscoveryUnavailable));
    assert!(err.detail.contains("A lookup of n.example") && err.detail.contains("AAAA lookup"), "{}", err.detail);

    // One lookup failing fails discovery: instances could be missing.
    let half =
        vec![(RecordType::A, Ok(vec![ip("192.0.2.1")])), (RecordType::Aaaa, Err(DnsError::Rcode("SERVFAIL".into())))];
    assert_eq!(instances_from_lookups("n.example", 80, half).unwrap_err().status(), 502);

    let empty = vec![(RecordType::A, Ok(vec![])), (RecordType::Aaaa, Ok(vec![]))];
    let err = instances_from_lookups("n.example", 80, empty).unwrap_err();
    assert_eq!(err.status(), 502);
    assert_eq!(err.problem().source, ErrorSource::Discovery);
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1

pub fn token() -> FieldValue {
    FieldValue::new("s3cret").unwrap()
}

/// The `PURGE` the edgepurge contract's writer (the production one) makes of `purge`.
pub fn edgepurge_request(purge: &Purge, keep_alive: bool) -> Vec<u8> {
    Dialect::edgepurge().request(purge, &token(), None, keep_alive).unwrap()
}

#[test]
fn purge_request_bytes_are_exact() {
    let target = Target::parse("https://Example.com:8443/a/%7Eb?c=d#frag").unwrap();
    let purge = Purge::Url { target, soft: false };
    let req = String::from_utf8(edgepurge_request(&purge, true)).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        req,
        format!(
            "PURGE /a/%7Eb?c=d HTTP/1.1\r\nHost: example.com:8443\r\nPurge-Token: s3cret\r\n\
             User-Agent: edgepurge/{version}\r\nConnection: keep-alive\r\n\r\n"
        )
    );
    let last = String::from_utf8(edgepurge_request(&purge, false)).unwrap();
    assert!(last.contains("\r\nConnection: close\r\n\r\n"));
}

/// Every kind of purge built from `input` the way the API builds it (URL, soft URL, key, soft
/// key, prefix, host), for the kinds `input` is valid as.
fn purges_from(input: &str) -> Vec<(&'static str, Purge)> {
    use edgepurge_core::purge::{parse_key, parse_prefix};
    use edgepurge_core::target::normalise_host;
    let mut out = Vec::new();
    if let Ok(t) = Target::parse(input) {
        out.push(("url", Purge::Url { target: t.clone(), soft: false }));
        out.push(("soft url", Purge::Url { target: t, soft: true }));
    }
    if let Ok(key) = parse_key(input) {
        out.push(("key", Purge::Key { key: key.clone(), host: "example.com".into(), soft: false }));
        out.push(("soft key", Purge::Key { key, host: "example.com".into(), soft: true }));
    }
    if let Ok(target) = parse_prefix(input) {
        out.push(("prefix", Purge::Prefix { target }));
    }
    if let Some(host) = normalise_host(input) {
        out.push(("host", Purge::Host { host }));
    }
    out
}

/// Lines of the request a benign input of each kind writes.
fn expected_lines(kind: &str) -> usize {
    match kind {
        "url" => 6,
        "soft url" | "host" => 7,
        "key" | "prefix" => 8,
        "soft key" => 9,
        _ => unreachable!(),
    }
}

#[test]
fn no_byte_of_caller_input_can_add_a_line_to_the_request() {
    // Every byte value, at several places of every kind of item, through the production request
    // writer (`Purge::request`): refused, or the request keeps its lines, each `Name: value` of
    // printable ASCII.
    let mut checked = std::collections::BTreeSet::new();
    for b in 0u8..=255 {
        let c = char::from(b);
        for input in [
            format!("https://example.com/a{c}b"),
            format!("https://example.com/?q={c}"),
            format!("https://exa{c}mple.com/"),
            format!("https://example.com/p{c}/"),
            format!("key{c}x"),
            format!("{c}"),
            format!("exa{c}mple.com"),
        ] {
            for (kind, purge) in purges_from(&input) {
                checked.insert(kind);
                let req = edgepurge_request(&purge, true);
                let lines = expected_lines(kind);
                assert_eq!(req.windows(2).filter(|w| w == b"\r\n").count(), lines, "{kind} {input:?}");
                assert_eq!(req.iter().filter(|&&x| x == b'\n' || x == b'\r').count(), 2 * lines, "{kind} {input:?}");
                let text = std::str::from_utf8(&req).unwrap();
                for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
                    let (name, value) = line.split_once(": ").unwrap();
                    assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'), "{kind} {input:?}");
                    assert!(value.bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{kind} {input:?}");
                }
            }
        }
    }
    assert_eq!(checked.len(), 6, "every kind was exercised: {checked:?}");
    for bad in ["", "a b", "a\r\nb", "a\nb", "\0", "é"] {
        assert!(FieldValue::new(bad).is_none(), "{bad:?}");
    }
}

fn read_all(chunks: &[&[u8]]) -> Result<Option<Answer>, AnswerError> {
    let mut r = AnswerReader::new();
    let mut last = Ok(None);
    for c in chunks {
        last = r.feed(c);
        if !matches!(last, Ok(None)) {
            return last;
        }
    }
    last
}

#[test]
fn answers_are_framed_per_rfc9112() {
    let varnish = b"HTTP/1.1 200 Purged\r\nPurge-Count: 1\r\nContent-Length: 11\r\n\r\n200 Purged\n";
    // Fed at once, or one byte at a time: the same answer, and only when complete.
    let whole = read_all(&[varnish]).unwrap().unwrap();
    let mut r = AnswerReader::new();
    for (i, b) in varnish.iter().enumerate() {
        let got = r.feed(&[*b]).unwrap();
        assert_eq!(got.is_some(), i == varnish.len() - 1, "byte {i}");
        if let Some(a) = got {
            assert_eq!(a, whole);
        }
    }
    assert_eq!((whole.status, whole.header("purge-count"), whole.keep_alive), (200, Some("1"), true));
    assert_eq!(whole.body, b"200 Purged\n");

    let chunked = read_all(&[
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"6\r\n world\r\n0\r\n\r\n",
    ]);
    assert_eq!(chunked.unwrap().unwrap().body, b"hello world");

    let interim = read_all(&[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"]).unwrap().unwrap();
    assert_eq!((interim.status, interim.body.len()), (204, 0));

    let closing = read_all(&[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"]).unwrap().unwrap();
    assert!(!closing.keep_alive);
    let old = read_all(&[b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"]).unwrap().unwrap();
    assert!(!old.keep_alive);

    // Body until close: complete only at end of file.
    let mut r = AnswerReader::new();
    assert_eq!(r.feed(b"HTTP/1.1 200 OK\r\n\r\nbye").unwrap(), None);
    let a = r.finish().unwrap();
    assert_eq!((a.body.as_slice(), a.keep_alive), (&b"bye"[..], false));
}

#[test]
fn broken_answers_are_errors_not_panics() {
    let incomplete = |bytes: &[u8]| {
        let mut r = AnswerReader::new();
        assert_eq!(r.feed(bytes).unwrap(), None);
        r.finish()
    };
    assert_eq!(incomplete(b""), Err(AnswerError::Incomplete));
    assert_eq!(incomplete(b"HTTP/1.1 200 OK\r\nContent-Le"), Err(AnswerError::Incomplete));
    assert_eq!(incomplete(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"), Err(AnswerError::Incomplete));
    assert_eq!(
        incomplete(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
        Err(AnswerError::Incomplete)
    );

    assert!(matches!(read_all(&[b"SSH-2.0-OpenSSH_9.2\r\n"]), Err(AnswerError::Malformed(_))));
    assert!(matches!(read_all(&[b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"]), Err(AnswerError::Malformed(_))));
    assert!(matches!(
        read_all(&[b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"]),
        Err(AnswerError::Malformed(_))
    ));
    assert!(matches!(read_all(&[b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"]), Err(AnswerError::Malformed(_))));
    assert!(matches!(
        read_all(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]),
        Err(AnswerError::Malformed(_))
    ));
    let endless_head = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(70_000));
    assert_eq!(read_all(&[endless_head.as_bytes()]), Err(AnswerError::TooLarge));
    assert_eq!(read_all(&[b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n"]), Err(AnswerError::TooLarge));
}

// ---------------------------------------------------------------------------------------------
// Classification, planning, reports

pub fn answer_with(status: u16, headers: &[(&str, &str)]) -> Answer {
    Answer {
        status,
        headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned())).collect(),
        body: Vec::new(),
        keep_alive: true,
    }
}

#[test]
fn every_reply_maps_to_one_outcome() {
    type Case = (Result<Answer, DeliveryError>, Outcome, Option<u16>, bool);
    let cases: Vec<Case> = vec![
        (Ok(answer_with(200, &[("Purge-Count", "2")])), Outcome::Purged, Some(200), false),
        (Ok(answer_with(200, &[("Purge-Ban", "added")])), Outcome::Purged, Some(200), false),
        (Ok(answer_with(200, &[("Purge-Count", "0")])), Outcome::NotCached, Some(200), false),
        // Issue 9, finding 7: only the VCL contract's answer is "purged"; anything else that
        // looks like success (no Purge-Count, a garbled one, a 404 from whatever answered) is
        // "unconfirmed".
        (Ok(answer_with(200, &[])), Outcome::Unconfirmed, Some(200), false),
        (Ok(answer_with(204, &[])), Outcome::Unconfirmed, Some(204), false),
        (Ok(answer_with(200, &[("Purge-Count", "many")])), Outcome::Unconfirmed, Some(200), false),
        (Ok(answer_with(404, &[])), Outcome::Unconfirmed, Some(404), false),
        (Ok(answer_with(410, &[])), Outcome::Unconfirmed, Some(410), false),
        (Ok(answer_with(401, &[])), Outcome::Rejected, Some(401), false),
        (Ok(answer_with(403, &[])), Outcome::Rejected, Some(403), false),
        (Ok(answer_with(405, &[])), Outcome::Rejected, Some(405), false),
        (Ok(answer_with(400, &[])), Outcome::Rejected, Some(400), false),
        (Ok(answer_with(503, &[])), Outcome::Failed, Some(503), true),
        (Ok(answer_with(302, &[])), Outcome::Failed, Some(302), false),
        (Err(DeliveryError::Connect("refused".into())), Outcome::Failed, None, true),
        (Err(DeliveryError::Timeout(2000)), Outcome::Failed, None, true),
        (Err(DeliveryError::Io("reset".into())), Outcome::Failed, None, true),
        (Err(DeliveryError::Answer(AnswerError::Incomplete)), Outcome::Failed, None, true),
        (Err(DeliveryError::Answer(AnswerError::Malformed("x".into()))), Outcome::Failed, None, false),
    ];
    for (reply, outcome, status, retryable) in cases {
        let c = classify(&reply, Contract::Edgepurge);
        assert_eq!((c.outcome, c.http_status, c.retryable), (outcome, status, retryable), "{reply:?}");
        assert_eq!(c.error.is_none(), matches!(outcome, Outcome::Purged | Outcome::NotCached), "{reply:?}");
        assert_eq!(outcome.is_success(), !matches!(outcome, Outcome::Rejected | Outcome::Failed));
    }
    let c = classify(&Ok(answer_with(401, &[])), Contract::Edgepurge);
    assert!(c.error.unwrap().contains("PURGE_TOKEN"));
}

/// An instance reached in clear text at `s` (`ip:port`).
pub fn addr(s: &str) -> Instance {
    Instance::plain(s.parse().unwrap())
}

pub fn two_host_plan() -> Plan {
    let targets =
        parse_all(&["https://a.example/1", "https://b.example/2", "https://a.example/3"].map(String::from)).unwrap();
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![addr("10.0.0.2:80"), addr("10.0.0.1:80")]);
    instances.insert("b.example".to_owned(), vec![addr("10.0.0.1:80")]);
    Plan::build(Purge::urls(targets, false), &instances, &token(), 6, false).unwrap()
}

#[test]
fn plan_opens_one_connection_per_instance_kept_alive_to_the_end() {
    let plan = two_host_plan();
    let shape: Vec<(String, Vec<usize>)> =
        plan.jobs.iter().map(|j| (j.instance.key(), j.requests.iter().map(|r| r.target).collect())).collect();
    assert_eq!(shape, [("10.0.0.1:80".to_owned(), vec![0, 1, 2]), ("10.0.0.2:80".to_owned(), vec![0, 2])]);
    for job in &plan.jobs {
        // All keep-alive, the last too: the driver closes after the last answer, and a retry can
        // use the connection until then.
        assert!(job
            .requests
            .iter()
            .all(|r| r.keep_alive && String::from_utf8_lossy(&r.bytes).contains("Connection: keep-alive")));
    }
    let s = plan.summary();
    assert_eq!((s.instances, s.requests, s.concurrency), (2, 5, 2));
    // Two connections fit a budget of two, not of one: refused up front with the figures.
    assert!(plan.check_budget(2).is_ok());
    let err = plan.check_budget(1).unwrap_err();
    assert_eq!((err.status(), err.kind), (422, ErrorKind::OverBudget));
    assert!(err.detail.contains("needs 2 connections (5 requests)"), "{}", err.detail);

    let targets = parse_all(&["https://c.example/".to_owned()]).unwrap();
    let err = Plan::build(Purge::urls(targets, false), &BTreeMap::new(), &token(), 6, false).unwrap_err();
    assert_eq!(err.status(), 502);
}

#[test]
fn reports_account_for_every_pair() {
    let plan = two_host_plan();
    let ok = Ok(answer_with(200, &[("Purge-Count", "1")]));

    // Nothing recorded: every pair still reported, as failed.
    let report = ReportBuilder::new(&plan).finish();
    assert_eq!((report.status, report.summary.total, report.summary.failed), (PurgeStatus::Failed, 5, 5));
    assert_eq!(report.status.http_status(), 502);

    let mut all = ReportBuilder::new(&plan);
    for (j, job) in plan.jobs.iter().enumerate() {
        for r in 0..job.requests.len() {
            all.record(&plan, j, &completed(r, ok.clone(), 3, 1));
        }
    }
    let report = all.finish();
    assert_eq!((report.status, report.status.http_status(), report.summary.purged), (PurgeStatus::Purged, 200, 5));
    let rows: Vec<(&str, &str)> = report.results.iter().map(|r| (r.url.as_str(), r.instance.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("https://a.example/1", "10.0.0.1:80"),
            ("https://a.example/1", "10.0.0.2:80"),
            ("https://b.example/2", "10.0.0.1:80"),
            ("https://a.example/3", "10.0.0.1:80"),
            ("https://a.example/3", "10.0.0.2:80"),
        ]
    );

    let mut partial = ReportBuilder::new(&plan);
    for r in 0..3 {
        partial.record(&plan, 0, &completed(r, ok.clone(), 0, 1));
    }
    for r in 0..2 {
        partial.record(&plan, 1, &completed(r, Err(DeliveryError::Connect("connection refused".into())), 0, 3));
    }
    let report = partial.finish();
    assert_eq!((report.status, report.status.http_status()), (PurgeStatus::Partial, 207));
    assert_eq!((report.summary.purged, report.summary.failed), (3, 2));
    let failed: Vec<&str> =
        report.results.iter().filter(|r| r.outcome == Outcome::Failed).map(|r| r.instance.as_str()).collect();
    assert_eq!(failed, ["10.0.0.2:80", "10.0.0.2:80"]);
}

// ---------------------------------------------------------------------------------------------
// The API contract

#[test]
fn api_json_shapes_are_stable() {
    let req: PurgeRequest = serde_json::from_str(r#"{"urls": ["https://a.example/"]}"#).unwrap();
    assert_eq!(req.urls, ["https://a.example/"]);
    assert!(serde_json::from_str::<PurgeRequest>(r#"{"urls": [], "extra": 1}"#).is_err());
    assert!(serde_json::from_str::<PurgeRequest>(r#"{"url": "x"}"#).is_err());

    let plan = two_host_plan();
    let mut b = ReportBuilder::new(&plan);
    b.record(&plan, 0, &completed(0, Ok(answer_with(200, &[("Purge-Count", "0")])), 4, 1));
    let json = serde_json::to_value(b.finish()).unwrap();
    assert_eq!(json["status"], "partial");
    let row = &json["results"][0];
    assert_eq!(row["outcome"], "not_cached");
    assert_eq!(row["http_status"], 200);
    assert_eq!(row["instance"], "10.0.0.1:80");
    assert!(row.get("error").is_none());
    assert_eq!(json["results"][1]["outcome"], "failed");
    assert!(json["results"][1]["error"].is_string());

    let problem =
        serde_json::to_value(edgepurge_core::ApiError::new(ErrorKind::Unauthorized, "no token").problem()).unwrap();
    assert_eq!(problem["type"], "urn:edgepurge:problem:unauthorized");
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["source"], "caller");
    assert!(problem.get("setting").is_none());
}

#[test]
fn every_error_kind_has_its_status() {
    let kinds = [
        (ErrorKind::BadRequest, 400),
        (ErrorKind::Unauthorized, 401),
        (ErrorKind::HostNotAllowed, 403),
        (ErrorKind::Forbidden, 403),
        (ErrorKind::NotFound, 404),
        (ErrorKind::Conflict, 409),
        (ErrorKind::MethodNotAllowed, 405),
        (ErrorKind::PayloadTooLarge, 413),
        (ErrorKind::UnsupportedMediaType, 415),
        (ErrorKind::TooManyUrls, 422),
        (ErrorKind::OverBudget, 422),
        (ErrorKind::TooManyRequests, 429),
        (ErrorKind::Config, 500),
        (ErrorKind::Internal, 500),
        (ErrorKind::DiscoveryFailed, 502),
        (ErrorKind::DiscoveryUnavailable, 503),
    ];
    for (kind, status) in kinds {
        let p = edgepurge_core::ApiError::new(kind, "x").problem();
        assert_eq!(p.status, status, "{kind:?}");
        assert!(p.type_.starts_with("urn:edgepurge:problem:"));
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in: tokens, sessions, roles, CSRF

#[test]
fn secrets_are_random_bytes_and_stored_as_hashes() {
    use edgepurge_core::auth::{new_secret, secret_hash, token_hint, TOKEN_PREFIX};
    let a = new_secret(TOKEN_PREFIX, &[7; 32]);
    let b = new_secret(TOKEN_PREFIX, &[8; 32]);
    assert!(a.starts_with("ep_") && a.len() == 3 + 43, "{a}");
    assert_ne!(a, b);
    // SHA-256 of "abc" (FIPS 180-2 test vector).
    assert_eq!(secret_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(token_hint(&a), format!("{}…", &a[..7]));
}

#[test]
fn editors_cannot_manage_people() {
    use edgepurge_core::api::Role;
    use edgepurge_core::auth::{permits, Action};
    for action in [Action::Purge, Action::Verify, Action::Read] {
        assert!(permits(Role::Editor, action) && permits(Role::Admin, action));
    }
    for action in [Action::PurgeWide, Action::ManagePeople] {
        assert!(permits(Role::Admin, action));
        assert!(!permits(Role::Editor, action), "{action:?}");
    }
}

#[test]
fn session_cookies_are_locked_down_and_csrf_is_checked() {
    use edgepurge_core::auth::{clear_session_cookie, cookie_value, csrf_ok, session_cookie};
    let c = session_cookie("abc", 3600);
    for attr in ["ep_session=abc", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=3600", "Path=/"] {
        assert!(c.contains(attr), "{c}");
    }
    assert!(clear_session_cookie().contains("Max-Age=0"));
    assert_eq!(cookie_value("a=1; ep_session=xyz; b=2", "ep_session"), Some("xyz"));
    assert_eq!(cookie_value("ep_session_old=1", "ep_session"), None);

    let own = "http://127.0.0.1:8787";
    assert!(csrf_ok(Some(own), own, Some("t0k"), "t0k"));
    assert!(csrf_ok(None, own, Some("t0k"), "t0k"));
    assert!(!csrf_ok(Some("https://evil.example"), own, Some("t0k"), "t0k"));
    assert!(!csrf_ok(Some(own), own, None, "t0k"));
    assert!(!csrf_ok(Some(own), own, Some("t0K"), "t0k"));
}

// ---------------------------------------------------------------------------------------------
// Cloudflare Access JWTs

mod jwt {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use edgepurge_core::access::RsaKey;
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    use rsa::RsaPrivateKey;
    use sha2::Sha256;

    pub fn key(which: char) -> RsaPrivateKey {
        let pem = match which {
            'a' => include_str!("../fixtures/access-key-a.pem"),
            _ => include_str!("../fixtures/access-key-b.pem"),
        };
        RsaPrivateKey::from_pkcs8_pem(pem).unwrap()
    }

    pub fn jwks(keys: &[(&str, &RsaPrivateKey)]) -> String {
        let entries: Vec<serde_json::Value> = keys
            .iter()
            .map(|(kid, k)| {
                serde_json::json!({
                    "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
                    "n": URL_SAFE_NO_PAD.encode(k.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(k.e().to_bytes_be()),
                })
            })
            .collect();
        serde_json::json!({ "keys": entries }).to_string()
    }

    /// RS256 as the platform checks it (the worker's WebCrypto), here with the `rsa` crate.
    pub fn rs256(key: &RsaKey, message: &[u8], signature: &[u8]) -> bool {
        use rsa::pkcs1v15::{Signature, VerifyingKey};
        use rsa::signature::Verifier;
        let int = |s: &str| rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(s).unwrap());
        let Ok(public) = rsa::RsaPublicKey::new(int(&key.n), int(&key.e)) else { return false };
        let Ok(signature) = Signature::try_from(signature) else { return false };
        VerifyingKey::<Sha256>::new(public).verify(message, &signature).is_ok()
    }

    pub fn sign(key: &RsaPrivateKey, header: serde_json::Value, claims: serde_json::Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{h}.{c}");
        let sig = SigningKey::<Sha256>::new(key.clone()).sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }
}

#[test]
fn access_jwts_are_verified_by_key_audience_issuer_and_time() {
    use edgepurge_core::access::{issuer_for, key_id, signed, Jwks, JwtError};
    let verify = |jwt: &str, jwks: &Jwks, aud: &str, iss: &str, now: i64| {
        edgepurge_core::access::verify(jwt, jwks, aud, iss, now, jwt::rs256)
    };
    use serde_json::json;
    let a = jwt::key('a');
    let b = jwt::key('b');
    let jwks = Jwks::parse(jwt::jwks(&[("key-a", &a)]).as_bytes()).unwrap();
    let iss = issuer_for("team.cloudflareaccess.com");
    assert_eq!(iss, "https://team.cloudflareaccess.com");
    let now = 1_800_000_000;
    let header = json!({"alg": "RS256", "kid": "key-a", "typ": "JWT"});
    let claims = |aud: serde_json::Value, iss: &str, exp: i64| json!({"aud": aud, "iss": iss, "exp": exp, "iat": now - 10, "nbf": now - 10, "email": "Editor@Example.com", "sub": "x"});
    let good = jwt::sign(&a, header.clone(), claims(json!(["aud-tag"]), &iss, now + 600));
    assert_eq!(key_id(&good).unwrap(), "key-a");
    let id = verify(&good, &jwks, "aud-tag", &iss, now).unwrap();
    assert_eq!((id.email.as_str(), id.exp), ("editor@example.com", now + 600));
    // A string audience is accepted too.
    let single = jwt::sign(&a, header.clone(), claims(json!("aud-tag"), &iss, now + 600));
    assert!(verify(&single, &jwks, "aud-tag", &iss, now).is_ok());

    let forged = jwt::sign(&b, header.clone(), claims(json!(["aud-tag"]), &iss, now + 600));
    let cases = vec![
        (forged, JwtError::BadSignature),
        (
            jwt::sign(&b, json!({"alg": "RS256", "kid": "key-b"}), claims(json!(["aud-tag"]), &iss, now + 600)),
            JwtError::UnknownKey("key-b".into()),
        ),
        (jwt::sign(&a, header.clone(), claims(json!(["other"]), &iss, now + 600)), JwtError::Audience),
        (
            jwt::sign(&a, header.clone(), claims(json!(["aud-tag"]), "https://evil.cloudflareaccess.com", now + 600)),
            JwtError::Issuer,
        ),
        (jwt::sign(&a, header.clone(), claims(json!(["aud-tag"]), &iss, now - 3600)), JwtError::Expired),
        (
            jwt::sign(&a, json!({"alg": "HS256", "kid": "key-a"}), claims(json!(["aud-tag"]), &iss, now + 600)),
            JwtError::Algorithm("HS256".into()),
        ),
        (jwt::sign(&a, header.clone(), json!({"aud": ["aud-tag"], "iss": iss, "exp": now + 600})), JwtError::NoEmail),
    ];
    for (token, want) in cases {
        assert_eq!(verify(&token, &jwks, "aud-tag", &iss, now), Err(want));
    }
    // Tampering with the claims after signing breaks the signature.
    let mut parts: Vec<&str> = good.split('.').collect();
    let evil = b64url(&claims(json!(["aud-tag"]), &iss, now + 99_999).to_string());
    parts[1] = &evil;
    assert_eq!(verify(&parts.join("."), &jwks, "aud-tag", &iss, now), Err(JwtError::BadSignature));
    assert!(matches!(verify("a.b", &jwks, "aud-tag", &iss, now), Err(JwtError::Malformed(_))));
    assert!(matches!(Jwks::parse(b"{\"keys\": 5}"), Err(JwtError::Malformed(_))));
    // What the platform is asked to check: the key the header names, the signed bytes as sent.
    let s = signed(&good, &jwks).unwrap();
    assert_eq!((s.key.kid.as_str(), s.message), ("key-a", good.rsplit_once('.').unwrap().0.as_bytes()));
    assert_eq!(s.signature.len(), 256);
    // An unverified token's claims are never read: an expired one is refused for its signature.
    let expired = jwt::sign(&b, header.clone(), claims(json!(["aud-tag"]), &iss, now - 3600));
    assert_eq!(signed(&expired, &jwks).unwrap().claims(false, "aud-tag", &iss, now), Err(JwtError::BadSignature));
    // A signature of another length than the key's is refused before the platform is asked.
    let (signed_part, _) = good.rsplit_once('.').unwrap();
    let short = format!("{signed_part}.{}", b64url("short"));
    assert_eq!(signed(&short, &jwks).unwrap_err(), JwtError::BadSignature);
}

#[test]
fn jwks_keys_are_checked_before_any_signature_is() {
    use edgepurge_core::access::Jwks;
    use serde_json::json;
    let n2048 = b64url_bytes(&[&[0xc5u8][..], &[7u8; 255][..]].concat());
    let key = |n: &str, e: &str| json!({"keys": [{"kty": "RSA", "kid": "k", "n": n, "e": e}]}).to_string();
    let ok = Jwks::parse(key(&n2048, "AQAB").as_bytes()).unwrap();
    assert!(ok.has("k"));
    // Leading zero octets are not part of the number.
    let padded = b64url_bytes(&[&[0u8, 0][..], &[0xc5u8][..], &[7u8; 255][..]].concat());
    assert!(Jwks::parse(key(&padded, "AAEAAQ").as_bytes()).unwrap().has("k"));
    let n1024 = b64url_bytes(&[0xc5u8; 128]);
    for (n, e) in [
        (n1024.as_str(), "AQAB"),
        ("", "AQAB"),
        (n2048.as_str(), "Ag"),
        (n2048.as_str(), "AQ"),
        (n2048.as_str(), "AQAAAAAB"),
    ] {
        assert!(Jwks::parse(key(n, e).as_bytes()).is_err(), "n of {} chars, e {e}", n.len());
    }
    // Keys of other types are skipped, not refused.
    let ec = json!({"keys": [{"kty": "EC", "kid": "e", "crv": "P-256"}]}).to_string();
    assert!(!Jwks::parse(ec.as_bytes()).unwrap().has("e"));
}

fn b64url_bytes(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn b64url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

// ---------------------------------------------------------------------------------------------
// Verification

#[test]
fn cache_status_follows_rfc9211() {
    use edgepurge_core::verify::parse_cache_status;
    let v = parse_cache_status(r#"OriginCache; hit; ttl=1100, "CDN Company Here"; fwd=uri-miss; stored; collapsed"#);
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].cache.as_str(), v[0].hit, v[0].ttl), ("OriginCache", true, Some(1100)));
    assert_eq!(
        (v[1].cache.as_str(), v[1].hit, v[1].fwd.as_deref(), v[1].stored),
        ("CDN Company Here", false, Some("uri-miss"), true)
    );
    assert!(parse_cache_status("").is_empty());
    // A quoted cache name may hold commas and semicolons (RFC 8941 strings): one member.
    let v = parse_cache_status(r#""edge, one; really"; hit; ttl=5; fwd=stale"#);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].cache.as_str(), v[0].hit, v[0].ttl, v[0].fwd.as_deref()),
        ("edge, one; really", true, Some(5), Some("stale"))
    );
    // Not a structured List, because the cache's name (a host name, here a container id) is not
    // an sf-token: still read, member by member.
    let v = parse_cache_status("3f2a9c1b7d0e; hit; ttl=3542, 42; fwd=uri-miss; stored");
    let got: Vec<_> = v.iter().map(|c| (c.cache.as_str(), c.hit, c.ttl, c.fwd.as_deref(), c.stored)).collect();
    assert_eq!(got, [("3f2a9c1b7d0e", true, Some(3542), None, false), ("42", false, None, Some("uri-miss"), true)]);
    assert_eq!(parse_cache_status("edge-1; hit; ttl=-12")[0].ttl, Some(-12), "stale: negative ttl");
}

#[test]
fn verify_rows_report_the_instance_closest_to_the_user() {
    use edgepurge_core::verify::verify_result;
    let hit = answer_with(200, &[("Cache-Status", "origin; fwd=miss, edge-1; hit; ttl=3542"), ("Age", "58")]);
    let row = verify_result("127.0.1.1:6081".into(), &Ok(hit));
    assert_eq!((row.hit, row.ttl, row.age, row.http_status), (Some(true), Some(3542), Some(58), Some(200)));
    assert!(row.error.is_none());

    let miss = answer_with(200, &[("Cache-Status", "edge-2; fwd=uri-miss; stored")]);
    let row = verify_result("127.0.1.2:6081".into(), &Ok(miss));
    assert_eq!((row.hit, row.fwd.as_deref()), (Some(false), Some("uri-miss")));

    let row = verify_result("127.0.1.3:6081".into(), &Ok(answer_with(200, &[])));
    assert_eq!(row.hit, None);
    assert!(row.error.unwrap().contains("Cache-Status"));

    let row = verify_result("127.0.1.3:6081".into(), &Err(DeliveryError::Timeout(100)));
    assert_eq!((row.http_status, row.error.as_deref()), (None, Some("no answer within 100 ms")));
}

#[test]
fn verify_plans_head_requests_whose_answers_have_no_body() {
    let targets = parse_all(&["https://a.example/x?y".to_owned()]).unwrap();
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![addr("10.0.0.1:80")]);
    let plan = Plan::verify(targets, &instances, 6).unwrap();
    let req = &plan.jobs[0].requests[0];
    assert!(req.head);
    assert!(String::from_utf8_lossy(&req.bytes).starts_with("HEAD /x?y HTTP/1.1\r\nHost: a.example\r\n"));
    // Content-Length on a HEAD answer announces the GET body, which never comes.
    let mut r = AnswerReader::for_head();
    let a = r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nCache-Status: e; hit\r\n\r\n").unwrap().unwrap();
    assert_eq!((a.status, a.body.len()), (200, 0));
}

// ---------------------------------------------------------------------------------------------
// Retries and redelivery

#[test]
fn backoff_is_exponential_with_full_jitter_under_a_cap() {
    use edgepurge_core::retry::backoff_ms;
    // The random number picks a point in [0, min(cap, base * 2^(n-1))].
    let cases = [
        (1, 0, 0),
        (1, u32::MAX, 100),
        (2, u32::MAX, 200),
        (3, u32::MAX, 400),
        (5, u32::MAX, 1000),
        (40, u32::MAX, 1000),
    ];
    for (failures, random, max) in cases {
        let got = backoff_ms(100, 1000, failures, random);
        assert!(got <= max, "failures={failures}: {got} > {max}");
    }
    assert_eq!(backoff_ms(100, 1000, 3, 250), 250);
    assert_eq!(backoff_ms(100, 1000, 3, 401), 0, "wraps within the window");
    let spread: std::collections::BTreeSet<u64> = (0..50u32).map(|r| backoff_ms(100, 1000, 4, r * 7919)).collect();
    assert!(spread.len() > 10, "jitter spreads retries: {spread:?}");
}

#[test]
fn only_retryable_failures_are_retried_and_only_so_often() {
    use edgepurge_core::retry::RetryPolicy;
    let p = RetryPolicy { attempts: 3, base_ms: 100, cap_ms: 2000 };
    assert!(p.retry_after(1, true, 7).is_some());
    assert!(p.retry_after(2, true, 7).is_some());
    assert_eq!(p.retry_after(3, true, 7), None, "three sends in all");
    assert_eq!(p.retry_after(1, false, 7), None, "a 4xx is an answer, not a fault");
    let once = RetryPolicy { attempts: 1, ..p };
    assert_eq!(once.retry_after(1, true, 7), None);
}

#[test]
fn redelivery_stops_when_the_instance_is_gone_or_the_delivery_too_old() {
    use edgepurge_core::retry::{Decision, RedeliveryPolicy};
    let p = RedeliveryPolicy { base_ms: 1000, cap_ms: 60_000, max_age_ms: 3_600_000 };
    let here = [addr("10.0.0.1:80"), addr("10.0.0.2:80")];
    assert_eq!(p.decide(0, 1000, "10.0.0.1:80", Ok(&here)), Decision::Attempt);
    assert!(
        matches!(p.decide(0, 1000, "10.0.0.9:80", Ok(&here)), Decision::Abandon(r) if r.contains("no longer in discovery"))
    );
    assert!(
        matches!(p.decide(0, 3_600_001, "10.0.0.1:80", Ok(&here)), Decision::Abandon(r) if r.contains("REDELIVERY_MAX_AGE_MS"))
    );
    assert!(
        matches!(p.decide(0, 1000, "10.0.0.1:80", Err("SERVFAIL")), Decision::Postpone(r) if r.contains("SERVFAIL"))
    );
    // Too old wins even when discovery is down: it is abandoned, with its reason, not kept forever.
    assert!(matches!(p.decide(0, 3_600_001, "10.0.0.1:80", Err("down")), Decision::Abandon(_)));
    let next = p.next_at(5000, 3, 0);
    assert!((5100..=9000).contains(&next), "{next}");
    assert!(p.next_at(5000, 3, u32::MAX) <= 5000 + 4000);
}

#[test]
fn retryable_failures_are_queued_and_marked_pending() {
    let plan = two_host_plan();
    let mut b = ReportBuilder::new(&plan);
    let ok = Ok(answer_with(200, &[]));
    for r in 0..3 {
        b.record(&plan, 0, &completed(r, ok.clone(), 1, 1));
    }
    b.record(&plan, 1, &completed(0, Err(DeliveryError::Connect("refused".into())), 1, 3));
    b.record(&plan, 1, &completed(1, Ok(answer_with(401, &[])), 1, 1));
    let queued = b.queue_retryable();
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].instance.as_str(), queued[0].attempts, queued[0].pending), ("10.0.0.2:80", 3, true));
    let report = b.finish();
    let pending: Vec<bool> = report.results.iter().map(|r| r.pending).collect();
    assert_eq!(pending, [false, true, false, false, false]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["results"][1]["pending"], true);
    assert!(json["results"][0].get("pending").is_none());
}

#[test]
fn redelivery_plans_exactly_the_failed_pairs() {
    let a = Target::parse("https://a.example/1").unwrap();
    let b = Target::parse("https://a.example/2").unwrap();
    let [a, b] = [a, b].map(|target| Purge::Url { target, soft: false });
    let pairs = vec![(a.clone(), addr("10.0.0.2:80")), (b, addr("10.0.0.2:80")), (a, addr("10.0.0.1:80"))];
    let plan = Plan::for_pairs(pairs, &token(), 6);
    let shape: Vec<(String, Vec<usize>)> =
        plan.jobs.iter().map(|j| (j.instance.key(), j.requests.iter().map(|r| r.target).collect())).collect();
    assert_eq!(shape, [("10.0.0.1:80".to_owned(), vec![0]), ("10.0.0.2:80".to_owned(), vec![0, 1])]);
    assert_eq!(plan.purges.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Purge kinds

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
        assert_eq!(purge.is_wide(), label.starts_with("prefix:") || label.starts_with("host:"));
    }
    for bad in ["", "two keys", "tab\tkey", "ümlaut", &"k".repeat(257)] {
        assert!(parse_key(bad).is_err(), "{bad:?}");
    }
    assert!(parse_prefix("https://example.com/a?b").is_err());
    assert!(Purge::from_label("key:nohost").is_err());
}
