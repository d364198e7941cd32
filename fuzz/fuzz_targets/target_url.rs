//! Caller input -> every kind of purge -> request bytes, through the production writer
//! (`Dialect::request`, the edgepurge contract's; the plain one's for URLs): never a panic, and an
//! item that is accepted always writes a request of exactly its kind's number of CRLF-terminated
//! lines, each `Name: value` of printable ASCII, with no stray CR, LF or NUL.
#![no_main]
use edgepurge_core::dialect::{Dialect, TokenHeader};
use edgepurge_core::target::normalise_host;
use edgepurge_core::http1::FieldValue;
use edgepurge_core::purge::{parse_key, parse_prefix, Purge};
use edgepurge_core::target::Target;
use libfuzzer_sys::fuzz_target;

fn check(purge: &Purge, lines: usize) {
    check_in(&Dialect::edgepurge(), purge, lines);
}

fn check_in(dialect: &Dialect, purge: &Purge, lines: usize) {
    let token = FieldValue::new("t0ken").expect("valid token");
    for keep_alive in [true, false] {
        let req = dialect.request(purge, &token, None, keep_alive).expect("a kind the dialect can do");
        assert_eq!(req.windows(2).filter(|w| w == b"\r\n").count(), lines);
        assert_eq!(req.iter().filter(|&&b| b == b'\r' || b == b'\n').count(), 2 * lines);
        assert!(!req.contains(&0));
        let text = std::str::from_utf8(&req).expect("ASCII");
        for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(": ").expect("a header line");
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            assert!(value.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    if let Ok(target) = Target::parse(input) {
        check(&Purge::Url { target: target.clone(), soft: false }, 6);
        check(&Purge::Url { target: target.clone(), soft: true }, 7);
        // A plain cache: the request line, Host, its token field, User-Agent, Connection; soft done hard.
        let plain = Dialect::plain(TokenHeader::new("purge-token"));
        check_in(&plain, &Purge::Url { target: target.clone(), soft: true }, 6);
        // Normalising is idempotent.
        let again = Target::parse(target.url()).expect("a normalised URL parses");
        assert_eq!(again.url(), target.url());
    }
    if let Ok(key) = parse_key(input) {
        check(&Purge::Key { key: key.clone(), host: "example.com".into(), soft: false }, 8);
        check(&Purge::Key { key, host: "example.com".into(), soft: true }, 9);
    }
    if let Ok(target) = parse_prefix(input) {
        check(&Purge::Prefix { target }, 8);
    }
    if let Some(host) = normalise_host(input) {
        check(&Purge::Host { host }, 7);
    }
});
