//! Durable redelivery: the (item, instance) pairs that failed inline, queued with a purge's
//! completion ([`super::leases`]), read when due by the cron, updated in one statement per
//! pass, listed for the console, and forgotten once finished and old ([`Store::prune_old`]).

use super::{corrupt, n, opt, s, Store};
use edgepurge_core::api::{DeliveriesReply, Delivery, DeliveryStatus};
use edgepurge_core::retry::DeliveryUpdate;
use edgepurge_core::writes::{self, MAX_CHUNK_BYTES};
use edgepurge_core::ApiError;
use serde::Deserialize;

/// A `deliveries` row.
#[derive(Deserialize)]
struct DeliveryRow {
    id: i64,
    purge_id: i64,
    url: String,
    instance: String,
    status: String,
    attempts: u32,
    first_at: i64,
    next_at: i64,
    updated_at: i64,
    last_error: Option<String>,
}

impl DeliveryRow {
    fn delivery(self) -> Result<Delivery, ApiError> {
        let status = DeliveryStatus::parse(&self.status)
            .ok_or_else(|| corrupt("deliveries", self.id, format!("unknown status {:?}", self.status)))?;
        Ok(Delivery {
            id: self.id,
            purge_id: self.purge_id,
            url: self.url,
            instance: self.instance,
            status,
            attempts: self.attempts,
            first_at: self.first_at,
            next_at: self.next_at,
            updated_at: self.updated_at,
            last_error: self.last_error,
        })
    }
}

/// How many deliveries have one status, as [`COUNTS`] reads it.
#[derive(Deserialize)]
struct StatusCount {
    status: String,
    n: usize,
}

/// Status `?1`'s deliveries due at `?2`, oldest first, at most `?3`.
const DUE: &str = "SELECT * FROM deliveries WHERE status = ?1 AND next_at <= ?2 ORDER BY next_at, id LIMIT ?3";
/// Each delivery of the JSON array `?1` (`[id, status, attempts, next_at, last_error]`) as it
/// now stands, at `?2`.
const UPDATE: &str = "UPDATE deliveries SET status = u.value ->> 1, attempts = u.value ->> 2, \
                      next_at = u.value ->> 3, last_error = u.value ->> 4, updated_at = ?2 \
                      FROM json_each(?1) u WHERE deliveries.id = u.value ->> 0";
const COUNTS: &str = "SELECT status, count(*) AS n FROM deliveries GROUP BY status";
/// The newest deliveries of status `?1` (all if null), at most `?2`.
const NEWEST: &str = "SELECT * FROM deliveries WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2";
/// Up to `?3` deliveries not of status `?1` (finished) last updated before `?2`.
pub(super) const PRUNE_FINISHED: &str = "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries \
                                         WHERE status != ?1 AND updated_at < ?2 LIMIT ?3)";

statements![DUE, UPDATE, COUNTS, NEWEST, PRUNE_FINISHED];

impl Store {
    /// Pending deliveries due at `now`, oldest first.
    pub async fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<Delivery>, ApiError> {
        let rows: Vec<DeliveryRow> =
            self.rows(DUE, &[s(DeliveryStatus::Pending.as_str()), n(now), n(limit.into())]).await?;
        rows.into_iter().map(DeliveryRow::delivery).collect()
    }

    /// Records what became of deliveries (by id): one statement over a bound JSON array,
    /// another only past a statement's size; none for no updates.
    pub async fn update_deliveries(&self, updates: &[(i64, DeliveryUpdate)], now: i64) -> Result<(), ApiError> {
        let rows: Vec<String> = updates
            .iter()
            .map(|(id, u)| serde_json::json!([id, u.status.as_str(), u.attempts, u.next_at, u.last_error]).to_string())
            .collect();
        let batch = writes::json_chunks(&rows, MAX_CHUNK_BYTES)
            .iter()
            .map(|chunk| self.stmt(UPDATE, &[s(chunk), n(now)]))
            .collect::<Result<Vec<_>, _>>()?;
        if !batch.is_empty() {
            self.batch(batch, "recording redeliveries").await?;
        }
        Ok(())
    }

    /// Counts by status, and the newest deliveries of `status` (all statuses if `None`). A count
    /// under a status that does not read is an error, not a row left out.
    pub async fn deliveries(&self, status: Option<DeliveryStatus>, limit: u32) -> Result<DeliveriesReply, ApiError> {
        let counts: Vec<StatusCount> = self.rows(COUNTS, &[]).await?;
        let mut reply = DeliveriesReply { pending: 0, delivered: 0, abandoned: 0, deliveries: Vec::new() };
        for c in counts {
            let count = match DeliveryStatus::parse(&c.status) {
                Some(DeliveryStatus::Pending) => &mut reply.pending,
                Some(DeliveryStatus::Delivered) => &mut reply.delivered,
                Some(DeliveryStatus::Abandoned) => &mut reply.abandoned,
                None => return Err(corrupt("deliveries", "count", format!("unknown status {:?}", c.status))),
            };
            *count = c.n;
        }
        let rows: Vec<DeliveryRow> =
            self.rows(NEWEST, &[opt(status.map(DeliveryStatus::as_str)), n(limit.into())]).await?;
        reply.deliveries = rows.into_iter().map(DeliveryRow::delivery).collect::<Result<_, _>>()?;
        Ok(reply)
    }
}
