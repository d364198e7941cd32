//! Rate limits and the refusal budget: buckets, which refusal is answered, what is written.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::config;
use edgepurge_core::error::{ApiError, ErrorKind};
use edgepurge_core::limits::{self, refusal, Bucket, OverLimit, RefusalBudget};

/// 2026-12-05 10:00:50 UTC: ten seconds before the minute turns.
const NOW: i64 = 1_796_464_850_000;

#[test]
fn every_bucket_has_its_own_key_and_names_its_setting() {
    let cases = [
        (Bucket::Purges(7), "person:7", "RATE_LIMIT_PER_MINUTE"),
        (Bucket::Reads(7), "read:7", "READ_RATE_LIMIT_PER_MINUTE"),
        (Bucket::SignIns("192.0.2.1"), "signin:192.0.2.1", "SIGN_IN_RATE_LIMIT_PER_MINUTE"),
        (Bucket::AnonymousRefusals("2001:db8:0:1::/64"), "anonymous:2001:db8:0:1::/64", "REFUSAL_BUDGET_PER_MINUTE"),
        (Bucket::Refusals, "refusals", "REFUSAL_BUDGET_PER_MINUTE"),
    ];
    let mut keys = std::collections::BTreeSet::new();
    for (bucket, key, setting) in cases {
        assert_eq!(bucket.key(), key);
        assert!(bucket.what().contains(setting), "{bucket:?}: {}", bucket.what());
        assert!(keys.insert(bucket.key()), "{key} is shared");
    }
}

#[test]
fn each_bucket_is_bounded_by_its_own_setting() {
    let c = config(&[
        ("RATE_LIMIT_PER_MINUTE", "11"),
        ("READ_RATE_LIMIT_PER_MINUTE", "22"),
        ("SIGN_IN_RATE_LIMIT_PER_MINUTE", "33"),
        ("REFUSAL_BUDGET_PER_MINUTE", "40"),
    ]);
    let cases = [
        (Bucket::Purges(1), 11),
        (Bucket::Reads(1), 22),
        (Bucket::SignIns("x"), 33),
        (Bucket::AnonymousRefusals("x"), 10),
        (Bucket::Refusals, 40),
    ];
    for (bucket, limit) in cases {
        assert_eq!(bucket.limit(&c), limit, "{bucket:?}");
    }
}

#[test]
fn a_client_gets_a_quarter_of_the_refusal_budget_and_at_least_one() {
    let cases = [(1, 1, 1), (3, 3, 1), (4, 4, 1), (7, 7, 1), (8, 8, 2), (100, 100, 25), (101, 101, 25)];
    for (per_minute, deployment, per_client) in cases {
        assert_eq!(RefusalBudget::of(per_minute), RefusalBudget { deployment, per_client }, "{per_minute}");
    }
}

#[test]
fn the_deployments_budget_is_spent_at_its_size() {
    let b = RefusalBudget::of(20);
    assert!(!b.spent(0));
    assert!(!b.spent(19));
    assert!(b.spent(20));
    assert!(b.spent(21));
}

#[test]
fn a_429_wins_over_any_other_refusal_and_the_first_one_over_is_written() {
    let forbidden = || ApiError::new(ErrorKind::Forbidden, "not for editors");
    // (count this minute, limit 3) -> (answer, written)
    let cases = [
        (1, ErrorKind::Forbidden, true),
        (3, ErrorKind::Forbidden, true),
        (4, ErrorKind::TooManyRequests, true),
        (5, ErrorKind::TooManyRequests, false),
        (500, ErrorKind::TooManyRequests, false),
    ];
    for (count, kind, record) in cases {
        let r = refusal(count, 3, NOW, "purge requests (RATE_LIMIT_PER_MINUTE)", forbidden());
        assert_eq!((r.error.kind, r.record), (kind, record), "count {count}");
        if kind == ErrorKind::TooManyRequests {
            assert_eq!(r.error.retry_after_secs, Some(10));
            assert!(r.error.detail.contains("more than 3 purge requests"), "{}", r.error.detail);
        } else {
            assert_eq!(r.error.detail, "not for editors", "the refusal itself is kept under the limit");
        }
    }
}

#[test]
fn retry_after_counts_to_the_next_minute_and_stays_between_1_and_60() {
    let cases = [(NOW, 10), (NOW - 50_000, 60), (NOW + 9_999, 1), (NOW + 9_000, 1), (NOW + 8_999, 2)];
    for (now, secs) in cases {
        assert_eq!(limits::retry_after_secs(now), secs, "{now}");
    }
}

#[test]
fn an_isolate_forgets_who_was_over_when_the_minute_turns() {
    let mut over = OverLimit::default();
    over.saw("person:1", 3, 3, NOW);
    assert!(!over.known("person:1", NOW), "at the limit is not over it");
    over.saw("person:1", 4, 3, NOW);
    assert!(over.known("person:1", NOW));
    assert!(!over.known("person:2", NOW));
    assert!(!over.known("person:1", NOW + 10_000), "the next minute");
    over.saw("person:2", 9, 3, NOW + 10_000);
    assert!(!over.known("person:1", NOW + 10_000));
}

#[test]
fn clients_are_addresses_and_ipv6_slash_64s() {
    let cases = [
        (Some("192.0.2.7"), "192.0.2.7"),
        (Some(" 192.0.2.7 "), "192.0.2.7"),
        (Some("::ffff:192.0.2.7"), "192.0.2.7"),
        (Some("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64"),
        (Some("2001:db8:1:2::9"), "2001:db8:1:2::/64"),
        (Some("not an address"), "unknown"),
        (None, "unknown"),
    ];
    for (addr, bucket) in cases {
        assert_eq!(limits::client_bucket(addr), bucket, "{addr:?}");
    }
}
