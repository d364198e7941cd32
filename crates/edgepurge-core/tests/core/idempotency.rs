//! `Idempotency-Key` on `POST /api/purge` (issue 20): which keys are taken, when a request is
//! the same purge again, and what it is answered with.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::redelivery::row;
use edgepurge_core::api::{HistoryEntry, HistoryKind, HistoryStatus, Outcome, PurgeRequest, PurgeResult};
use edgepurge_core::history::MAX_RESULTS;
use edgepurge_core::idempotency::{decide, fingerprint, key, report_of, Decision, Remembered};

#[test]
fn a_key_is_printable_ascii_and_may_come_quoted() {
    assert_eq!(key("8e03978e-40d5-43e8-bc93-6894a57f9324").unwrap(), "8e03978e-40d5-43e8-bc93-6894a57f9324");
    assert_eq!(key(" \"abc\" ").unwrap(), "abc", "the draft standard's sf-string form");
    assert_eq!(key("\"abc\"").unwrap(), key("abc").unwrap(), "both spellings are one key");
    assert_eq!(key("\"\"").unwrap(), "\"\"", "nothing inside the quotes: the value itself");
    assert_eq!(key(&"k".repeat(257)).unwrap().len(), 257);
    for bad in ["", " ", "two words", "tab\there", "ключ", &"k".repeat(258)] {
        let e = key(bad).unwrap_err();
        assert_eq!(e.status(), 400, "{bad:?}");
        assert!(e.detail.starts_with("Idempotency-Key:"), "{}", e.detail);
    }
}

#[test]
fn the_same_request_has_the_same_fingerprint_whatever_its_spelling() {
    let a: PurgeRequest = serde_json::from_str(r#"{"urls": ["https://a.example/1"], "confirm": true}"#).unwrap();
    let b: PurgeRequest = serde_json::from_str(r#"{"confirm":true,"urls":["https://a.example/1"],"keys":[]}"#).unwrap();
    let c: PurgeRequest = serde_json::from_str(r#"{"urls": ["https://a.example/2"], "confirm": true}"#).unwrap();
    let d: PurgeRequest = serde_json::from_str(r#"{"urls": ["https://a.example/1"]}"#).unwrap();
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert_ne!(fingerprint(&a), fingerprint(&c));
    assert_ne!(fingerprint(&a), fingerprint(&d));
    assert_eq!(fingerprint(&a).len(), 64);
}

#[test]
fn a_key_within_its_window_is_the_same_purge_or_a_422() {
    let window = 86_400_000;
    let at = 1_000_000;
    let remembered = Remembered { fingerprint: "f1".into(), entry: 42, at };
    assert_eq!(decide(None, "f1", at, window).unwrap(), Decision::Fresh);
    assert_eq!(decide(Some(&remembered), "f1", at + 5, window).unwrap(), Decision::Again(42));
    assert_eq!(decide(Some(&remembered), "f1", at + i64::from(window), window).unwrap(), Decision::Again(42));
    let e = decide(Some(&remembered), "f2", at + 5, window).unwrap_err();
    assert_eq!((e.status(), e.problem().type_.as_str()), (422, "urn:edgepurge:problem:idempotency-key-reused"));
    assert!(e.detail.contains("entry 42"), "{}", e.detail);
    // Past the window the key is free again, for any request.
    assert_eq!(decide(Some(&remembered), "f2", at + i64::from(window) + 1, window).unwrap(), Decision::Fresh);
    assert_eq!(decide(Some(&remembered), "f1", at + i64::from(window) + 1, window).unwrap(), Decision::Fresh);
}

fn entry(status: HistoryStatus, rows: usize) -> HistoryEntry {
    let numbered = |i: usize| PurgeResult {
        url: format!("https://a.example/{i}"),
        instance: format!("10.0.0.{}:80", i % 3 + 1),
        http_status: Some(200),
        ..row(if i == 0 { Outcome::Failed } else { Outcome::Purged }, false, None)
    };
    HistoryEntry {
        id: 7,
        at: 1,
        actor: "editor".into(),
        token: Some("ci".into()),
        urls: vec!["https://a.example/0".into()],
        item_count: Some(1),
        status,
        http_status: 207,
        detail: None,
        results: (0..rows).map(numbered).collect(),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        kind: HistoryKind::Purge,
        recovered: false,
    }
}

#[test]
fn the_same_purge_again_is_answered_with_the_first_ones_report() {
    let r = report_of(&entry(HistoryStatus::Partial, 3)).unwrap();
    assert_eq!((r.status.http_status(), r.summary.total, r.summary.purged, r.summary.failed), (207, 3, 2, 1));
    assert_eq!((r.plan.instances, r.results.len()), (3, 3));
    assert_eq!(r.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert!(r.audit_error.is_none());
    // The history keeps at most MAX_RESULTS rows: the answer says so rather than hide the rest.
    let r = report_of(&entry(HistoryStatus::Partial, MAX_RESULTS)).unwrap();
    assert!(r.audit_error.unwrap().contains("at most 1000 rows"));
    // Still running: a 409 to ask again, nothing sent.
    let e = report_of(&entry(HistoryStatus::Running, 0)).unwrap_err();
    assert_eq!((e.status(), e.retry_after_secs), (409, Some(1)));
    assert_eq!(report_of(&entry(HistoryStatus::Purged, 2)).unwrap().status.http_status(), 200);
}
