//! Each instance's figures as hourly rollups (`instance_hours`: counts, a latency histogram, the
//! last purge in that hour), upserted with a purge's completion ([`super::leases`]) and read by
//! the Instances page and the fan-out's start order; and retention, which forgets old rows.

use super::deliveries::PRUNE_FINISHED;
use super::{corrupt, n, s, Store};
use crate::problem::internal;
use edgepurge_core::api::{DeliveryStatus, LastPurge, Outcome};
use edgepurge_core::stats::{Last, Rollup, BUCKETS};
use edgepurge_core::ApiError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// An `instance_hours` row; its histogram read as one JSON array.
#[derive(Deserialize)]
struct HourRow {
    instance: String,
    hour: i64,
    requests: u64,
    failed: u64,
    timed: u64,
    elapsed_sum: u64,
    max_ms: Option<u64>,
    histogram: String,
    last_purge_id: i64,
    last_at: i64,
    last_url: String,
    last_outcome: String,
}

impl HourRow {
    fn rollup(self) -> Result<Rollup, ApiError> {
        let row = format!("({}, {})", self.instance, self.hour);
        let bad = |what: String| corrupt("instance_hours", &row, what);
        let counts: Vec<u64> = serde_json::from_str(&self.histogram).map_err(|e| bad(format!("histogram: {e}")))?;
        let histogram: [u64; BUCKETS] =
            counts.try_into().map_err(|c: Vec<u64>| bad(format!("{} histogram buckets", c.len())))?;
        let outcome = Outcome::parse(&self.last_outcome)
            .ok_or_else(|| bad(format!("unknown outcome {:?}", self.last_outcome)))?;
        Ok(Rollup {
            instance: self.instance,
            hour: self.hour,
            requests: self.requests,
            failed: self.failed,
            timed: self.timed,
            elapsed_sum: self.elapsed_sum,
            max_ms: self.max_ms,
            histogram,
            last: Last { entry: self.last_purge_id, at: self.last_at, url: self.last_url, outcome },
        })
    }
}

/// An instance's mean request time, as [`MEAN_TIMES`] reads it.
#[derive(Deserialize)]
struct MeanRow {
    instance: String,
    ms: i64,
}

/// Each instance's mean time over the hours from `?1`.
const MEAN_TIMES: &str = "SELECT instance, sum(elapsed_sum) / sum(timed) AS ms FROM instance_hours \
                          WHERE hour >= ?1 AND timed > 0 GROUP BY instance LIMIT 100000";
/// Up to `?2` rollups before hour `?1`, each instance's newest row excepted (it holds its last purge).
const PRUNE_HOURS: &str = "DELETE FROM instance_hours WHERE (instance, hour) IN (SELECT instance, hour \
                           FROM instance_hours o WHERE hour < ?1 \
                           AND hour < (SELECT max(hour) FROM instance_hours WHERE instance = o.instance) LIMIT ?2)";

// `upsert_hours` is listed by `super::leases`, built with its guard.
statements![MEAN_TIMES, PRUNE_HOURS; built: figures()];

/// The columns of an `instance_hours` row as [`HourRow`] reads them.
fn hour_columns() -> String {
    let buckets = (0..BUCKETS).map(|i| format!("h.h{i}")).collect::<Vec<_>>().join(", ");
    format!(
        "h.instance, h.hour, h.requests, h.failed, h.timed, h.elapsed_sum, h.max_ms, \
         json_array({buckets}) AS histogram, h.last_purge_id, h.last_at, h.last_url, h.last_outcome"
    )
}

/// For each instance of the JSON array `?1`: its newest row (`newest` 1) and its rows from hour
/// `?2` (`newest` 0), as index seeks.
fn figures() -> String {
    let columns = hour_columns();
    format!(
        "SELECT 1 AS newest, {columns} FROM json_each(?1) j CROSS JOIN instance_hours h \
         WHERE h.instance = j.value AND h.hour = (SELECT max(hour) FROM instance_hours WHERE instance = j.value) \
         UNION ALL \
         SELECT 0 AS newest, {columns} FROM json_each(?1) j CROSS JOIN instance_hours h \
         WHERE h.instance = j.value AND h.hour >= ?2"
    )
}

/// A rollup as one element of the JSON array [`upsert_hours`] reads.
pub(super) fn rollup_json(r: &Rollup) -> String {
    serde_json::json!([
        r.instance,
        r.hour,
        r.requests,
        r.failed,
        r.timed,
        r.elapsed_sum,
        r.max_ms,
        r.histogram,
        r.last.entry,
        r.last.at,
        r.last.url,
        r.last.outcome.as_str()
    ])
    .to_string()
}

