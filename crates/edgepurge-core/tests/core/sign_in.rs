//! Sign-in (the `auth` module): secrets and their hashes, what each role may do, session cookies
//! and CSRF.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

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
