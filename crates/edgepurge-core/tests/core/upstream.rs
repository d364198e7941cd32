//! Fastly services and Cloudflare zones as purge targets: what each vendor can do, the calls
//! planned for it (paths, headers, bodies, batching at the documented limits), and how every
//! kind of answer is read. Example bodies are the vendors' documented ones.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::api::Outcome;
use edgepurge_core::dialect::Support;
use edgepurge_core::http1::FieldValue;
use edgepurge_core::purge::{parse_key, parse_prefix, Purge};
use edgepurge_core::target::Target;
use edgepurge_core::upstream::{
    auth_header, cloudflare, fastly, retry_after_secs, Call, CallRow, Reply, Upstream, UpstreamError, Vendor,
    MAX_ERROR_CHARS, MAX_REPLY_BYTES, MAX_RETRY_AFTER_SECS,
};

const SERVICE: &str = "SU1Z0isxPaozGVKXdv0eY";
const ZONE: &str = "023e105f4ecef8ad9ca31a8372d0c353";

fn fastly_service(whole_host: bool) -> Upstream {
    Upstream::new(Vendor::Fastly, SERVICE, whole_host, fastly::MAX_KEYS_PER_CALL).unwrap()
}

fn zone(per_call: usize) -> Upstream {
    Upstream::new(Vendor::Cloudflare, ZONE, false, per_call).unwrap()
}

fn url(raw: &str, soft: bool) -> Purge {
    Purge::Url { target: Target::parse(raw).unwrap(), soft }
}

fn key(raw: &str, soft: bool) -> Purge {
    Purge::Key { key: parse_key(raw).unwrap(), host: "www.example.com".into(), soft }
}

fn prefix(raw: &str) -> Purge {
    Purge::Prefix { target: parse_prefix(raw).unwrap() }
}

fn host() -> Purge {
    Purge::Host { host: "www.example.com".into() }
}

fn every(purges: &[Purge]) -> Vec<usize> {
    (0..purges.len()).collect()
}

fn reply(status: u16, body: &str) -> Result<Reply, String> {
    Ok(Reply { status, body: body.as_bytes().to_vec(), ..Reply::default() })
}

