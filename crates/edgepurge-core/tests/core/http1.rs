//! HTTP/1.1 on the wire: the exact bytes of a `PURGE`, no byte of caller input able to add a
//! line, and answers framed per RFC 9112 (broken ones an error, never a panic).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::edgepurge_request;
use edgepurge_core::http1::{Answer, AnswerError, AnswerReader, FieldValue};
use edgepurge_core::purge::Purge;
use edgepurge_core::target::Target;

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
