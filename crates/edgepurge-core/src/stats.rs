//! Per-instance latency and failures (the Instances page, the fan-out's start order), kept as
//! hourly rollups: one [`Rollup`] per instance and hour, whatever the number of purges or items,
//! each with a latency histogram, its counts and the instance's last purge in that hour. A
//! purge's results become one rollup per instance ([`rollups_of`]), which the store adds to the
//! stored one; the page's p50, p95 and hourly p95 series are read from the histograms
//! ([`instance_stats`]). Pure: the results, the rollups and `now` are passed in.

use crate::api::{InstanceStats, Outcome, PurgeResult};
use crate::history::bounded_label;
use std::collections::BTreeMap;

/// The latency histogram's bucket bounds, ms: bucket `i` counts request times up to
/// `BUCKET_BOUNDS_MS[i]` (above the previous bound); one more bucket counts the rest. About 1.5x
/// apart, so a percentile read from it is within that of the true one (and never above the
/// slowest time seen).
pub const BUCKET_BOUNDS_MS: [u64; 24] =
    [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000];

/// Buckets in a histogram: one per bound and the overflow.
pub const BUCKETS: usize = BUCKET_BOUNDS_MS.len() + 1;

/// An hour, ms.
pub const HOUR_MS: i64 = 3_600_000;

/// The hour (since the epoch) time `at` (ms) falls in.
pub fn hour(at: i64) -> i64 {
    at.div_euclid(HOUR_MS)
}

/// The bucket a request time falls in.
pub fn bucket(ms: u64) -> usize {
    BUCKET_BOUNDS_MS.iter().position(|bound| ms <= *bound).unwrap_or(BUCKET_BOUNDS_MS.len())
}

/// An instance's last purge in a rollup's hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Last {
    /// Its history entry.
    pub entry: i64,
    /// When it was recorded, ms.
    pub at: i64,
    /// The item, as the history keeps labels.
    pub url: String,
    /// What happened.
    pub outcome: Outcome,
}

/// One instance's figures for one hour: what the store keeps instead of one row per (item,
/// instance) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollup {
    /// The instance, as reports name it.
    pub instance: String,
    /// The hour, since the epoch.
    pub hour: i64,
    /// (item, instance) requests recorded.
    pub requests: u64,
    /// Of those, how many did not succeed.
    pub failed: u64,
    /// Of those, how many have a request time.
    pub timed: u64,
    /// The sum of those times, ms (their mean orders the fan-out).
    pub elapsed_sum: u64,
    /// The slowest of those times, ms.
    pub max_ms: Option<u64>,
    /// Those times by [`bucket`].
    pub histogram: [u64; BUCKETS],
    /// The instance's last purge in this hour.
    pub last: Last,
}

impl Rollup {
    fn new(instance: &str, hour: i64, last: Last) -> Rollup {
        Rollup {
            instance: instance.to_owned(),
            hour,
            requests: 0,
            failed: 0,
            timed: 0,
            elapsed_sum: 0,
            max_ms: None,
            histogram: [0; BUCKETS],
            last,
        }
    }

    fn add(&mut self, outcome: Outcome, elapsed_ms: Option<u64>) {
        self.requests += 1;
        self.failed += u64::from(!outcome.is_success());
        if let Some(ms) = elapsed_ms {
            self.timed += 1;
            self.elapsed_sum = self.elapsed_sum.saturating_add(ms);
            self.max_ms = Some(self.max_ms.map_or(ms, |m| m.max(ms)));
            self.histogram[bucket(ms)] += 1;
        }
    }

    /// Adds `other`'s counts to these (the store does the same in SQL when it adds a purge's
    /// rollup to the stored one).
    pub fn merge(&mut self, other: &Rollup) {
        self.requests += other.requests;
        self.failed += other.failed;
        self.timed += other.timed;
        self.elapsed_sum = self.elapsed_sum.saturating_add(other.elapsed_sum);
        self.max_ms = match (self.max_ms, other.max_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (mine, theirs) in self.histogram.iter_mut().zip(other.histogram) {
            *mine += theirs;
        }
    }

    /// Percentile `p` (0 to 100) of the times counted: the upper bound of the bucket holding
    /// the nearest rank, never above the slowest time seen.
    pub fn percentile(&self, p: u64) -> Option<u64> {
        let total: u64 = self.histogram.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (p * total).div_ceil(100).max(1);
        let mut seen = 0;
        for (i, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let bound = BUCKET_BOUNDS_MS.get(i).copied();
                return match (bound, self.max_ms) {
                    (Some(b), Some(max)) => Some(b.min(max)),
                    (b, max) => b.or(max),
                };
            }
        }
        self.max_ms
    }
}

/// A purge's results recorded at `at` in entry `entry`, one rollup per instance (in name
/// order), each with the instance's last result in the list as its last purge.
pub fn rollups_of(results: &[PurgeResult], entry: i64, at: i64) -> Vec<Rollup> {
    let mut by_instance: BTreeMap<&str, Rollup> = BTreeMap::new();
    for r in results {
        let last = Last { entry, at, url: bounded_label(&r.url), outcome: r.outcome };
        let rollup = by_instance.entry(&r.instance).or_insert_with(|| Rollup::new(&r.instance, hour(at), last.clone()));
        rollup.last = last;
        rollup.add(r.outcome, r.elapsed_ms);
    }
    by_instance.into_values().collect()
}

/// The first hour whose rollups count towards the typical request times at `now`: the hour
/// [`LATENCY_WINDOW_MS`] ago (so the current hour and, early in it, the one before).
pub fn latency_since_hour(now: i64) -> i64 {
    hour(now - LATENCY_WINDOW_MS)
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

/// The statistics window: the last 24 clock hours (the current hour the last).
const HOURS: i64 = 24;

/// The first hour of the statistics window at `now`.
pub fn window_start_hour(now: i64) -> i64 {
    hour(now) - (HOURS - 1)
}

/// Each instance's figures over the 24 clock hours up to `now` (the current one the last), from
/// its rollups; instances in name order.
pub fn instance_stats(rollups: &[Rollup], now: i64) -> Vec<InstanceStats> {
    let first = window_start_hour(now);
    let mut by_instance: BTreeMap<&str, Vec<&Rollup>> = BTreeMap::new();
    for r in rollups.iter().filter(|r| (first..=hour(now)).contains(&r.hour)) {
        by_instance.entry(&r.instance).or_default().push(r);
    }
    by_instance
        .into_iter()
        .map(|(name, mine)| {
            let mut all = Rollup::new(name, first, mine[0].last.clone());
            for r in &mine {
                all.merge(r);
            }
            let hourly = (first..first + HOURS)
                .map(|h| {
                    let mut of_hour = Rollup::new(name, h, all.last.clone());
                    mine.iter().filter(|r| r.hour == h).for_each(|r| of_hour.merge(r));
                    of_hour.percentile(95)
                })
                .collect();
            InstanceStats {
                instance: name.to_owned(),
                requests: usize::try_from(all.requests).unwrap_or(usize::MAX),
                failed: usize::try_from(all.failed).unwrap_or(usize::MAX),
                p50_ms: all.percentile(50),
                p95_ms: all.percentile(95),
                hourly_p95_ms: hourly,
            }
        })
        .collect()
}
