//! The Instances page's figures: hourly rollups of a purge's results, percentiles read from
//! their histograms, failures and the hourly series.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::api::{Outcome, PurgeResult};
use edgepurge_core::stats::{bucket, hour, instance_stats, rollups_of, Rollup, BUCKETS, BUCKET_BOUNDS_MS, HOUR_MS};

/// Well inside an hour, so "an hour ago" is the previous clock hour.
const NOW: i64 = 1_800_000_000_000 - 1_800_000_000_000 % HOUR_MS + 30 * 60_000;

fn result(url: &str, instance: &str, outcome: Outcome, ms: Option<u64>) -> PurgeResult {
    PurgeResult {
        url: url.into(),
        instance: instance.into(),
        outcome,
        http_status: None,
        error: None,
        retryable: false,
        elapsed_ms: ms,
        started_ms: None,
        attempts: 1,
        pending: false,
        confirm: None,
        done_hard: false,
        retry_after_secs: None,
        upstream_id: None,
    }
}

/// One purge's rollups, recorded `ago` ms before `NOW`.
fn purge(entry: i64, ago: i64, results: &[PurgeResult]) -> Vec<Rollup> {
    rollups_of(results, entry, NOW - ago)
}

#[test]
fn a_purge_becomes_one_rollup_per_instance_whatever_its_size() {
    let results: Vec<PurgeResult> = (0..100)
        .flat_map(|i| {
            (0..15).map(move |n| result(&format!("https://s/{i}"), &format!("10.0.0.{n}:80"), Outcome::Purged, Some(i)))
        })
        .collect();
    let rollups = purge(7, 0, &results);
    assert_eq!(rollups.len(), 15, "rows grow with instances, not with items x instances");
    let first = &rollups[0];
    assert_eq!((first.instance.as_str(), first.hour), ("10.0.0.0:80", hour(NOW)));
    assert_eq!((first.requests, first.failed, first.timed), (100, 0, 100));
    assert_eq!(first.elapsed_sum, (0..100).sum::<u64>());
    assert_eq!(first.max_ms, Some(99));
    assert_eq!(first.histogram.iter().sum::<u64>(), 100);
    // Its last purge is the instance's last result of the purge, in the entry.
    assert_eq!((first.last.entry, first.last.at, first.last.url.as_str()), (7, NOW, "https://s/99"));
    assert_eq!(first.last.outcome, Outcome::Purged);
}

#[test]
fn buckets_cover_every_time_and_the_overflow() {
    assert_eq!(bucket(0), 0);
    assert_eq!(bucket(1), 0);
    assert_eq!(bucket(2), 1);
    assert_eq!(bucket(51), 10, "above 50, up to 70");
    assert_eq!(bucket(30_000), BUCKETS - 2);
    assert_eq!(bucket(30_001), BUCKETS - 1);
    assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    assert!(BUCKET_BOUNDS_MS.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn rollups_add_up_as_the_store_adds_them() {
    let mut a = purge(1, 0, &[result("u", "i", Outcome::Purged, Some(4)), result("v", "i", Outcome::Failed, None)]);
    let b = purge(2, 0, &[result("w", "i", Outcome::Purged, Some(900))]);
    a[0].merge(&b[0]);
    assert_eq!((a[0].requests, a[0].failed, a[0].timed, a[0].elapsed_sum, a[0].max_ms), (3, 1, 2, 904, Some(900)));
    assert_eq!(a[0].histogram[bucket(4)], 1);
    assert_eq!(a[0].histogram[bucket(900)], 1);
}

#[test]
fn each_instance_gets_its_percentiles_failures_and_hourly_p95() {
    let fra = "fra 3d8d9e1f0e9d87";
    let quick: Vec<PurgeResult> =
        (1..=100).map(|ms| result(&format!("https://s/{ms}"), fra, Outcome::Purged, Some(ms))).collect();
    let mut rollups = purge(1, 10 * 60_000, &quick);
    rollups.extend(purge(2, 5 * HOUR_MS, &[result("https://s/slow", fra, Outcome::Failed, Some(5000))]));
    rollups.extend(purge(3, 2 * HOUR_MS, &[result("https://s/x", "127.0.1.1:80", Outcome::NotCached, None)]));
    // Older than the 24 clock hours: not counted.
    rollups.extend(purge(4, 24 * HOUR_MS, &[result("https://s/old", "127.0.1.1:80", Outcome::Failed, Some(9))]));
    let stats = instance_stats(&rollups, NOW);
    assert_eq!(stats.iter().map(|s| s.instance.as_str()).collect::<Vec<_>>(), ["127.0.1.1:80", fra]);
    let plain = &stats[0];
    assert_eq!((plain.requests, plain.failed, plain.p50_ms, plain.p95_ms), (1, 0, None, None));
    let fra_stats = &stats[1];
    assert_eq!((fra_stats.requests, fra_stats.failed), (101, 1));
    // The true p50 is 51 and p95 96: the bucket bounds holding them (above 50 up to 70, above
    // 70 up to 100), never above the slowest time seen (5000).
    assert_eq!((fra_stats.p50_ms, fra_stats.p95_ms), (Some(70), Some(100)));
    assert_eq!(fra_stats.hourly_p95_ms.len(), 24);
    // The current hour holds the hundred quick ones (their slowest is 100); five hours back,
    // the one slow failure, read as itself (the slowest time seen caps its bucket's bound).
    assert_eq!(fra_stats.hourly_p95_ms[23], Some(100));
    assert_eq!(fra_stats.hourly_p95_ms[18], Some(5000));
    assert_eq!(fra_stats.hourly_p95_ms.iter().filter(|h| h.is_some()).count(), 2);
}

#[test]
fn a_percentile_is_never_above_the_slowest_time_seen() {
    let rollups =
        purge(1, 0, &[result("u", "i", Outcome::Purged, Some(31)), result("v", "i", Outcome::Purged, Some(40))]);
    // Both in the bucket above 30 up to 50: its bound would say 50, the slowest was 40.
    assert_eq!(rollups[0].percentile(50), Some(40));
    let slow = purge(1, 0, &[result("u", "i", Outcome::Purged, Some(45_000))]);
    assert_eq!(slow[0].percentile(95), Some(45_000), "the overflow bucket reads as the slowest time");
}

#[test]
fn typical_times_are_read_again_once_a_minute() {
    use edgepurge_core::stats::{latency_refresh_due, LATENCY_REFRESH_MS};
    assert!(latency_refresh_due(None, NOW), "never read");
    assert!(!latency_refresh_due(Some(NOW), NOW + LATENCY_REFRESH_MS - 1));
    assert!(latency_refresh_due(Some(NOW), NOW + LATENCY_REFRESH_MS));
    assert!(latency_refresh_due(Some(NOW), NOW - 1), "a clock that went back");
}

#[test]
fn typical_times_read_the_hours_that_overlap_the_last_ten_minutes() {
    use edgepurge_core::stats::latency_since_hour;
    assert_eq!(latency_since_hour(NOW), hour(NOW), "half an hour in: this hour only");
    let early = NOW - 25 * 60_000;
    assert_eq!(latency_since_hour(early), hour(early) - 1, "five minutes in: the hour before too");
}
