//! The Access key set an isolate keeps: when to fetch it, and whose fault a failure is.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edgepurge_core::access::{AccessFailure, Jwks, KeyCache, KeyStep, JWKS_REFETCH_MS};
use edgepurge_core::error::{ApiError, ErrorKind};

const URL: &str = "https://team.cloudflareaccess.com/cdn-cgi/access/certs";
const NOW: i64 = 1_796_464_850_000;

/// A key set with RSA keys of these ids (2,048-bit moduli; never used to verify here).
fn jwks(kids: &[&str]) -> Jwks {
    let n = URL_SAFE_NO_PAD.encode([0xc5u8; 256]);
    let keys: Vec<String> =
        kids.iter().map(|k| format!(r#"{{"kty":"RSA","kid":"{k}","n":"{n}","e":"AQAB","alg":"RS256"}}"#)).collect();
    Jwks::parse(format!(r#"{{"keys":[{}]}}"#, keys.join(",")).as_bytes()).unwrap()
}

fn cache_with(kids: &[&str], tried_at: i64) -> KeyCache {
    KeyCache { url: URL.into(), keys: Some(jwks(kids)), tried_at: Some(tried_at), failed: None }
}

#[test]
fn cached_keys_check_a_jwt_naming_one_of_them_without_a_fetch() {
    assert_eq!(cache_with(&["a", "b"], NOW).step(URL, "b", NOW), KeyStep::Check);
    assert_eq!(cache_with(&["a"], NOW - 3_600_000).step(URL, "a", NOW), KeyStep::Check, "however old");
}

#[test]
fn an_unknown_key_fetches_at_most_once_a_minute_and_is_the_callers_fault_meanwhile() {
    let cache = cache_with(&["a"], NOW);
    match cache.step(URL, "z", NOW + JWKS_REFETCH_MS - 1) {
        KeyStep::Refuse(AccessFailure::Refused(why)) => assert!(why.contains("\"z\""), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(cache.step(URL, "z", NOW + JWKS_REFETCH_MS), KeyStep::Fetch);
    assert_eq!(KeyCache::default().step(URL, "a", NOW), KeyStep::Fetch, "never fetched");
}

#[test]
fn keys_of_another_url_are_not_used_and_are_fetched_again() {
    let cache = cache_with(&["a"], NOW);
    assert_eq!(cache.step("https://other.example/certs", "a", NOW), KeyStep::Fetch);
    let mut cache = cache;
    assert_eq!(cache.fetched("https://other.example/certs", Ok(jwks(&["b"])), "b", NOW), KeyStep::Check);
    assert_eq!(cache.url, "https://other.example/certs");
}

#[test]
fn a_key_set_that_cannot_be_fetched_is_a_503_naming_it_never_a_401() {
    let mut cache = KeyCache::default();
    let step = cache.fetched(URL, Err("no answer within 5000 ms".into()), "a", NOW);
    let KeyStep::Refuse(failure) = step else { panic!("{step:?}") };
    let e = ApiError::from(failure);
    assert_eq!((e.kind, e.status()), (ErrorKind::AccessUnavailable, 503));
    assert_eq!(e.subject.as_deref(), Some(URL));
    assert!(e.detail.contains("no answer within 5000 ms"), "{}", e.detail);
    assert!(e.problem().retryable);
    // Within the minute, the next JWT is refused for the same reason, with no new fetch.
    match cache.step(URL, "a", NOW + 1) {
        KeyStep::Refuse(f) => assert_eq!(ApiError::from(f).kind, ErrorKind::AccessUnavailable),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_fetch_keeps_the_keys_that_worked_and_they_still_check() {
    let mut cache = cache_with(&["a"], NOW - 2 * JWKS_REFETCH_MS);
    let step = cache.fetched(URL, Err("HTTP 502".into()), "z", NOW);
    assert!(matches!(step, KeyStep::Refuse(AccessFailure::KeysUnavailable { .. })), "{step:?}");
    assert_eq!(cache.tried_at, Some(NOW), "the try counts: a failing host is not asked on every request");
    assert_eq!(cache.step(URL, "a", NOW + 1), KeyStep::Check, "the known key still works");
}

#[test]
fn a_fetch_that_works_clears_the_failure_and_an_absent_key_is_the_callers_fault() {
    let mut cache = KeyCache { failed: Some("HTTP 502".into()), ..cache_with(&[], NOW - 2 * JWKS_REFETCH_MS) };
    let step = cache.fetched(URL, Ok(jwks(&["a"])), "z", NOW);
    let KeyStep::Refuse(failure) = step else { panic!("{step:?}") };
    assert_eq!(ApiError::from(failure).kind, ErrorKind::Unauthorized);
    assert_eq!(cache.failed, None);
    assert_eq!(cache.step(URL, "a", NOW), KeyStep::Check);
}
