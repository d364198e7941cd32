//! What a purge's report says when its history entry could not be completed with it.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::redelivery::row;
use edgepurge_core::api::{Outcome, PurgeReport, PurgeStatus, Summary};
use edgepurge_core::report::{not_completed, not_recorded};

fn report() -> PurgeReport {
    let mut failed = row(Outcome::Failed, true, Some("timed out"));
    failed.pending = true;
    let results = vec![row(Outcome::Purged, false, None), failed];
    PurgeReport {
        status: PurgeStatus::Partial,
        summary: Summary::of(&results),
        plan: Default::default(),
        results,
        skipped: Vec::new(),
        skipped_instances: Vec::new(),
        audit_error: None,
        trace_id: None,
    }
}

#[test]
fn a_completion_that_wrote_is_no_failure_and_the_others_say_why() {
    assert_eq!(not_completed(9, Ok(true)), None);
    assert!(not_completed(9, Ok(false)).unwrap().contains("the cron took entry 9 over"));
    assert_eq!(not_completed(9, Err("D1_ERROR: busy")).as_deref(), Some("D1_ERROR: busy"));
}

#[test]
fn a_report_not_recorded_promises_no_redelivery_and_says_what_was_lost() {
    let before = report();
    let after = not_recorded(before.clone(), 9, 1, "D1_ERROR: busy");
    assert!(after.results.iter().all(|r| !r.pending), "nothing was queued");
    let why = after.audit_error.as_deref().unwrap();
    for part in ["history entry 9", "the 1 failed pairs were not queued", "D1_ERROR: busy"] {
        assert!(why.contains(part), "{why}");
    }
    // Everything else the caller was told stands.
    assert_eq!((after.status, after.summary), (before.status, before.summary));
    assert_eq!(after.results.len(), 2);
}
