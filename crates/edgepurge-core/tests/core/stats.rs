//! The Instances page's figures: percentiles, failures and the hourly series.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::api::Outcome;
use edgepurge_core::stats::{instance_stats, Sample, WINDOW_MS};

const NOW: i64 = 1_800_000_000_000;
const HOUR: i64 = 3_600_000;

fn sample(instance: &str, ago: i64, outcome: Outcome, ms: Option<u64>) -> Sample {
    Sample { instance: instance.into(), at: NOW - ago, outcome, elapsed_ms: ms }
}

#[test]
fn each_instance_gets_its_percentiles_failures_and_hourly_p95() {
    let mut samples: Vec<Sample> =
        (1..=100).map(|ms| sample("fra 3d8d9e1f0e9d87", 30 * 60_000, Outcome::Purged, Some(ms))).collect();
    samples.push(sample("fra 3d8d9e1f0e9d87", 5 * HOUR + 1, Outcome::Failed, Some(5000)));
    samples.push(sample("127.0.1.1:80", 2 * HOUR, Outcome::NotCached, None));
    // Older than the window: not counted.
    samples.push(sample("127.0.1.1:80", WINDOW_MS + 1, Outcome::Failed, Some(9)));
    let stats = instance_stats(&samples, NOW);
    assert_eq!(stats.iter().map(|s| s.instance.as_str()).collect::<Vec<_>>(), ["127.0.1.1:80", "fra 3d8d9e1f0e9d87"]);
    let plain = &stats[0];
    assert_eq!((plain.requests, plain.failed, plain.p50_ms, plain.p95_ms), (1, 0, None, None));
    let fra = &stats[1];
    assert_eq!((fra.requests, fra.failed), (101, 1));
    assert_eq!((fra.p50_ms, fra.p95_ms), (Some(51), Some(96)));
    assert_eq!(fra.hourly_p95_ms.len(), 24);
    // The last hour holds the hundred quick ones; six hours back, the one slow failure.
    assert_eq!(fra.hourly_p95_ms[23], Some(95));
    assert_eq!(fra.hourly_p95_ms[18], Some(5000));
    assert_eq!(fra.hourly_p95_ms.iter().filter(|h| h.is_some()).count(), 2);
}

#[test]
fn typical_times_are_read_again_once_a_minute() {
    use edgepurge_core::stats::{latency_refresh_due, LATENCY_REFRESH_MS};
    assert!(latency_refresh_due(None, NOW), "never read");
    assert!(!latency_refresh_due(Some(NOW), NOW + LATENCY_REFRESH_MS - 1));
    assert!(latency_refresh_due(Some(NOW), NOW + LATENCY_REFRESH_MS));
    assert!(latency_refresh_due(Some(NOW), NOW - 1), "a clock that went back");
}
