//! Who is calling (the `auth` module): which credential wins, when a session stands, secrets
//! and their hashes, what each role may do, session cookies, and the CSRF and sign-in origin
//! rules.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::auth::{
    bearer, check_csrf, credential, csrf_applies, session_stands, sign_in_origin, Credential, Presented, SessionFacts,
    SESSION_COOKIE,
};
use edgepurge_core::error::ErrorKind;

const OWN: &str = "https://purge.example.com";

#[test]
fn an_authorization_header_wins_over_access_and_the_session() {
    let cookie = format!("{SESSION_COOKIE}=s1");
    let p = Presented { authorization: Some("Bearer ep_x"), access_jwt: Some("jwt"), cookie: Some(&cookie) };
    assert_eq!(credential(&p, true).unwrap(), Credential::Token("ep_x"));
}

#[test]
fn a_malformed_authorization_header_is_refused_not_passed_over_for_the_cookie() {
    let cookie = format!("{SESSION_COOKIE}=s1");
    for value in ["Basic dXNlcg==", "Bearer", "Bearer   ", "ep_x", ""] {
        let p = Presented { authorization: Some(value), access_jwt: None, cookie: Some(&cookie) };
        let e = credential(&p, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{value:?}");
        assert!(e.detail.contains("Bearer"), "{value:?}: {}", e.detail);
    }
}

#[test]
fn access_counts_only_when_configured_and_wins_over_the_session() {
    let cookie = format!("{SESSION_COOKIE}=s1");
    let p = Presented { authorization: None, access_jwt: Some("jwt"), cookie: Some(&cookie) };
    assert_eq!(credential(&p, true).unwrap(), Credential::Access("jwt"));
    assert_eq!(credential(&p, false).unwrap(), Credential::Session("s1"));
    let only_jwt = Presented { cookie: None, ..p };
    assert_eq!(credential(&only_jwt, false).unwrap_err().kind, ErrorKind::Unauthorized);
}

#[test]
fn no_credential_is_a_401_that_names_every_way_in() {
    let other_cookie = "theme=dark";
    let doubled = format!("{SESSION_COOKIE}=a; {SESSION_COOKIE}=b");
    for cookie in [None, Some(other_cookie), Some(doubled.as_str())] {
        let e = credential(&Presented { cookie, ..Presented::default() }, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{cookie:?}");
        for way in ["sign in", "Bearer", "Access"] {
            assert!(e.detail.contains(way), "{cookie:?}: {} names {way}", e.detail);
        }
    }
}

#[test]
fn bearer_reads_the_scheme_in_any_case_and_trims() {
    let cases = [
        ("Bearer ep_x", Some("ep_x")),
        ("bearer ep_x", Some("ep_x")),
        ("  BEARER   ep_x  ", Some("ep_x")),
        ("Token ep_x", None),
        ("Bearer", None),
    ];
    for (value, want) in cases {
        assert_eq!(bearer(value), want, "{value:?}");
    }
}

#[test]
fn a_session_stands_while_its_token_does() {
    let facts = |personal, bootstrap_admin, bootstrap_token_current| SessionFacts {
        personal,
        bootstrap_admin,
        bootstrap_token_current,
    };
    // (personal, the bootstrap admin's, its bootstrap token still configured) -> stands
    let cases = [
        (facts(true, false, false), true),
        (facts(true, true, false), false),
        (facts(true, true, true), false),
        (facts(false, true, true), true),
        (facts(false, true, false), false),
        (facts(false, false, false), false),
    ];
    for (f, stands) in cases {
        let got = session_stands(Some(f));
        assert_eq!(got.is_ok(), stands, "{f:?}");
        if let Err(e) = got {
            assert_eq!(e.kind, ErrorKind::Unauthorized);
            assert!(e.detail.contains("sign in again"), "{}", e.detail);
        }
    }
}

#[test]
fn an_unknown_or_expired_session_is_a_401_saying_it_expired() {
    let e = session_stands(None).unwrap_err();
    assert_eq!((e.kind, e.detail.as_str()), (ErrorKind::Unauthorized, "the session has expired: sign in again"));
}

#[test]
fn csrf_applies_to_every_method_that_may_change_state() {
    for method in ["GET", "HEAD", "OPTIONS", "get", "Head"] {
        assert!(!csrf_applies(method), "{method}");
    }
    for method in ["POST", "PUT", "PATCH", "DELETE", "PURGE", "QUERY", "post"] {
        assert!(csrf_applies(method), "{method}");
    }
}

#[test]
fn the_csrf_rule_needs_the_token_and_a_same_origin_when_one_is_sent() {
    // (method, Origin, X-CSRF-Token) -> allowed, the session's token being "t1"
    let cases: &[(&str, Option<&str>, Option<&str>, bool)] = &[
        ("GET", Some("https://evil.example"), None, true),
        ("POST", None, Some("t1"), true),
        ("POST", Some(OWN), Some("t1"), true),
        ("POST", Some("HTTPS://PURGE.EXAMPLE.COM"), Some("t1"), true),
        ("POST", Some(OWN), None, false),
        ("POST", Some(OWN), Some("t2"), false),
        ("POST", Some("https://evil.example"), Some("t1"), false),
        ("DELETE", Some("null"), Some("t1"), false),
        ("PATCH", None, Some(""), false),
    ];
    for &(method, origin, sent, allowed) in cases {
        let got = check_csrf(method, origin, OWN, sent, "t1");
        assert_eq!(got.is_ok(), allowed, "{method} {origin:?} {sent:?}");
        if let Err(e) = got {
            assert_eq!(e.kind, ErrorKind::Forbidden);
        }
    }
}

#[test]
fn sign_in_from_another_origin_is_refused() {
    assert!(sign_in_origin(None, OWN).is_ok(), "non-browser clients send no Origin");
    assert!(sign_in_origin(Some(OWN), OWN).is_ok());
    for origin in ["https://evil.example", "null", "https://purge.example.com:8443", "http://purge.example.com"] {
        let e = sign_in_origin(Some(origin), OWN).unwrap_err();
        assert_eq!((e.kind, e.detail.as_str()), (ErrorKind::Forbidden, "cross-site sign-in refused"), "{origin}");
    }
}

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
