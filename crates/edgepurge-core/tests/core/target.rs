//! URLs as purge targets: normalised as a browser does, international names through the
//! platform's parser, hostile ones refused, and a request's URLs checked as a whole.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::target::{parse_all, Target, TargetError, MAX_URL_LEN};

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