/// The rows of a one-item call to `upstream` answered with `answer`.
fn read_one(upstream: &Upstream, answer: Result<Reply, String>) -> CallRow {
    let purges = [url("https://www.example.com/a", false)];
    let calls = upstream.calls(&purges, &[0]);
    let rows = upstream.read(&calls[0], answer);
    assert_eq!(rows.len(), 1);
    rows.into_iter().next().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Upstreams and what they can do

#[test]
fn ids_and_items_per_call_are_checked_and_rows_are_named_by_vendor_and_id() {
    let cases: [(Vendor, &str, usize, Result<&str, UpstreamError>); 8] = [
        (Vendor::Fastly, SERVICE, 256, Ok("fastly:SU1Z0isxPaozGVKXdv0eY")),
        (Vendor::Cloudflare, ZONE, 30, Ok("cloudflare:023e105f4ecef8ad9ca31a8372d0c353")),
        (Vendor::Cloudflare, ZONE, 100, Ok("cloudflare:023e105f4ecef8ad9ca31a8372d0c353")),
        (Vendor::Fastly, "", 256, Err(UpstreamError::Id)),
        (Vendor::Fastly, "../purge_all", 256, Err(UpstreamError::Id)),
        (Vendor::Cloudflare, &"a".repeat(65), 30, Err(UpstreamError::Id)),
        (Vendor::Fastly, SERVICE, 257, Err(UpstreamError::PerCall { max: 256 })),
        (Vendor::Cloudflare, ZONE, 0, Err(UpstreamError::PerCall { max: 100 })),
    ];
    for (vendor, id, per_call, expected) in cases {
        let got = Upstream::new(vendor, id, false, per_call).map(|u| u.key());
        assert_eq!(got, expected.map(str::to_owned), "{vendor} {id:?} {per_call}");
    }
    assert_eq!(Vendor::Fastly.default_per_call(), 256);
    assert_eq!(Vendor::Cloudflare.default_per_call(), 30);
}

#[test]
fn each_vendor_states_which_kinds_it_can_do() {
    // (purge, Fastly, Fastly serving the host alone, Cloudflare)
    let cases = [
        (url("https://www.example.com/a", false), Support::Yes, Support::Yes, Support::Yes),
        (url("https://www.example.com/a", true), Support::Yes, Support::Yes, Support::Yes),
        (key("k", false), Support::Yes, Support::Yes, Support::Yes),
        (key("k", true), Support::Yes, Support::Yes, Support::Yes),
        (prefix("https://www.example.com/episodes/"), Support::No, Support::No, Support::Yes),
        (host(), Support::No, Support::Yes, Support::Yes),
    ];
    for (purge, shared, alone, cf) in cases {
        assert_eq!(fastly_service(false).support(&purge), shared, "{}", purge.label());
        assert_eq!(fastly_service(true).support(&purge), alone, "{}", purge.label());
        assert_eq!(zone(30).support(&purge), cf, "{}", purge.label());
    }
}

#[test]
fn a_cloudflare_prefix_may_have_at_most_31_path_separators() {
    let deep = |n: usize| prefix(&format!("https://www.example.com{}", "/a".repeat(n)));
    assert_eq!(zone(30).support(&deep(cloudflare::MAX_PREFIX_SEPARATORS)), Support::Yes);
    assert_eq!(zone(30).support(&deep(cloudflare::MAX_PREFIX_SEPARATORS + 1)), Support::No);
    assert!(zone(30).calls(&[deep(32)], &[0]).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Fastly calls

#[test]
fn fastly_purges_each_url_by_host_and_path_without_scheme() {
    // (URL, soft, path)
    let cases = [
        ("https://www.example.com/episodes/1", false, "/purge/www.example.com/episodes/1"),
        ("http://www.example.com/a%20b?x=1&y=%2F", false, "/purge/www.example.com/a%20b?x=1&y=%2F"),
        ("https://www.example.com:8443/", true, "/purge/www.example.com:8443/"),
    ];
    for (raw, soft, path) in cases {
        let calls = fastly_service(false).calls(&[url(raw, soft)], &[0]);
        assert_eq!(calls.len(), 1, "{raw}");
        let call = &calls[0];
        assert_eq!((call.method, call.path.as_str(), call.body.as_deref()), ("POST", path, None), "{raw}");
        assert_eq!(call.header("fastly-soft-purge"), soft.then_some("1"), "{raw}");
        assert_eq!(call.header("Accept"), Some("application/json"));
        assert_eq!(call.items, vec![0]);
    }
}

#[test]
fn fastly_batches_at_most_256_keys_per_call_in_surrogate_key() {
    for (keys, sizes) in [(1, vec![1]), (256, vec![256]), (257, vec![256, 1]), (513, vec![256, 256, 1])] {
        let purges: Vec<Purge> = (0..keys).map(|i| key(&format!("k{i}"), false)).collect();
        let calls = fastly_service(false).calls(&purges, &every(&purges));
        assert_eq!(calls.iter().map(|c| c.items.len()).collect::<Vec<_>>(), sizes, "{keys} keys");
        let mut next = 0;
        for call in &calls {
            assert_eq!(call.path, "/service/SU1Z0isxPaozGVKXdv0eY/purge");
            let field: Vec<&str> = call.header("Surrogate-Key").unwrap().split(' ').collect();
            let expected: Vec<String> = call.items.iter().map(|i| format!("k{i}")).collect();
            assert_eq!(field, expected);
            assert_eq!(call.items, (next..next + call.items.len()).collect::<Vec<_>>());
            next += call.items.len();
        }
    }
    // A smaller setting batches smaller.
    let purges: Vec<Purge> = (0..5).map(|i| key(&format!("k{i}"), false)).collect();
    let small = Upstream::new(Vendor::Fastly, SERVICE, false, 2).unwrap();
    assert_eq!(small.calls(&purges, &every(&purges)).len(), 3);
}

#[test]
fn fastly_splits_a_batch_of_long_keys_before_the_header_gets_too_big() {
    let purges: Vec<Purge> = (0..256).map(|i| key(&format!("{i:03}{}", "x".repeat(253)), false)).collect();
    let calls = fastly_service(false).calls(&purges, &every(&purges));
    assert!(calls.len() > 1);
    assert_eq!(calls.iter().map(|c| c.items.len()).sum::<usize>(), 256);
    for call in calls {
        assert!(call.header("Surrogate-Key").unwrap().len() <= fastly::MAX_KEY_FIELD_BYTES);
    }
}

#[test]
fn fastly_sends_soft_keys_in_calls_of_their_own() {
    let purges = [key("a", false), key("b", true), key("c", false), key("d", true)];
    let calls = fastly_service(false).calls(&purges, &every(&purges));
    let seen: Vec<(Vec<usize>, Option<&str>, Option<&str>)> = calls
        .iter()
        .map(|c| (c.items.clone(), c.header("Surrogate-Key"), c.header(fastly::SOFT_PURGE_HEADER)))
        .collect();
    assert_eq!(seen, vec![(vec![0, 2], Some("a c"), None), (vec![1, 3], Some("b d"), Some("1"))]);
}

#[test]
fn fastly_empties_the_service_for_a_host_only_when_it_serves_that_host_alone() {
    let purges = [host(), prefix("https://www.example.com/episodes/"), url("https://www.example.com/x", false)];
    let shared = fastly_service(false).calls(&purges, &every(&purges));
    assert_eq!(shared.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["/purge/www.example.com/x"]);
    let alone = fastly_service(true).calls(&purges, &every(&purges));
    let paths: Vec<(&str, &[usize])> = alone.iter().map(|c| (c.path.as_str(), c.items.as_slice())).collect();
    assert_eq!(paths, [("/purge/www.example.com/x", &[2][..]), ("/service/SU1Z0isxPaozGVKXdv0eY/purge_all", &[0][..])]);
    assert_eq!(alone[1].header(fastly::SOFT_PURGE_HEADER), None);
}

// ---------------------------------------------------------------------------------------------
// Cloudflare calls

#[test]
fn cloudflare_writes_one_list_per_kind_and_soft_ones_to_invalidate_cache() {
    // (purge, endpoint, body)
    let cases = [
        (url("https://www.example.com/a?x=1", false), "purge_cache", r#"{"files":["https://www.example.com/a?x=1"]}"#),
        (url("https://www.example.com/a", true), "invalidate_cache", r#"{"files":["https://www.example.com/a"]}"#),
        (key("episode-1", false), "purge_cache", r#"{"tags":["episode-1"]}"#),
        (key("episode-1", true), "invalidate_cache", r#"{"tags":["episode-1"]}"#),
        (prefix("https://www.example.com/episodes/"), "purge_cache", r#"{"prefixes":["www.example.com/episodes/"]}"#),
        (host(), "purge_cache", r#"{"hosts":["www.example.com"]}"#),
    ];
    for (purge, endpoint, body) in cases {
        let calls = zone(30).calls(std::slice::from_ref(&purge), &[0]);
        assert_eq!(calls.len(), 1, "{}", purge.label());
        let call = &calls[0];
        assert_eq!(call.method, "POST");
        assert_eq!(call.path, format!("/client/v4/zones/{ZONE}/{endpoint}"), "{}", purge.label());
        assert_eq!(call.body.as_deref(), Some(body), "{}", purge.label());
        assert_eq!(call.header("content-type"), Some("application/json"));
    }
}

#[test]
fn cloudflare_never_mixes_lists_in_a_call_and_cuts_each_at_per_call() {
    let mut purges: Vec<Purge> = (0..31).map(|i| url(&format!("https://www.example.com/{i}"), false)).collect();
    purges.extend([key("t1", false), host(), key("t2", false), prefix("https://www.example.com/p/")]);
    purges.push(url("https://www.example.com/soft", true));
    let calls = zone(30).calls(&purges, &every(&purges));
    let shape: Vec<(&str, usize)> = calls
        .iter()
        .map(|c| {
            let body = c.body.as_deref().unwrap();
            (&body[2..body.find("\":").unwrap()], c.items.len())
        })
        .collect();
    assert_eq!(shape, [("files", 30), ("files", 1), ("hosts", 1), ("prefixes", 1), ("tags", 2), ("files", 1)]);
    assert!(calls[..5].iter().all(|c| c.path.ends_with("/purge_cache")));
    assert!(calls[5].path.ends_with("/invalidate_cache"));
    assert_eq!(calls[4].items, [31, 33]);
    // At the per-call limit exactly, and one over.
    for (n, sizes) in [(100, vec![100]), (101, vec![100, 1])] {
        let purges: Vec<Purge> = (0..n).map(|i| key(&format!("t{i}"), false)).collect();
        let calls = zone(100).calls(&purges, &every(&purges));
        assert_eq!(calls.iter().map(|c| c.items.len()).collect::<Vec<_>>(), sizes);
    }
}

#[test]
fn items_out_of_range_repeated_or_unsupported_are_in_no_call() {
    let purges = [url("https://www.example.com/a", false), prefix("https://www.example.com/p/"), host()];
    let calls = fastly_service(false).calls(&purges, &[0, 0, 1, 2, 7]);
    assert_eq!(calls.iter().flat_map(|c| c.items.clone()).collect::<Vec<_>>(), [0]);
    assert!(zone(30).calls(&purges, &[]).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Credentials and the bytes on the wire

#[test]
fn the_credential_header_is_the_workers_to_add_and_never_in_a_call() {
    let token = FieldValue::new("tok-SECRET-123").unwrap();
    assert_eq!(auth_header(Vendor::Fastly, &token), ("Fastly-Key", "tok-SECRET-123".to_owned()));
    assert_eq!(auth_header(Vendor::Cloudflare, &token), ("Authorization", "Bearer tok-SECRET-123".to_owned()));
    let purges = [url("https://www.example.com/a", true), key("k", false), host()];
    for upstream in [fastly_service(true), zone(30)] {
        for call in upstream.calls(&purges, &every(&purges)) {
            let text = format!("{call:?}");
            assert!(!text.contains("SECRET") && !text.contains("Fastly-Key") && !text.contains("Authorization"));
        }
    }
}

#[test]
fn no_call_carries_cr_or_lf_whatever_the_caller_sent() {
    // What a caller might try: each is refused before it can become a purge.
    for hostile in
        ["https://www.example.com/a\r\nX-Evil: 1", "https://www.example.com/a\nb", "https://www.exa\rmple.com/"]
    {
        assert!(Target::parse(hostile).is_err(), "{hostile:?}");
    }
    for hostile in ["k\r\nX-Evil: 1", "k\n", "a b"] {
        assert!(parse_key(hostile).is_err(), "{hostile:?}");
    }
    let purges = [
        url("https://www.example.com/%0D%0Ax?q=%0A", false),
        url("https://www.example.com/\"quoted\"", true),
        key("k\"}{", false),
        key("soft\\key", true),
        prefix("https://www.example.com/%0D/"),
        host(),
    ];
    let clean = |s: &str| !s.contains(['\r', '\n']);
    for upstream in [fastly_service(true), zone(30)] {
        let calls = upstream.calls(&purges, &every(&purges));
        assert!(!calls.is_empty());
        for Call { path, headers, body, .. } in calls {
            assert!(clean(&path), "{path:?}");
            assert!(headers.iter().all(|(n, v)| clean(n) && clean(v)), "{headers:?}");
            assert!(body.as_deref().is_none_or(clean), "{body:?}");
        }
    }
    // The JSON body escapes what needs escaping: it still parses to the same strings.
    let calls = zone(30).calls(&purges, &[2]);
    let body: serde_json::Value = serde_json::from_str(calls[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(body["tags"][0], "k\"}{");
}

// ---------------------------------------------------------------------------------------------
// Answers

#[test]
fn fastly_success_bodies_are_read_per_documented_shape() {
    let single = fastly_service(true);
    // (body, outcome, id)
    let cases = [
        (r#"{"status": "ok", "id": "108-1391560174-974124"}"#, Outcome::Purged, Some("108-1391560174-974124")),
        (r#"{"status":"ok"}"#, Outcome::Purged, None),
        (r#"{"status":"error","msg":"Bad request"}"#, Outcome::Rejected, None),
        ("<html>maintenance</html>", Outcome::Failed, None),
        ("", Outcome::Failed, None),
    ];
    for (body, outcome, id) in cases {
        let row = read_one(&single, reply(200, body));
        assert_eq!((row.outcome, row.id.as_deref()), (outcome, id), "{body}");
        assert_eq!(row.retryable, outcome == Outcome::Failed, "{body}");
    }
    // A batch answers one purge id per key; a key it does not name is not taken as purged.
    let purges = [key("key_1", false), key("key_2", false), key("key_3", false)];
    let calls = single.calls(&purges, &every(&purges));
    let body = r#"{"key_1": "108-1391560174-974124", "key_3": "108-1391560174-974125"}"#;
    let rows = single.read(&calls[0], reply(200, body));
    let got: Vec<(usize, Outcome, Option<&str>)> = rows.iter().map(|r| (r.item, r.outcome, r.id.as_deref())).collect();
    assert_eq!(
        got,
        [
            (0, Outcome::Purged, Some("108-1391560174-974124")),
            (1, Outcome::Failed, None),
            (2, Outcome::Purged, Some("108-1391560174-974125"))
        ]
    );
    assert!(rows[1].retryable && rows[1].error.as_deref().unwrap().contains("key_2"));
    let rows = single.read(&calls[0], reply(200, "not json"));
    assert!(rows.len() == 3 && rows.iter().all(|r| r.outcome == Outcome::Failed && r.retryable));
}

#[test]
fn cloudflare_success_needs_success_true_even_with_a_2xx() {
    // (status, body, outcome, id, error contains)
    let cases = [
        (
            200,
            r#"{"errors":[],"messages":[],"success":true,"result":{"id":"023e105f4ecef8ad9ca31a8372d0c353"}}"#,
            Outcome::Purged,
            Some(ZONE),
            None,
        ),
        (200, r#"{"success":true,"errors":[],"messages":[],"result":null}"#, Outcome::Purged, None, None),
        (
            200,
            r#"{"success":false,"errors":[{"code":1107,"message":"Only enterprise zones can purge by tag."}],"messages":[],"result":null}"#,
            Outcome::Rejected,
            None,
            Some("Only enterprise zones can purge by tag. (code 1107)"),
        ),
        (202, r#"{"result":{"id":"x"}}"#, Outcome::Failed, None, Some("documented form")),
    ];
    for (status, body, outcome, id, error) in cases {
        let row = read_one(&zone(30), reply(status, body));
        assert_eq!((row.outcome, row.id.as_deref()), (outcome, id), "{body}");
        if let Some(error) = error {
            assert!(row.error.as_deref().unwrap().contains(error), "{:?}", row.error);
        }
    }
}

#[test]
fn every_status_class_is_classified_for_both_vendors() {
    // (status, outcome, retryable)
    let cases = [
        (400, Outcome::Rejected, false),
        (401, Outcome::Rejected, false),
        (403, Outcome::Rejected, false),
        (404, Outcome::Rejected, false),
        (429, Outcome::Failed, true),
        (500, Outcome::Failed, true),
        (502, Outcome::Failed, true),
        (503, Outcome::Failed, true),
        (302, Outcome::Failed, false),
        (101, Outcome::Failed, false),
    ];
    for upstream in [fastly_service(false), zone(30)] {
        for (status, outcome, retryable) in cases {
            let row = read_one(&upstream, reply(status, "{}"));
            assert_eq!((row.outcome, row.retryable), (outcome, retryable), "{} {status}", upstream.key());
            assert!(row.error.is_some() && row.id.is_none());
            assert_eq!(row.retry_after_secs.is_some(), status == 429, "{status}");
        }
        let row = read_one(&upstream, Err("connection reset by peer".into()));
        assert_eq!((row.outcome, row.retryable), (Outcome::Failed, true));
        assert!(row.error.as_deref().unwrap().contains("connection reset by peer"));
    }
}

#[test]
fn retry_after_is_read_in_delta_seconds_and_bounded() {
    // (Retry-After, Fastly, Cloudflare)
    let cases = [
        (Some("120"), 120, 120),
        (Some(" 30 "), 30, 30),
        (Some("0"), 1, 1),
        (Some("86400"), MAX_RETRY_AFTER_SECS, MAX_RETRY_AFTER_SECS),
        (Some("99999999999999999999999"), MAX_RETRY_AFTER_SECS, MAX_RETRY_AFTER_SECS),
        (Some("Wed, 21 Oct 2015 07:28:00 GMT"), 60, 300),
        (Some("-5"), 60, 300),
        (Some("1.5"), 60, 300),
        (Some(""), 60, 300),
        (None, fastly::DEFAULT_RETRY_AFTER_SECS, cloudflare::DEFAULT_RETRY_AFTER_SECS),
    ];
    for (value, on_fastly, on_cloudflare) in cases {
        for (upstream, expected) in [(fastly_service(false), on_fastly), (zone(30), on_cloudflare)] {
            let answer = Reply { status: 429, retry_after: value.map(str::to_owned), ..Reply::default() };
            let row = read_one(&upstream, Ok(answer));
            assert_eq!(row.retry_after_secs, Some(expected), "{} {value:?}", upstream.key());
            assert_eq!(retry_after_secs(value, upstream.vendor.default_retry_after_secs()), expected);
        }
    }
    // A 503 may say when to come back; without it the worker's own backoff applies.
    let answer = |v: Option<&str>| Ok(Reply { status: 503, retry_after: v.map(str::to_owned), ..Reply::default() });
    assert_eq!(read_one(&zone(30), answer(Some("120"))).retry_after_secs, Some(120));
    assert_eq!(read_one(&zone(30), answer(Some("Wed, 21 Oct 2015 07:28:00 GMT"))).retry_after_secs, None);
    assert_eq!(read_one(&zone(30), answer(None)).retry_after_secs, None);
}

#[test]
fn errors_carry_the_vendors_own_message_bounded_and_printable() {
    // (upstream, status, body, the row's error)
    let cases = [
        (
            fastly_service(false),
            401,
            r#"{"msg":"Provided credentials are missing or invalid"}"#,
            "Fastly refused (HTTP 401): Provided credentials are missing or invalid",
        ),
        (
            fastly_service(false),
            404,
            r#"{"msg":"Record not found","detail":"Cannot find 'service'"}"#,
            "Fastly refused (HTTP 404): Record not found (Cannot find 'service')",
        ),
        (fastly_service(false), 400, "<html>Bad Request</html>", "Fastly refused (HTTP 400)"),
        (
            zone(30),
            403,
            r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}"#,
            "Cloudflare refused (HTTP 403): Authentication error (code 10000)",
        ),
        (
            zone(30),
            400,
            r#"{"success":false,"errors":[{"code":1014,"message":"bad"},{"code":1015,"message":"worse"}],"result":{}}"#,
            "Cloudflare refused (HTTP 400): bad (code 1014); worse (code 1015)",
        ),
        (
            zone(30),
            429,
            r#"{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}]}"#,
            "Cloudflare is rate limiting (HTTP 429): Please wait and consider throttling your request speed (code 971)",
        ),
        (zone(30), 502, "", "Cloudflare failed (HTTP 502)"),
    ];
    for (upstream, status, body, error) in cases {
        assert_eq!(read_one(&upstream, reply(status, body)).error.as_deref(), Some(error), "{body}");
    }
    // Long, multi-line or binary messages are cut and made printable.
    let long = format!(r#"{{"msg":"line one\r\nline two\u0000{}"}}"#, "x".repeat(10_000));
    let error = read_one(&fastly_service(false), reply(400, &long)).error.unwrap();
    assert!(error.starts_with("Fastly refused (HTTP 400): line one  line two "), "{error}");
    assert!(error.chars().count() <= MAX_ERROR_CHARS + 1 && error.ends_with('…'));
    assert!(!error.chars().any(char::is_control));
    let error = read_one(&zone(30), Err(format!("fetch failed\n{}", "y".repeat(5000)))).error.unwrap();
    assert!(error.chars().count() <= MAX_ERROR_CHARS + 1 && !error.contains('\n'));
    // An answer over the size read is not parsed at all.
    let huge = format!(r#"{{"status":"ok","id":"{}"}}"#, "1".repeat(MAX_REPLY_BYTES));
    assert_eq!(read_one(&fastly_service(false), reply(200, &huge)).outcome, Outcome::Failed);
}

#[test]
fn every_item_of_a_call_gets_a_row_with_the_request_id() {
    let purges: Vec<Purge> = (0..3).map(|i| url(&format!("https://www.example.com/{i}"), false)).collect();
    let upstream = zone(30);
    let calls = upstream.calls(&purges, &[2, 0, 1]);
    assert_eq!(calls.len(), 1);
    let answer = Reply {
        status: 200,
        request_id: Some("8f1b2c3d4e5f6a7b-FRA\n".into()),
        body: br#"{"success":true,"errors":[],"messages":[],"result":{"id":"9a7806061c88ada191ed06f989cc3dac"}}"#
            .to_vec(),
        ..Reply::default()
    };
    let rows = upstream.read(&calls[0], Ok(answer));
    assert_eq!(rows.iter().map(|r| r.item).collect::<Vec<_>>(), [2, 0, 1]);
    for row in rows {
        assert_eq!(row.outcome, Outcome::Purged);
        assert_eq!(row.id.as_deref(), Some("9a7806061c88ada191ed06f989cc3dac"));
        assert_eq!(row.request_id.as_deref(), Some("8f1b2c3d4e5f6a7b-FRA "));
        assert!(row.error.is_none() && !row.retryable && row.retry_after_secs.is_none());
    }
}
