//! Purge requests validated into purges, every refusal, history labels, and the query strings.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::config;
use edgepurge_core::api::{DeliveriesQuery, DeliveryStatus, HistoryQuery, PurgeRequest, Role, Via};
use edgepurge_core::auth::Action;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::request::{deliveries_filter, history_filter, labels, purges_for, query, HistoryFilter};
use edgepurge_core::scopes::Grant;

fn req(json: &str) -> PurgeRequest {
    serde_json::from_str(json).unwrap()
}

fn labels_of(role: Role, json: &str) -> Result<Vec<String>, (ErrorKind, String)> {
    purges_for(&config(&[]), &Grant::unscoped(role), &req(json))
        .map(|ps| ps.iter().map(|p| p.label()).collect())
        .map_err(|e| (e.kind, e.detail))
}

#[test]
fn valid_requests_become_purges_of_every_kind() {
    let cases: &[(Role, &str, &[&str])] = &[
        (Role::Editor, r#"{"urls": ["https://WWW.example.com/a#x"]}"#, &["https://www.example.com/a"]),
        (Role::Editor, r#"{"urls": ["https://www.example.com/a"], "soft": true}"#, &["soft:https://www.example.com/a"]),
        // A key goes to every instance group once, addressed as the group's first host.
        (Role::Editor, r#"{"keys": ["show-1"]}"#, &["key:show-1@www.example.com", "key:show-1@cdn.example.com"]),
        (
            Role::Editor,
            r#"{"keys": ["show-1"], "soft": true}"#,
            &["soft-key:show-1@www.example.com", "soft-key:show-1@cdn.example.com"],
        ),
        (Role::Admin, r#"{"prefixes": ["https://cdn.example.com/img/"]}"#, &["prefix:https://cdn.example.com/img/"]),
        (Role::Admin, r#"{"hosts": ["WWW.EXAMPLE.COM"]}"#, &["host:www.example.com"]),
        // Duplicates collapse, first occurrence wins, order kept.
        (
            Role::Admin,
            r#"{"urls": ["https://www.example.com/b", "https://www.example.com/a", "https://WWW.example.com/b"],
                "hosts": ["cdn.example.com", "cdn.example.com"]}"#,
            &["https://www.example.com/b", "https://www.example.com/a", "host:cdn.example.com"],
        ),
    ];
    for (role, json, want) in cases {
        assert_eq!(labels_of(*role, json).unwrap(), *want, "{json}");
    }
}

#[test]
fn every_refusal_has_its_kind_and_names_the_item() {
    let long_key = format!(r#"{{"keys": ["{}"]}}"#, "k".repeat(257));
    let many = format!(r#"{{"urls": [{}]}}"#, vec![r#""https://www.example.com/""#; 101].join(","));
    let cases: Vec<(Role, &str, ErrorKind, &str)> = vec![
        (Role::Admin, r#"{}"#, ErrorKind::BadRequest, "nothing to purge"),
        (Role::Admin, r#"{"urls": []}"#, ErrorKind::BadRequest, "nothing to purge"),
        (Role::Admin, &many, ErrorKind::TooManyUrls, "101 items in one request; at most 100"),
        (
            Role::Admin,
            r#"{"prefixes": ["https://www.example.com/a/"], "soft": true}"#,
            ErrorKind::BadRequest,
            "soft applies to urls and keys",
        ),
        (Role::Admin, r#"{"hosts": ["www.example.com"], "soft": true}"#, ErrorKind::BadRequest, "soft applies"),
        (
            Role::Editor,
            r#"{"prefixes": ["https://www.example.com/a/"]}"#,
            ErrorKind::Forbidden,
            "PurgeWide needs the admin role",
        ),
        (Role::Editor, r#"{"hosts": ["www.example.com"]}"#, ErrorKind::Forbidden, "admin role"),
        (Role::Editor, r#"{"urls": ["ftp://www.example.com/"]}"#, ErrorKind::BadRequest, "urls[0]: scheme"),
        (
            Role::Editor,
            r#"{"urls": ["https://www.example.com/", "https://www.example.com/\r\n"]}"#,
            ErrorKind::BadRequest,
            "urls[1]:",
        ),
        (
            Role::Editor,
            r#"{"urls": ["https://evil.example/"]}"#,
            ErrorKind::HostNotAllowed,
            "\"evil.example\" is not in ALLOWED_HOSTS",
        ),
        (Role::Editor, r#"{"keys": ["two keys"]}"#, ErrorKind::BadRequest, "keys[0]: a key is 1 to 256"),
        (Role::Editor, &long_key, ErrorKind::BadRequest, "keys[0]:"),
        (
            Role::Admin,
            r#"{"prefixes": ["https://www.example.com/a?b"]}"#,
            ErrorKind::BadRequest,
            "prefixes[0]: a prefix is a path",
        ),
        (
            Role::Admin,
            r#"{"prefixes": ["www.example.com/a/"]}"#,
            ErrorKind::BadRequest,
            "prefixes[0]: not an absolute URL",
        ),
        (Role::Admin, r#"{"prefixes": ["https://evil.example/a/"]}"#, ErrorKind::HostNotAllowed, "evil.example"),
        (Role::Admin, r#"{"hosts": ["https://www.example.com/"]}"#, ErrorKind::BadRequest, "hosts[0]: not a host name"),
        (
            Role::Admin,
            r#"{"hosts": ["evil.example"]}"#,
            ErrorKind::HostNotAllowed,
            "\"evil.example\" is not in ALLOWED_HOSTS",
        ),
        // One bad item refuses the whole request, whatever its position.
        (
            Role::Admin,
            r#"{"urls": ["https://www.example.com/"], "keys": ["ok"], "hosts": ["evil.example"]}"#,
            ErrorKind::HostNotAllowed,
            "evil",
        ),
    ];
    for (role, json, kind, detail) in cases {
        let (got, text) = labels_of(role, json).unwrap_err();
        assert_eq!(got, kind, "{json}: {text}");
        assert!(text.contains(detail), "{json}: {text:?} lacks {detail:?}");
    }
}

#[test]
fn refused_items_are_named_by_the_same_labels_as_purged_ones() {
    let c = config(&[]);
    let r = req(r#"{"urls": ["https://WWW.example.com/a", "not a url\n"], "keys": ["k", "bad key"],
                   "prefixes": ["https://www.example.com/p/", "nope"], "hosts": ["cdn.example.com", "x/y"], "soft": true}"#);
    assert_eq!(
        labels(&c, &r),
        [
            "soft:https://www.example.com/a",
            "not a url\\n",
            "soft-key:k@www.example.com",
            "soft-key:k@cdn.example.com",
            "key:bad key",
            "prefix:https://www.example.com/p/",
            "prefix:nope",
            "host:cdn.example.com",
            "host:x/y",
        ]
    );
    // An accepted request's labels are exactly its purges' labels.
    let ok = req(r#"{"urls": ["https://www.example.com/a"], "keys": ["k"]}"#);
    let purged: Vec<String> =
        purges_for(&c, &Grant::unscoped(Role::Editor), &ok).unwrap().iter().map(|p| p.label()).collect();
    assert_eq!(labels(&c, &ok), purged);
}

#[test]
fn roles_permit_what_they_should() {
    for (role, action, ok) in [
        (Role::Editor, Action::Purge, true),
        (Role::Editor, Action::Verify, true),
        (Role::Editor, Action::Read, true),
        (Role::Editor, Action::PurgeWide, false),
        (Role::Editor, Action::ManagePeople, false),
        (Role::Admin, Action::PurgeWide, true),
        (Role::Admin, Action::ManagePeople, true),
    ] {
        assert_eq!(Grant::unscoped(role).require(action).is_ok(), ok, "{role:?} {action:?}");
    }
    assert_eq!(Grant::unscoped(Role::Editor).require(Action::ManagePeople).unwrap_err().status(), 403);
    assert_eq!(Role::parse("admin"), Some(Role::Admin));
    assert_eq!(Role::parse("editor"), Some(Role::Editor));
    for bad in ["", "Admin", "owner", "editor "] {
        assert_eq!(Role::parse(bad), None, "{bad:?}");
    }
    // How a caller came is named in traces as it is serialised in `/api/me`.
    for via in [Via::Session, Via::Token, Via::Access] {
        assert_eq!(serde_json::to_value(via).unwrap(), via.as_str());
    }
}

#[test]
fn history_queries_are_read_and_checked() {
    let f = |q: &str| history_filter(&query::<HistoryQuery>(Some(q)).unwrap());
    assert_eq!(f("").unwrap(), HistoryFilter { url: None, actor: None, before: None, limit: 20 });
    assert_eq!(
        f("url=%2Fepisodes%2F1&actor=%28not+signed+in%29&before=42&limit=100&other=1").unwrap(),
        HistoryFilter {
            url: Some("/episodes/1".into()),
            actor: Some("(not signed in)".into()),
            before: Some(42),
            limit: 100
        }
    );
    // Empty fields (a form's blanks) are ignored.
    assert_eq!(f("url=&actor=+&before=&limit=").unwrap().limit, 20);
    for (q, why) in [
        ("limit=0", "limit must be 1 to 100"),
        ("limit=101", "limit must be 1 to 100"),
        ("limit=x", "limit must be 1 to 100"),
        ("before=yesterday", "before must be an id (a whole number from 1)"),
        ("before=0", "before must be an id (a whole number from 1)"),
        ("before=-3", "before must be an id (a whole number from 1)"),
    ] {
        let e = f(q).unwrap_err();
        assert_eq!((e.status(), e.detail.as_str()), (400, why), "{q}");
    }
}

#[test]
fn delivery_queries_are_read_and_checked() {
    let f = |q: Option<&str>| deliveries_filter(&query::<DeliveriesQuery>(q).unwrap());
    assert_eq!(f(None).unwrap(), (None, 100));
    assert_eq!(f(Some("status=pending&limit=1000")).unwrap(), (Some(DeliveryStatus::Pending), 1000));
    assert_eq!(f(Some("status=abandoned")).unwrap(), (Some(DeliveryStatus::Abandoned), 100));
    for q in ["status=lost", "status=", "limit=0", "limit=1001"] {
        assert_eq!(f(Some(q)).unwrap_err().status(), 400, "{q}");
    }
    for s in DeliveryStatus::ALL {
        assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}
