//! A purge's write-ahead and lease: its entry opened (with its rate-limit count and its
//! `Idempotency-Key`) in one batch before the first `PURGE` leaves, completed in one batch by
//! the lease's owner (its outcome, each instance's hourly rollup, the deliveries queued), and
//! taken over by the cron once the lease has run out (`edgepurge_core::lease`).

use super::history::{entry_args, new_entry, HistoryRecord};
use super::idempotency::{self, Keyed};
use super::limits::{Count, FORGET_WINDOWS, HIT};
use super::rollups::{rollup_json, upsert_hours};
use super::{corrupt, first_row, n, s, Id, Store};
use crate::problem::internal;
use edgepurge_core::api::{DeliveryStatus, HistoryStatus, PurgeResult, Replay};
use edgepurge_core::writes::{self, MAX_CHUNK_BYTES};
use edgepurge_core::{history, limits, stats, ApiError};
use serde::Deserialize;

/// What a purge that ran adds to its entry: the outcome, each (item, instance) result, and what
/// was queued for background redelivery; written only by its lease's owner.
pub struct Completion {
    pub status: HistoryStatus,
    pub http_status: u16,
    pub results: Vec<PurgeResult>,
    pub queued: Vec<PurgeResult>,
    /// When the queued deliveries are first due.
    pub next_at: i64,
    /// The lease owner completing it.
    pub owner: String,
    /// Completed by the cron after the lease ran out.
    pub recovered: bool,
}

/// A purge still `running` past its lease, for the cron to take over.
#[derive(Deserialize)]
pub struct Expired {
    pub id: i64,
    pub lease_until: i64,
    /// Who asked for it (the history's `actor`).
    pub actor: String,
    replay: Option<String>,
}

impl Expired {
    /// What it keeps to be run again; an entry whose replay does not read is an error naming it.
    pub fn replay(&self) -> Result<Replay, ApiError> {
        let raw = self.replay.as_deref().unwrap_or("null");
        serde_json::from_str(raw).map_err(|e| corrupt("purges", self.id, format!("replay: {e}")))
    }
}

/// The entry, written only if `?15`'s count in window `?16` (just counted) is within `?17`.
const RECORD_WITHIN: &str = new_entry!(
    "SELECT ",
    " WHERE (SELECT count FROM rate_limits WHERE key = ?15 AND window = ?16) <= ?17 RETURNING id"
);
/// Completes entry `?1`: only its lease's owner `?5` does, and only once; the rollups and the
/// deliveries are written only if this did it.
const COMPLETE: &str = "UPDATE purges SET status = ?2, http_status = ?3, results = ?4, recovered = ?6, replay = NULL, \
                        lease_until = NULL WHERE id = ?1 AND status = 'running' AND lease_owner IS ?5 RETURNING id";
/// Whether entry `?1` was completed by owner `?2` (in this batch: the cron and a late original
/// never both do).
macro_rules! completed_here {
    () => {
        "EXISTS (SELECT 1 FROM purges WHERE id = ?1 AND lease_owner IS ?2 AND lease_until IS NULL \
         AND status != 'running')"
    };
}
/// The deliveries of the JSON array `?3` (`[url, instance, error, due]`), queued with status `?4`
/// at `?5`, first due at `due` when the row says (an upstream's `Retry-After`), else at `?6`.
const QUEUE: &str = concat!(
    "INSERT INTO deliveries (purge_id, url, instance, status, attempts, first_at, next_at, updated_at, last_error) \
     SELECT ?1, value ->> 0, value ->> 1, ?4, 0, ?5, COALESCE(value ->> 3, ?6), ?5, value ->> 2 FROM json_each(?3) \
     WHERE ",
    completed_here!()
);
const EXPIRED_LEASES: &str = "SELECT id, lease_until, actor, replay FROM purges WHERE status = 'running' \
                              AND lease_until IS NOT NULL AND lease_until < ?1 ORDER BY lease_until LIMIT ?2";
/// Takes entry `?1`'s lease, run out at `?2`, for owner `?4` until `?3`.
const TAKE_OVER: &str = "UPDATE purges SET lease_until = ?3, lease_owner = ?4 WHERE id = ?1 AND status = 'running' \
                         AND lease_until = ?2 RETURNING id";

/// The rollups' upsert, guarded like [`QUEUE`].
fn upsert_completed() -> String {
    upsert_hours(completed_here!())
}

