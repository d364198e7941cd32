//! Scoped tokens: the one authorisation rule (role, then kinds, hosts and read-only) for every
//! action and every purge, and the scopes a new token may be given.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::config;
use edgepurge_core::api::{PurgeKinds, PurgeRequest, Role, TokenScopes};
use edgepurge_core::auth::Action;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::request::{confirm_for, purges_for, skipped_groups};
use edgepurge_core::scopes::{describe, issued_scopes, Grant, MAX_SCOPE_HOSTS};

fn req(json: &str) -> PurgeRequest {
    serde_json::from_str(json).unwrap()
}

fn scopes(json: &str) -> TokenScopes {
    serde_json::from_str(json).unwrap()
}

fn grant(role: Role, json: &str) -> Grant {
    Grant { role, scopes: scopes(json) }
}

/// Each purge's label, or the refusal's kind and detail.
fn purged(grant: &Grant, request: &str) -> Result<Vec<String>, (ErrorKind, String)> {
    purges_for(&config(&[]), grant, &req(request))
        .map(|ps| ps.iter().map(|p| p.label()).collect())
        .map_err(|e| (e.kind, e.detail))
}

#[test]
fn every_action_is_judged_by_the_role_then_the_scopes() {
    use Action::*;
    const UNSCOPED: &str = "{}";
    const SELECT: &str = r#"{"kinds": "select"}"#;
    const HOSTS: &str = r#"{"hosts": ["cdn.example.com"]}"#;
    const READ_ONLY: &str = r#"{"read_only": true}"#;
    // (role, scopes, action, None when allowed, else the refusal's kind)
    let cases: &[(Role, &str, Action, Option<ErrorKind>)] = &[
        (Role::Admin, UNSCOPED, PurgeWide, None),
        (Role::Admin, UNSCOPED, ManagePeople, None),
        (Role::Editor, UNSCOPED, PurgeWide, Some(ErrorKind::Forbidden)),
        // The role is judged first: an editor's select token is refused for the role.
        (Role::Editor, SELECT, PurgeWide, Some(ErrorKind::Forbidden)),
        (Role::Admin, SELECT, Purge, None),
        (Role::Admin, SELECT, PurgeWide, Some(ErrorKind::OutOfScope)),
        (Role::Admin, SELECT, Verify, None),
        (Role::Admin, SELECT, ManagePeople, Some(ErrorKind::OutOfScope)),
        (Role::Admin, SELECT, CheckInstances, Some(ErrorKind::OutOfScope)),
        (Role::Admin, HOSTS, Purge, None),
        (Role::Admin, HOSTS, PurgeWide, None),
        (Role::Admin, HOSTS, ManagePeople, Some(ErrorKind::OutOfScope)),
        (Role::Editor, READ_ONLY, Purge, Some(ErrorKind::OutOfScope)),
        (Role::Admin, READ_ONLY, PurgeWide, Some(ErrorKind::OutOfScope)),
        (Role::Editor, READ_ONLY, Verify, None),
        (Role::Editor, READ_ONLY, Read, None),
        (Role::Admin, READ_ONLY, ManagePeople, Some(ErrorKind::OutOfScope)),
    ];
    for (role, json, action, want) in cases {
        let got = grant(*role, json).require(*action).map_err(|e| e.kind);
        assert_eq!(got.err(), *want, "{role:?} {json} {action:?}");
    }
    let e = grant(Role::Admin, READ_ONLY).require(Purge).unwrap_err();
    assert_eq!(e.status(), 403);
    assert!(e.detail.contains("read-only"), "{}", e.detail);
    assert_eq!(e.problem().type_, "urn:edgepurge:problem:out-of-scope");
}

