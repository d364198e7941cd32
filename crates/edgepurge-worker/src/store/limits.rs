//! Rate-limit counters: one row per caller key and minute (`edgepurge_core::limits`), counted
//! by an upsert (conditional, for a count that must not pass its limit), each key's old windows
//! forgotten on its first request of a new one and everyone's by the cron.

use super::{n, s, Store};
use edgepurge_core::{limits, ApiError};
use serde::Deserialize;

/// A counter's count, as [`HIT`], [`HIT_BELOW`] and [`PEEK`] return it.
#[derive(Deserialize)]
pub(super) struct Count {
    pub(super) count: i64,
}

/// Counts one request by `?1` in window `?2`; returns the count, this one included.
pub(super) const HIT: &str = "INSERT INTO rate_limits (key, window, count) VALUES (?1, ?2, 1) \
                              ON CONFLICT (key, window) DO UPDATE SET count = count + 1 RETURNING count";
/// [`HIT`] only while the count is below `?3`: at the limit it writes nothing and returns no row.
const HIT_BELOW: &str = "INSERT INTO rate_limits (key, window, count) VALUES (?1, ?2, 1) \
                         ON CONFLICT (key, window) DO UPDATE SET count = count + 1 WHERE count < ?3 RETURNING count";
/// Forgets `?1`'s windows before `?2`.
pub(super) const FORGET_WINDOWS: &str = "DELETE FROM rate_limits WHERE key = ?1 AND window < ?2";
/// `?1`'s count in window `?2`, without counting.
const PEEK: &str = "SELECT count FROM rate_limits WHERE key = ?1 AND window = ?2";
/// Forgets every key's windows before `?1`.
const PRUNE: &str = "DELETE FROM rate_limits WHERE window < ?1";

statements![HIT, HIT_BELOW, FORGET_WINDOWS, PEEK, PRUNE];

impl Store {
    /// Counts one request by `key` in the current minute; returns the count, this one included.
    pub async fn hit(&self, key: &str, now: i64) -> Result<i64, ApiError> {
        let window = limits::window(now);
        let row: Option<Count> = self.row(HIT, &[s(key), n(window)]).await?;
        Ok(self.counted(key, window, row).await?.unwrap_or(0))
    }

    /// Counts one request by `key` in the current minute if fewer than `limit` were counted;
    /// returns the count (this one included), or `None` at the limit: a request over it writes
    /// nothing (the upsert's condition fails), however many come.
    pub async fn hit_below(&self, key: &str, now: i64, limit: u32) -> Result<Option<i64>, ApiError> {
        let window = limits::window(now);
        let row: Option<Count> = self.row(HIT_BELOW, &[s(key), n(window), n(limit.into())]).await?;
        self.counted(key, window, row).await
    }

    /// The count a hit returned; on the first request of a new window for `key`, its old
    /// windows are forgotten.
    async fn counted(&self, key: &str, window: i64, row: Option<Count>) -> Result<Option<i64>, ApiError> {
        if row.as_ref().is_some_and(|r| r.count == 1) {
            self.run(FORGET_WINDOWS, &[s(key), n(window)]).await?;
        }
        Ok(row.map(|r| r.count))
    }

    /// Counts one request by `key` and refuses it (429) past `limit` a minute; `what` names the
    /// requests and their setting in the problem. A refused request writes nothing.
    pub async fn within(&self, key: &str, now: i64, limit: u32, what: &str) -> Result<(), ApiError> {
        match self.hit_below(key, now, limit).await? {
            Some(_) => Ok(()),
            None => Err(limits::too_many(limit, now, what)),
        }
    }

    /// The count of `key` in the current minute, without counting (a read, no write).
    pub async fn peek(&self, key: &str, now: i64) -> Result<i64, ApiError> {
        let row: Option<Count> = self.row(PEEK, &[s(key), n(limits::window(now))]).await?;
        Ok(row.map_or(0, |r| r.count))
    }

    /// Forgets every window before the previous minute (the cron trigger calls it).
    pub async fn prune_rate_limits(&self, now: i64) -> Result<(), ApiError> {
        self.run(PRUNE, &[n(limits::window(now) - 1)]).await
    }
}
