//! What background redelivery does with each due delivery, before and after its attempt.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{addr, answer_with, completed, token, two_host_plan};
use edgepurge_core::api::{Delivery, DeliveryStatus, HistoryStatus, Outcome, PurgeResult, PurgeStatus};
use edgepurge_core::dialect::Dialect;
use edgepurge_core::discovery::Instance;
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::retry::{DeliveryUpdate, RedeliveryPolicy};
use edgepurge_core::target::Target;

const POLICY: RedeliveryPolicy = RedeliveryPolicy { base_ms: 30_000, cap_ms: 3_600_000, max_age_ms: 86_400_000 };
const NOW: i64 = 1_000_000_000;

fn due(url: &str, instance: &str, attempts: u32) -> Delivery {
    Delivery {
        id: 7,
        purge_id: 3,
        url: url.into(),
        instance: instance.into(),
        status: DeliveryStatus::Pending,
        attempts,
        first_at: NOW - 60_000,
        next_at: NOW - 1,
        updated_at: NOW - 60_000,
        last_error: Some("connection failed: refused".into()),
    }
}

/// A report row of `outcome` (one attempt, 3 ms), for the tests that read rows back.
pub fn row(outcome: Outcome, retryable: bool, error: Option<&str>) -> PurgeResult {
    PurgeResult {
        url: "https://www.example.com/a".into(),
        instance: "10.0.0.1:80".into(),
        outcome,
        http_status: None,
        error: error.map(str::to_owned),
        retryable,
        elapsed_ms: Some(3),
        started_ms: None,
        attempts: 1,
        pending: false,
        confirm: None,
        done_hard: false,
        retry_after_secs: None,
        upstream_id: None,
    }
}

#[test]
fn a_label_that_no_longer_reads_is_abandoned_untouched() {
    let d = due("key:two words@www.example.com", "10.0.0.1:80", 2);
    let u = POLICY.purge_of(&d).unwrap_err();
    assert_eq!((u.status, u.attempts, u.next_at), (DeliveryStatus::Abandoned, 2, d.next_at));
    assert!(u.last_error.unwrap().starts_with("URL no longer valid: "));
    assert_eq!(
        POLICY.purge_of(&due("soft:https://www.example.com/a", "x", 0)).unwrap().label(),
        "soft:https://www.example.com/a"
    );
}

#[test]
fn triage_sends_abandons_or_postpones_by_age_and_discovery() {
    let here = [addr("10.0.0.1:80"), addr("10.0.0.2:80")];
    let d = due("https://www.example.com/a", "10.0.0.1:80", 1);
    assert_eq!(POLICY.triage(&d, Ok(&here), NOW, 0), Ok(addr("10.0.0.1:80")));

    let gone = POLICY.triage(&due("https://www.example.com/a", "10.0.0.9:80", 1), Ok(&here), NOW, 0).unwrap_err();
    assert_eq!((gone.status, gone.attempts), (DeliveryStatus::Abandoned, 1));
    assert_eq!(gone.last_error.as_deref(), Some("instance is no longer in discovery"));

    let mut old = d.clone();
    old.first_at = NOW - 86_400_001;
    let u = POLICY.triage(&old, Ok(&here), NOW, 0).unwrap_err();
    assert_eq!(u.status, DeliveryStatus::Abandoned);
    assert!(u.last_error.unwrap().contains("REDELIVERY_MAX_AGE_MS"));

    let later = POLICY.triage(&d, Err("no answer from the DoH server"), NOW, u32::MAX).unwrap_err();
    assert_eq!((later.status, later.attempts), (DeliveryStatus::Pending, 1), "postponing is not an attempt");
    assert!(later.next_at > NOW && later.next_at <= NOW + 60_000, "{}", later.next_at - NOW);
    assert_eq!(later.last_error.as_deref(), Some("discovery: no answer from the DoH server"));

    // A key owed to an instance whose group has since been declared plain: never sent, abandoned.
    let plain = [Instance { dialect: Dialect::plain(None), ..addr("10.0.0.1:80") }];
    let key = due("key:episode-1@www.example.com", "10.0.0.1:80", 1);
    let u = POLICY.triage(&key, Ok(&plain), NOW, 0).unwrap_err();
    assert_eq!(u.status, DeliveryStatus::Abandoned);
    assert!(u.last_error.unwrap().contains("cannot do this purge"));
    assert_eq!(POLICY.triage(&d, Ok(&plain), NOW, 0).map(|i| i.key()), Ok("10.0.0.1:80".into()), "a URL still goes");

    let bad = POLICY.triage(&due("https://www.example.com/a", "nowhere", 0), Ok(&[]), NOW, 0).unwrap_err();
    assert_eq!(bad.status, DeliveryStatus::Abandoned);
    let bad = due("https://www.example.com/a", "not-an-address", 0);
    let u = POLICY.triage(&bad, Err("x"), NOW, 0).unwrap_err();
    assert_eq!(u.status, DeliveryStatus::Pending, "discovery down: unknown whether it still exists");
}