#[test]
fn a_select_token_purges_urls_and_keys_but_no_prefix_or_host() {
    let select = grant(Role::Admin, r#"{"kinds": "select"}"#);
    assert_eq!(purged(&select, r#"{"urls": ["https://www.example.com/a"]}"#).unwrap(), ["https://www.example.com/a"]);
    assert_eq!(purged(&select, r#"{"keys": ["k"]}"#).unwrap(), ["key:k@www.example.com", "key:k@cdn.example.com"]);
    for wide in [r#"{"prefixes": ["https://www.example.com/img/"]}"#, r#"{"hosts": ["www.example.com"]}"#] {
        let (kind, detail) = purged(&select, wide).unwrap_err();
        assert_eq!(kind, ErrorKind::OutOfScope, "{wide}");
        assert!(detail.contains("URLs and keys only"), "{detail}");
    }
    // A URL beside a prefix does not get through either: the whole request is refused.
    let mixed = r#"{"urls": ["https://www.example.com/a"], "prefixes": ["https://www.example.com/img/"]}"#;
    assert_eq!(purged(&select, mixed).unwrap_err().0, ErrorKind::OutOfScope);
}

#[test]
fn a_host_limited_token_reaches_only_its_hosts_and_keys_only_their_groups() {
    let cdn_only = grant(Role::Admin, r#"{"hosts": ["cdn.example.com"]}"#);
    assert_eq!(purged(&cdn_only, r#"{"urls": ["https://cdn.example.com/a"]}"#).unwrap(), ["https://cdn.example.com/a"]);
    assert_eq!(purged(&cdn_only, r#"{"hosts": ["cdn.example.com"]}"#).unwrap(), ["host:cdn.example.com"]);
    for other in [
        r#"{"urls": ["https://cdn.example.com/a", "https://www.example.com/a"]}"#,
        r#"{"prefixes": ["https://www.example.com/img/"]}"#,
        r#"{"hosts": ["www.example.com"]}"#,
    ] {
        let (kind, detail) = purged(&cdn_only, other).unwrap_err();
        assert_eq!(kind, ErrorKind::OutOfScope, "{other}");
        assert!(detail.contains("www.example.com is not one of them"), "{detail}");
    }
    // A key goes to the cdn group only; unscoped, it goes to both.
    assert_eq!(purged(&cdn_only, r#"{"keys": ["k"]}"#).unwrap(), ["key:k@cdn.example.com"]);
    let skipped = skipped_groups(&config(&[]), &cdn_only, &req(r#"{"keys": ["k"]}"#));
    assert!(skipped.is_empty());
}

#[test]
fn a_host_shares_its_group_and_a_key_that_reaches_no_group_of_the_token_is_refused() {
    // shop and www share the `*` group, addressed as www (its first host): a shop token's key
    // reaches those instances and no others, addressed as shop (its Host, its label, and the
    // upstream groups beside shop, not those beside www).
    let c = config(&[("ALLOWED_HOSTS", "www.example.com, cdn.example.com, shop.example.com")]);
    let shop = grant(Role::Editor, r#"{"hosts": ["shop.example.com"]}"#);
    let keys = req(r#"{"keys": ["k"]}"#);
    let labels: Vec<String> = purges_for(&c, &shop, &keys).unwrap().iter().map(|p| p.label()).collect();
    assert_eq!(labels, ["key:k@shop.example.com"]);
    let unscoped = purges_for(&c, &Grant::unscoped(Role::Editor), &keys).unwrap();
    assert_eq!(
        unscoped.iter().map(|p| p.label()).collect::<Vec<_>>(),
        ["key:k@www.example.com", "key:k@cdn.example.com"]
    );
    // A token whose hosts' groups cannot purge keys: the key is refused, nothing sent.
    let plain = config(&[
        ("ALLOWED_HOSTS", "www.example.com, pipely.example.com"),
        ("DISCOVERY", "pipely.example.com=static:10.0.5.1:80:contract=plain; *=dns:instances.example.net:80"),
        ("ALLOW_PRIVATE_INSTANCES", "true"),
    ]);
    let pipely = grant(Role::Editor, r#"{"hosts": ["pipely.example.com"]}"#);
    let e = purges_for(&plain, &pipely, &keys).unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutOfScope);
    assert!(e.detail.contains("key k") && e.detail.contains("pipely.example.com"), "{}", e.detail);
    // Unscoped, the same key goes to the www group.
    assert_eq!(purges_for(&plain, &Grant::unscoped(Role::Editor), &keys).unwrap().len(), 1);
}

#[test]
fn a_host_limited_token_confirms_only_its_hosts() {
    let c = config(&[]);
    let cdn_only = grant(Role::Editor, r#"{"hosts": ["cdn.example.com"]}"#);
    let other = req(r#"{"urls": ["https://cdn.example.com/a"], "confirm_urls": ["https://www.example.com/"]}"#);
    assert_eq!(confirm_for(&c, &cdn_only, &other).unwrap_err().kind, ErrorKind::OutOfScope);
    let own = req(r#"{"urls": ["https://cdn.example.com/a"], "confirm_urls": ["https://cdn.example.com/"]}"#);
    assert_eq!(confirm_for(&c, &cdn_only, &own).unwrap().named.len(), 1);
    assert!(cdn_only.host("cdn.example.com").is_ok());
    assert_eq!(cdn_only.host("www.example.com").unwrap_err().status(), 403);
}

#[test]
fn a_new_tokens_scopes_are_normalised_and_checked_against_the_allowlist() {
    let c = config(&[]);
    let asked = scopes(r#"{"kinds": "select", "hosts": ["CDN.example.com", "cdn.example.com.", "cdn.example.com"]}"#);
    let got = issued_scopes(&c, asked).unwrap();
    assert_eq!(got.hosts, ["cdn.example.com"]);
    assert_eq!(got.kinds, PurgeKinds::Select);
    for (bad, why) in [
        (r#"{"hosts": ["shop.example.com"]}"#, "scopes.hosts[0]: shop.example.com is not in ALLOWED_HOSTS"),
        (r#"{"hosts": ["www.example.com", "not a host"]}"#, "scopes.hosts[1]: not a host name"),
    ] {
        let e = issued_scopes(&c, scopes(bad)).unwrap_err();
        assert_eq!((e.status(), e.detail.as_str()), (400, why));
    }
    let many = TokenScopes { hosts: vec!["www.example.com".into(); MAX_SCOPE_HOSTS + 1], ..Default::default() };
    assert_eq!(issued_scopes(&c, many).unwrap_err().status(), 400);
    // Unknown fields and kinds are refused, never read as unscoped.
    assert!(serde_json::from_str::<TokenScopes>(r#"{"kind": "select"}"#).is_err());
    assert!(serde_json::from_str::<TokenScopes>(r#"{"kinds": "purge_select"}"#).is_err());
    assert!(scopes("{}").is_unscoped());
}

#[test]
fn scopes_read_as_words() {
    let cases = [
        ("{}", "every kind; every host"),
        (r#"{"kinds": "select"}"#, "URLs and keys only; every host"),
        (r#"{"hosts": ["a.example", "b.example"]}"#, "every kind; a.example, b.example"),
        (r#"{"read_only": true, "kinds": "select"}"#, "read-only"),
        (r#"{"read_only": true, "hosts": ["a.example"]}"#, "read-only; a.example"),
    ];
    for (json, words) in cases {
        assert_eq!(describe(&scopes(json)), words, "{json}");
    }
}