/// Adds each rollup of the JSON array `?3` ([`rollup_json`]) to its instance's row for its hour
/// (creating it), if `guard` holds: one statement for every instance of a purge. The last purge
/// is replaced by a later one only.
pub(super) fn upsert_hours(guard: &str) -> String {
    let buckets: Vec<String> = (0..BUCKETS).map(|i| format!("h{i}")).collect();
    let values: Vec<String> = (0..BUCKETS).map(|i| format!("value ->> '$[7][{i}]'")).collect();
    let sums: Vec<String> = buckets.iter().map(|b| format!("{b} = {b} + excluded.{b}")).collect();
    let newer = |c: &str| format!("{c} = CASE WHEN excluded.last_at >= last_at THEN excluded.{c} ELSE {c} END");
    format!(
        "INSERT INTO instance_hours (instance, hour, requests, failed, timed, elapsed_sum, max_ms, {}, last_purge_id, \
         last_at, last_url, last_outcome) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, {}, \
         value ->> 8, value ->> 9, value ->> 10, value ->> 11 FROM json_each(?3) WHERE {guard} \
         ON CONFLICT (instance, hour) DO UPDATE SET requests = requests + excluded.requests, \
         failed = failed + excluded.failed, timed = timed + excluded.timed, \
         elapsed_sum = elapsed_sum + excluded.elapsed_sum, \
         max_ms = CASE WHEN max_ms IS NULL THEN excluded.max_ms WHEN excluded.max_ms IS NULL THEN max_ms \
                  ELSE max(max_ms, excluded.max_ms) END, \
         {}, {}, {}, {}, {}",
        buckets.join(", "),
        values.join(", "),
        sums.join(", "),
        newer("last_purge_id"),
        newer("last_url"),
        newer("last_outcome"),
        // Last: the conditions above read the old `last_at`.
        "last_at = max(last_at, excluded.last_at)",
    )
}

impl Store {
    /// Each of `instances`' most recent purge (the newest of its hourly rows) and its hourly
    /// rollups from `since_hour`, in one query of index seeks: at most 25 rows an instance,
    /// however long the history.
    pub async fn instance_figures(
        &self,
        instances: &[String],
        since_hour: i64,
    ) -> Result<(Vec<LastPurge>, Vec<Rollup>), ApiError> {
        #[derive(Deserialize)]
        struct Row {
            newest: i64,
            #[serde(flatten)]
            hour: HourRow,
        }
        let names = serde_json::to_string(instances).map_err(internal)?;
        let rows: Vec<Row> = self.rows(&figures(), &[s(&names), n(since_hour)]).await?;
        let (mut last, mut rollups) = (Vec::new(), Vec::new());
        for row in rows {
            let r = row.hour.rollup()?;
            if row.newest == 1 {
                let (instance, at, url, outcome) = (r.instance.clone(), r.last.at, r.last.url.clone(), r.last.outcome);
                last.push(LastPurge { instance, at, url, outcome });
            } else {
                rollups.push(r);
            }
        }
        Ok((last, rollups))
    }

    /// Each instance's mean request time over the hours from `since_hour`: one query, for the
    /// fan-out's start order. A mean that is not a time (negative, or past `u32`) is an error
    /// naming the instance, not a time made up.
    pub async fn typical_latencies(&self, since_hour: i64) -> Result<BTreeMap<String, u32>, ApiError> {
        let rows: Vec<MeanRow> = self.rows(MEAN_TIMES, &[n(since_hour)]).await?;
        rows.into_iter()
            .map(|r| match u32::try_from(r.ms) {
                Ok(ms) => Ok((r.instance, ms)),
                Err(_) => Err(corrupt("instance_hours", &r.instance, format!("mean time {} ms", r.ms))),
            })
            .collect()
    }

    /// Forgets hourly rollups before `before_hour` (each instance's newest row stays: it holds
    /// its last purge) and finished deliveries last updated before `before` (ms), at most
    /// `limit` rows of each per call; one batch.
    pub async fn prune_old(&self, before_hour: i64, before: i64, limit: u32) -> Result<(), ApiError> {
        let pending = DeliveryStatus::Pending.as_str();
        let batch = vec![
            self.stmt(PRUNE_HOURS, &[n(before_hour), n(limit.into())])?,
            self.stmt(PRUNE_FINISHED, &[s(pending), n(before), n(limit.into())])?,
        ];
        self.batch(batch, "pruning old rows").await?;
        Ok(())
    }
}
