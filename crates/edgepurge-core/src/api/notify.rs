//! Webhook notifications: the JSON body edgepurge POSTs to each `NOTIFY_WEBHOOKS` URL, and how
//! sending them has gone (`GET /api/health`). What is sent, when, and its signature are
//! `crate::notify`'s.

use super::wire::str_enum;
use super::{Delivery, HistoryStatus, Summary};
use serde::{Deserialize, Serialize};

str_enum! {
    /// What a notification is about; `NOTIFY_ON` names the kinds sent.
    #[derive(PartialOrd, Ord)]
    pub enum NotifyKind {
        /// A purge some of whose (item, instance) pairs failed or were rejected.
        Partial = "partial",
        /// A purge none of whose pairs succeeded.
        Failed = "failed",
        /// Background deliveries given up (`abandoned`), with the reason.
        Abandoned = "abandoned",
        /// A purge every pair of which succeeded (sent only with `NOTIFY_ON=all` or `purged`).
        Purged = "purged",
    }
}

/// The body of a webhook notification (`POST` to each `NOTIFY_WEBHOOKS` URL, `Content-Type:
/// application/json`, signed in `X-Edgepurge-Signature: sha256=<hex>`, the HMAC-SHA256 of the
/// body's bytes with `NOTIFY_SECRET`). `text` is Slack `mrkdwn`, so a Slack incoming webhook
/// takes the body as it is.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// One line for people (Slack `mrkdwn`: `*bold*`, `<url|label>`; `&`, `<`, `>` escaped).
    pub text: String,
    /// What it is about.
    pub kind: NotifyKind,
    /// When it was sent, ms since the epoch. It is signed with the rest: a receiver refuses a
    /// body much older than its own clock (a replay).
    pub sent_at: i64,
    /// When it happened (the purge's start, the redelivery run), ms since the epoch.
    pub at: i64,
    /// Who asked for the purge (its history entry's actor); none for abandoned deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The purge's items as its history names them (at most 20); for abandoned deliveries,
    /// their URLs.
    pub items: Vec<String>,
    /// How many items there were in all.
    pub item_count: usize,
    /// How the purge ended (`partial`, `failed`, `purged`); none for abandoned deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<HistoryStatus>,
    /// The purge's counts per outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// The instances (or upstream groups) that failed or refused, worst first (at most 20).
    pub failing: Vec<FailingInstance>,
    /// How many instances failed or refused in all.
    pub failing_count: usize,
    /// The deliveries given up (`abandoned` only; at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
    /// How many deliveries were given up in all (`abandoned` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_count: Option<usize>,
    /// The purge's history entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<i64>,
    /// The entry in the console's history (`CONSOLE_URL` and `/#/history/{entry}`, which opens
    /// onto it; the history page when there is no one entry), when `CONSOLE_URL` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    /// The trace of the purge or redelivery run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// A link to that trace (`TRACE_URL_TEMPLATE`), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
    /// Notifications of this kind held back since the last one sent (at most
    /// `NOTIFY_PER_MINUTE` a minute are sent): this one stands for them too.
    #[serde(default)]
    pub held_back: u64,
    /// When the first of those held back happened, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_back_since: Option<i64>,
}

/// An instance (or upstream group) with failed or refused rows in a purge.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingInstance {
    /// The instance as the report names it.
    pub instance: String,
    /// Its `failed` rows.
    pub failed: usize,
    /// Its `rejected` rows.
    pub rejected: usize,
    /// The first row's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How sending notifications has gone over the last hour, across every isolate (`GET
/// /api/health`, when `NOTIFY_WEBHOOKS` is set).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyStatus {
    /// POSTs a webhook accepted (2xx) in the last hour.
    pub sent: u64,
    /// POSTs that failed (unreachable, timed out, not 2xx) in the last hour.
    pub failed: u64,
    /// Notifications held back in the last hour (over `NOTIFY_PER_MINUTE`), each summarised
    /// in the next one of its kind.
    pub held_back: u64,
    /// When the last failure in that hour happened, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_at: Option<i64>,
    /// Why it failed (never the URL, which is a secret): for authenticated callers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