#[test]
fn an_attempts_result_decides_the_delivery() {
    let d = due("https://www.example.com/a", "10.0.0.1:80", 2);
    let cases: Vec<(PurgeResult, DeliveryStatus, Option<&str>)> = vec![
        (row(Outcome::Purged, false, None), DeliveryStatus::Delivered, None),
        (row(Outcome::NotCached, false, None), DeliveryStatus::Delivered, None),
        (
            row(Outcome::Rejected, false, Some("instance refused the purge token (401)")),
            DeliveryStatus::Abandoned,
            Some("instance refused: instance refused the purge token (401)"),
        ),
        (
            row(Outcome::Failed, false, Some("malformed HTTP answer: x")),
            DeliveryStatus::Abandoned,
            Some("instance refused: malformed HTTP answer: x"),
        ),
        (
            row(Outcome::Failed, true, Some("no answer within 5000 ms")),
            DeliveryStatus::Pending,
            Some("no answer within 5000 ms"),
        ),
    ];
    for (r, status, error) in cases {
        let u: DeliveryUpdate = POLICY.after_attempt(&d, &r, NOW, 12345);
        assert_eq!((u.status, u.attempts, u.last_error.as_deref()), (status, 3, error), "{:?}", r.outcome);
        if status == DeliveryStatus::Pending {
            assert_eq!(u.next_at, POLICY.next_at(NOW, 3, 12345));
            assert!(u.next_at >= NOW + 3_000);
        } else {
            assert_eq!(u.next_at, d.next_at);
        }
    }
}

#[test]
fn statuses_serialise_as_the_stored_names() {
    for (s, name) in [
        (HistoryStatus::Purged, "purged"),
        (HistoryStatus::Partial, "partial"),
        (HistoryStatus::Failed, "failed"),
        (HistoryStatus::Denied, "denied"),
    ] {
        assert_eq!((s.as_str(), HistoryStatus::parse(name)), (name, Some(s)));
        assert_eq!(serde_json::to_value(s).unwrap(), name);
    }
    assert_eq!(HistoryStatus::parse("done"), None);
    assert_eq!(HistoryStatus::from(PurgeStatus::Partial), HistoryStatus::Partial);
    assert_eq!(
        (HistoryStatus::refused(429), HistoryStatus::refused(503)),
        (HistoryStatus::Denied, HistoryStatus::Failed)
    );
    // Every stored name reads back (review finding: `unconfirmed` did not, so the instances
    // page failed once an instance answered outside the contract).
    for name in ["purged", "not_cached", "unconfirmed", "rejected", "failed"] {
        let o = Outcome::parse(name).unwrap_or_else(|| panic!("{name} does not read back"));
        assert_eq!((o.as_str(), serde_json::to_value(o).unwrap()), (name, serde_json::json!(name)));
    }
    assert_eq!(Outcome::ALL.len(), 5);
    assert_eq!(Outcome::NotCached.label(), "not cached");
    assert_eq!(Outcome::parse("notcached"), None);
}

#[test]
fn a_delivery_to_a_held_machine_waits_until_it_is_started() {
    // A suspended Fly Machine may come back with its old copy: no attempt until it is started.
    let d = due("https://changelog.com/a", "ams 5683945a107d18", 2);
    let waiting = POLICY.held(&d, "suspended", NOW, 0);
    assert_eq!((waiting.status, waiting.attempts), (DeliveryStatus::Pending, 2), "not an attempt");
    assert!(waiting.next_at > NOW);
    assert!(waiting.last_error.unwrap().contains("suspended: waiting until it is started"));
    // Past REDELIVERY_MAX_AGE_MS it is given up like any other.
    let given_up = POLICY.held(&d, "suspended", d.first_at + i64::try_from(POLICY.max_age_ms).unwrap() + 1, 0);
    assert_eq!(given_up.status, DeliveryStatus::Abandoned);
}

#[test]
fn a_run_sends_to_as_many_instances_as_its_budget_and_any_number_of_deliveries_each() {
    use edgepurge_core::retry::RunInstances;
    let mut run = RunInstances::default();
    // (instance, budget) -> admitted
    let cases = [("a", 2, true), ("a", 2, true), ("b", 2, true), ("c", 2, false), ("a", 2, true), ("c", 3, true)];
    for (instance, budget, admitted) in cases {
        assert_eq!(run.admit(instance, budget), admitted, "{instance} within {budget}");
    }
    assert_eq!(run.len(), 3);
    assert!(!RunInstances::default().admit("a", 0), "no budget left after discovery: nothing is sent");
    assert!(RunInstances::default().is_empty());
}

