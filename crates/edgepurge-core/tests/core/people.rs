//! People, token labels and the guards on what an admin may do.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::api::{Person, Role};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::people::{self, may_change, Change, BOOTSTRAP_ADMIN};

fn person(id: i64, name: &str) -> Person {
    Person { id, name: name.into(), email: None, role: Role::Admin, created_at: 0 }
}

fn kind<T>(r: Result<T, edgepurge_core::ApiError>) -> Option<ErrorKind> {
    r.err().map(|e| e.kind)
}

#[test]
fn names_are_trimmed_and_one_to_a_hundred_printable_characters() {
    let long = "x".repeat(100);
    let too_long = "x".repeat(101);
    let cases: &[(&str, Option<&str>)] = &[
        ("Alice", Some("Alice")),
        ("  Alice Editor  ", Some("Alice Editor")),
        ("Zoë", Some("Zoë")),
        (&long, Some(&long)),
        ("", None),
        ("   ", None),
        (&too_long, None),
        ("Al\nice", None),
        ("Al\u{7f}ice", None),
    ];
    for (raw, want) in cases {
        let got = people::name(raw);
        assert_eq!(got.as_ref().ok().copied(), *want, "{raw:?}");
        if want.is_none() {
            let e = got.unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadRequest);
            assert!(e.detail.starts_with("name must be"), "{}", e.detail);
        }
    }
}

#[test]
fn token_labels_follow_the_same_rule_and_say_label() {
    assert_eq!(people::label(" ci deploy ").unwrap(), "ci deploy");
    let e = people::label("\t").unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert!(e.detail.starts_with("label must be"), "{}", e.detail);
    assert!(people::label(&"é".repeat(51)).is_err(), "the limit is in bytes: 102 here");
}

#[test]
fn an_email_is_optional_but_must_look_like_one() {
    let long = format!("{}@example.com", "a".repeat(243));
    // (raw, stored) where `Err(())` is refused
    type Case<'a> = (Option<&'a str>, Result<Option<&'a str>, ()>);
    let cases: &[Case<'_>] = &[
        (None, Ok(None)),
        (Some(""), Ok(None)),
        (Some("   "), Ok(None)),
        (Some(" edna@example.com "), Ok(Some("edna@example.com"))),
        (Some("edna"), Err(())),
        (Some(&long), Err(())),
        (Some("ed\rna@example.com"), Err(())),
    ];
    for (raw, want) in cases {
        assert_eq!(people::email(*raw).map_err(|_| ()), *want, "{raw:?}");
    }
}

#[test]
fn an_id_that_is_not_a_number_is_no_such_person() {
    assert_eq!(people::id("42").unwrap(), 42);
    for raw in ["", "abc", "4 2", "9999999999999999999999"] {
        assert_eq!(kind(people::id(raw)), Some(ErrorKind::NotFound), "{raw:?}");
    }
}

#[test]
fn nobody_changes_their_own_role_or_removes_themselves() {
    let me = person(7, "Alice");
    assert_eq!(kind(may_change(7, 7, Some(&me), Change::Role)), Some(ErrorKind::Conflict));
    assert_eq!(kind(may_change(7, 7, Some(&me), Change::Remove)), Some(ErrorKind::Conflict));
    // Issuing oneself a token is allowed: it is what an admin does first.
    assert_eq!(kind(may_change(7, 7, Some(&me), Change::IssueToken)), None);
    // The self rule holds even before the person is looked up.
    assert_eq!(
        may_change(7, 7, None, Change::Remove).unwrap_err().detail,
        "you cannot remove yourself",
        "the caller is told what they did, not that they do not exist"
    );
}

#[test]
fn the_bootstrap_admin_keeps_its_role_stays_and_has_no_personal_tokens() {
    let boot = person(1, BOOTSTRAP_ADMIN);
    for change in [Change::Role, Change::Remove, Change::IssueToken] {
        let e = may_change(2, 1, Some(&boot), change).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict, "{change:?}");
        assert!(e.detail.contains("API_TOKENS"), "{change:?}: {} says what to do instead", e.detail);
    }
}

#[test]
fn anyone_else_may_be_changed_and_a_missing_person_is_a_404() {
    let bob = person(3, "Bob");
    for change in [Change::Role, Change::Remove, Change::IssueToken] {
        assert!(may_change(2, 3, Some(&bob), change).is_ok(), "{change:?}");
        let e = may_change(2, 3, None, change).unwrap_err();
        assert_eq!((e.kind, e.detail.as_str()), (ErrorKind::NotFound, "no person 3"), "{change:?}");
    }
}

#[test]
fn a_person_named_like_the_bootstrap_admin_only_by_case_is_not_it() {
    assert!(people::is_bootstrap_admin(&person(1, "admin")));
    assert!(!people::is_bootstrap_admin(&person(1, "Admin")));
    assert!(may_change(2, 1, Some(&person(1, "Admin")), Change::Remove).is_ok());
}

#[test]
fn only_the_bootstrap_admins_personal_tokens_are_refused() {
    let e = people::personal_token_signs_in(&person(1, BOOTSTRAP_ADMIN)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(people::personal_token_signs_in(&person(2, "Bob")).is_ok());
}
