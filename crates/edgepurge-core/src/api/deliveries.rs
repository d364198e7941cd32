//! `GET /api/deliveries`: the (URL, instance) purges that failed inline and are redelivered in
//! the background.

use super::wire::str_enum;
use serde::{Deserialize, Serialize};

/// The query string of `GET /api/deliveries` (`?status=&limit=`), as sent.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveriesQuery {
    /// `pending`, `delivered` or `abandoned`; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Deliveries listed, 1 to 1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// A (URL, instance) purge that failed inline, redelivered in the background.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// The purge it belongs to (history id).
    pub purge_id: i64,
    /// The URL.
    pub url: String,
    /// The instance, as `ip:port`.
    pub instance: String,
    /// `pending`, `delivered` or `abandoned`.
    pub status: DeliveryStatus,
    /// Background attempts made so far.
    pub attempts: u32,
    /// When it was queued, ms.
    pub first_at: i64,
    /// When it will next be tried (pending), ms.
    pub next_at: i64,
    /// When it last changed, ms.
    pub updated_at: i64,
    /// The last failure, or why it was abandoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

str_enum! {
    /// Where a background delivery stands.
    #[derive(PartialOrd, Ord)]
    pub enum DeliveryStatus {
        /// Waiting for its next attempt.
        Pending = "pending",
        /// The instance confirmed it.
        Delivered = "delivered",
        /// Given up, with the reason in `last_error`.
        Abandoned = "abandoned",
    }
}

/// Reply of `GET /api/deliveries`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveriesReply {
    /// Counts by status.
    pub pending: usize,
    /// Counts by status.
    pub delivered: usize,
    /// Counts by status.
    pub abandoned: usize,
    /// The deliveries asked for, newest first.
    pub deliveries: Vec<Delivery>,
}