#[test]
fn a_sent_delivery_is_judged_by_its_own_row_of_the_runs_report() {
    let d = due("https://www.example.com/a", "10.0.0.1:80", 1);
    let mut other = row(Outcome::Failed, true, Some("timed out"));
    other.instance = "10.0.0.2:80".into();
    let rows = [other, row(Outcome::Purged, false, None)];
    let u = POLICY.after_run(&d, &rows, NOW, 0);
    assert_eq!((u.status, u.attempts), (DeliveryStatus::Delivered, 2));
}

#[test]
fn a_sent_delivery_with_no_row_is_pending_again_and_says_so() {
    let d = due("https://www.example.com/a", "10.0.0.1:80", 1);
    let mut elsewhere = row(Outcome::Purged, false, None);
    elsewhere.url = "https://www.example.com/b".into();
    let u = POLICY.after_run(&d, &[elsewhere], NOW, 0);
    assert_eq!((u.status, u.attempts), (DeliveryStatus::Pending, 2));
    assert!(u.next_at > NOW);
    assert!(u.last_error.unwrap().contains("no row"), "never skipped silently");
}

#[test]
fn redelivery_stops_when_the_instance_is_gone_or_the_delivery_too_old() {
    use edgepurge_core::retry::Decision;
    let p = RedeliveryPolicy { base_ms: 1000, cap_ms: 60_000, max_age_ms: 3_600_000 };
    let here = [addr("10.0.0.1:80"), addr("10.0.0.2:80")];
    assert_eq!(p.decide(0, 1000, "10.0.0.1:80", Ok(&here)), Decision::Attempt);
    assert!(
        matches!(p.decide(0, 1000, "10.0.0.9:80", Ok(&here)), Decision::Abandon(r) if r.contains("no longer in discovery"))
    );
    assert!(
        matches!(p.decide(0, 3_600_001, "10.0.0.1:80", Ok(&here)), Decision::Abandon(r) if r.contains("REDELIVERY_MAX_AGE_MS"))
    );
    assert!(
        matches!(p.decide(0, 1000, "10.0.0.1:80", Err("SERVFAIL")), Decision::Postpone(r) if r.contains("SERVFAIL"))
    );
    // Too old wins even when discovery is down: it is abandoned, with its reason, not kept forever.
    assert!(matches!(p.decide(0, 3_600_001, "10.0.0.1:80", Err("down")), Decision::Abandon(_)));
    let next = p.next_at(5000, 3, 0);
    assert!((5100..=9000).contains(&next), "{next}");
    assert!(p.next_at(5000, 3, u32::MAX) <= 5000 + 4000);
}

#[test]
fn retryable_failures_are_queued_and_marked_pending() {
    let plan = two_host_plan();
    let mut b = ReportBuilder::new(&plan);
    let ok = Ok(answer_with(200, &[]));
    for r in 0..3 {
        b.record(&plan, 0, &completed(r, ok.clone(), 1, 1));
    }
    b.record(&plan, 1, &completed(0, Err(DeliveryError::Connect("refused".into())), 1, 3));
    b.record(&plan, 1, &completed(1, Ok(answer_with(401, &[])), 1, 1));
    let queued = b.queue_retryable();
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].instance.as_str(), queued[0].attempts, queued[0].pending), ("10.0.0.2:80", 3, true));
    let report = b.finish();
    let pending: Vec<bool> = report.results.iter().map(|r| r.pending).collect();
    assert_eq!(pending, [false, true, false, false, false]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["results"][1]["pending"], true);
    assert!(json["results"][0].get("pending").is_none());
}

#[test]
fn redelivery_plans_exactly_the_failed_pairs() {
    let a = Target::parse("https://a.example/1").unwrap();
    let b = Target::parse("https://a.example/2").unwrap();
    let [a, b] = [a, b].map(|target| Purge::Url { target, soft: false });
    let pairs = vec![(a.clone(), addr("10.0.0.2:80")), (b, addr("10.0.0.2:80")), (a, addr("10.0.0.1:80"))];
    let plan = Plan::for_pairs(pairs, &token(), 6);
    let shape: Vec<(String, Vec<usize>)> =
        plan.jobs.iter().map(|j| (j.instance.key(), j.requests.iter().map(|r| r.target).collect())).collect();
    assert_eq!(shape, [("10.0.0.1:80".to_owned(), vec![0]), ("10.0.0.2:80".to_owned(), vec![0, 1])]);
    assert_eq!(plan.purges.len(), 2);
}