statements![RECORD_WITHIN, COMPLETE, QUEUE, EXPIRED_LEASES, TAKE_OVER; built: upsert_completed()];

impl Store {
    /// Counts one request by `key` in the current minute and, in the same D1 batch (one round
    /// trip, one transaction), opens the history entry only if that count is within `limit`.
    /// Returns the count (this request included) and the entry's id, `None` when over the limit.
    pub async fn record_within(
        &self,
        r: &HistoryRecord,
        key: &str,
        limit: u32,
        keyed: Option<&Keyed>,
    ) -> Result<(i64, Option<i64>), ApiError> {
        let window = limits::window(r.at);
        let mut args = entry_args(r)?;
        args.extend([s(key), n(window), n(limit.into())]);
        let mut batch = vec![
            self.stmt(HIT, &[s(key), n(window)])?,
            self.stmt(FORGET_WINDOWS, &[s(key), n(window)])?,
            self.stmt(RECORD_WITHIN, &args)?,
        ];
        if let (Some(k), Some(lease)) = (keyed, &r.lease) {
            // The key forgets a purge past its window; a live one makes the insert below fail,
            // and with it the whole batch: the entry is not written, and nothing is sent.
            batch.push(self.stmt(idempotency::FORGET, &[n(k.person_id), s(&k.key), n(k.forget_before)])?);
            // The entry just written (the newest, with this lease's owner), if it was.
            batch.push(self.stmt(
                idempotency::REMEMBER,
                &[n(k.person_id), s(&k.key), s(&k.fingerprint), n(r.at), s(&lease.owner)],
            )?);
        }
        let results = self.batch(batch, "a purge's write-ahead").await?;
        let count = first_row::<Count>(&results, 0)?.ok_or_else(|| internal("no count returned"))?;
        Ok((count.count, first_row::<Id>(&results, 2)?.map(|r| r.id)))
    }

    /// Completes entry `id` with a purge's outcome, each instance's hourly rollup, and the
    /// deliveries queued for background redelivery, in one D1 batch: all of it or none. Its
    /// statements do not grow with the purge: the rollups (one per instance) and the deliveries
    /// are each one statement over a bound JSON array, another only past a statement's size.
    pub async fn complete(&self, id: i64, at: i64, c: &Completion) -> Result<bool, ApiError> {
        let results_json = serde_json::to_string(&history::bounded_results(&c.results)).map_err(internal)?;
        let (status, http_status, recovered) = (c.status.as_str(), c.http_status.into(), c.recovered.into());
        let args = [n(id), s(status), n(http_status), s(&results_json), s(&c.owner), n(recovered)];
        let mut batch = vec![self.stmt(COMPLETE, &args)?];
        let rollups: Vec<String> = stats::rollups_of(&c.results, id, at).iter().map(rollup_json).collect();
        let upsert = upsert_completed();
        for chunk in writes::json_chunks(&rollups, MAX_CHUNK_BYTES) {
            batch.push(self.stmt(&upsert, &[n(id), s(&c.owner), s(&chunk)])?);
        }
        let due = |row: &PurgeResult| row.retry_after_secs.map(|secs| at + i64::from(secs) * 1000);
        let queued: Vec<String> = c
            .queued
            .iter()
            .map(|row| serde_json::json!([row.url, row.instance, row.error, due(row)]).to_string())
            .collect();
        let pending = DeliveryStatus::Pending.as_str();
        for chunk in writes::json_chunks(&queued, MAX_CHUNK_BYTES) {
            batch.push(self.stmt(QUEUE, &[n(id), s(&c.owner), s(&chunk), s(pending), n(at), n(c.next_at)])?);
        }
        let results = self.batch(batch, "a purge's completion").await?;
        Ok(first_row::<Id>(&results, 0)?.is_some())
    }

    /// Purges still `running` past their lease at `now`, the longest expired first, at most
    /// `limit`.
    pub async fn expired_leases(&self, now: i64, limit: u32) -> Result<Vec<Expired>, ApiError> {
        self.rows(EXPIRED_LEASES, &[n(now), n(limit.into())]).await
    }

    /// Takes an expired lease over for `owner` until `until`; false when someone else did first
    /// (or the original completed meanwhile).
    pub async fn take_over(&self, e: &Expired, until: i64, owner: &str) -> Result<bool, ApiError> {
        let row: Option<Id> = self.row(TAKE_OVER, &[n(e.id), n(e.lease_until), n(until), s(owner)]).await?;
        Ok(row.is_some())
    }
}
