//! Per-instance latency and failures over a window (the Instances page): p50 and p95 of the
//! request times, the failure count, and an hourly p95 series for a sparkline, from the stored
//! (instance, time, outcome, elapsed) results. Pure: the samples and `now` are passed in.

use crate::api::{InstanceStats, Outcome};

/// One stored result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The instance, as reports name it.
    pub instance: String,
    /// When its purge was recorded, ms since the epoch.
    pub at: i64,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took, when known.
    pub elapsed_ms: Option<u64>,
}

/// How far back an instance's request times count towards its typical time, which orders the
/// fan-out (`Plan::slowest_first`).
pub const LATENCY_WINDOW_MS: i64 = 10 * 60_000;

/// How long an isolate keeps the typical times it read before reading them again.
pub const LATENCY_REFRESH_MS: i64 = 60_000;

/// Whether typical times read at `read_at` (never: `None`) are due to be read again at `now`.
pub fn latency_refresh_due(read_at: Option<i64>, now: i64) -> bool {
    read_at.is_none_or(|at| now - at >= LATENCY_REFRESH_MS || now < at)
}

/// The statistics window: the last 24 hours, in hourly buckets.
pub const WINDOW_MS: i64 = 24 * 3_600_000;
const BUCKETS: usize = 24;

/// Nearest-rank percentile `p` (0 to 100) of sorted `values`.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Each instance's figures over the 24 hours before `now`, instances in name order.
pub fn instance_stats(samples: &[Sample], now: i64) -> Vec<InstanceStats> {
    let since = now - WINDOW_MS;
    let mut names: Vec<&str> = samples.iter().filter(|s| s.at > since).map(|s| s.instance.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let mine: Vec<&Sample> = samples.iter().filter(|s| s.instance == name && s.at > since).collect();
            let mut times: Vec<u64> = mine.iter().filter_map(|s| s.elapsed_ms).collect();
            times.sort_unstable();
            let hourly = (0..BUCKETS)
                .map(|b| {
                    let start = since + (b as i64) * (WINDOW_MS / BUCKETS as i64);
                    let end = start + WINDOW_MS / BUCKETS as i64;
                    let mut t: Vec<u64> =
                        mine.iter().filter(|s| s.at > start && s.at <= end).filter_map(|s| s.elapsed_ms).collect();
                    t.sort_unstable();
                    percentile(&t, 95)
                })
                .collect();
            InstanceStats {
                instance: name.to_owned(),
                requests: mine.len(),
                failed: mine.iter().filter(|s| !s.outcome.is_success()).count(),
                p50_ms: percentile(&times, 50),
                p95_ms: percentile(&times, 95),
                hourly_p95_ms: hourly,
            }
        })
        .collect()
}
